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
    # the same figures as a baseline: compare.md lists the config, before -> after
    assert main(["bench", "train", "--report-only", "--out", str(out), "--baseline", str(out)]) == 0
    assert "| pend | not reached -> not reached | - |" in (out / "compare.md").read_text()
    assert main(["bench", "train", "--report-only", "--out", str(out), "--baseline", str(tmp_path)]) == 2


def test_compare_table_before_after() -> None:
    from robot_rl.train.bench import compare_markdown

    def row(name: str, wall: float, step: int, timing: dict) -> dict:
        return {"name": name, "solved_wall_s": wall, "solved_step": step, "success_rate": 0.95,
                "success_ci95": [0.9, 0.97], "metrics": {"spl": 0.9}, "timing": timing,
                "load_average": [1.0, 1.0, 1.0]}  # fmt: skip

    t_before = {"rollout_s": 229.0, "gradient_s": 366.0, "eval_and_checkpoint_s": 119.0, "warm_start_s": 0.0}
    t_after = {"rollout_s": 20.0, "gradient_s": 200.0, "eval_and_checkpoint_s": 40.0, "warm_start_s": 0.0}
    text = compare_markdown(
        [row("nav_sac", 720.0, 60000, t_before), row("only_before", 1.0, 1, t_before)],
        [row("nav_sac", 360.0, 50000, t_after), row("only_after", 1.0, -1, t_after)],
    )
    lines = text.strip().splitlines()
    assert len(lines) == 3  # header, rule, the one config in both
    assert "| nav_sac | 12.0 min -> 6.0 min | x0.50 | 60000 -> 50000 |" in lines[2]
    assert "229 s / 366 s -> 20 s / 200 s" in lines[2] and "119 s / 0 s -> 40 s / 0 s" in lines[2]


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
