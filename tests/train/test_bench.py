"""``robot-rl bench train`` on a tiny Pendulum config: the table, the figure files and the curves."""

from __future__ import annotations

import json
from pathlib import Path

from robot_rl.cli import main
from tests.train.conftest import pendulum_config


def test_bench_train_writes_table_json_and_curves(tmp_path: Path, write_config, capsys) -> None:
    config = write_config(pendulum_config(total_timesteps=400, eval_freq=200))
    out = tmp_path / "results"
    code = main(["bench", "train", str(config), "--episodes", "2", "--runs-dir", str(tmp_path / "runs"),
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    row = json.loads((out / "figures" / "pend.json").read_text())
    assert row["algo"] == "sac" and row["episodes"] == 2 and row["num_timesteps"] == 400
    assert row["solved_step"] == -1  # Pendulum reports no success: never "solved"
    assert row["timing"]["gradient_s"] > 0 and len(row["load_average"]) == 3
    table = (out / "train_bench.md").read_text()
    assert "| pend | Pendulum-v1 | sac | 0.000 (" in table and "not reached" in table
    assert (out / "train_curves.png").stat().st_size > 10_000
    assert "train_bench.md" in capsys.readouterr().out


def test_bench_train_reports_a_dagger_run_and_its_further_held_out_sets(tmp_path: Path, write_config) -> None:
    from tests.train.test_dagger import distill_config

    raw = distill_config(iterations=2)
    raw["name"] = "peek"
    raw["train"].update(success_threshold=0.0, report_env_kwargs=[{"tolerance": 2.0}])
    out = tmp_path / "results"
    code = main(["bench", "train", str(write_config(raw)), "--episodes", "4", "--runs-dir",
                 str(tmp_path / "runs"), "--out", str(out)])  # fmt: skip
    assert code == 0
    row = json.loads((out / "figures" / "peek.json").read_text())
    distill = row["timing"]["distill"]
    (first,) = distill["history"]  # threshold 0 with stop_on_success: DAgger stops after iteration 1
    assert distill["stopped_on_success"] and row["solved_step"] == first["num_timesteps"] > 0
    assert row["num_timesteps"] == first["num_timesteps"]  # and PPO does not fine-tune the rest
    assert 0 < first["elapsed_s"] <= row["solved_wall_s"] <= row["wall_time_s"]
    (report,) = row["reports"]
    assert report["env_kwargs"] == {"tolerance": 2.0} and report["episodes"] == 4
    assert report["success_rate"] == 1.0  # every end point is within 2 of the goal on [-1, 1]
    table = (out / "train_bench.md").read_text()
    assert "; tolerance=2.0 1.000 (" in table and "(DAgger)" in table
