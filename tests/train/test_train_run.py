"""``robot-rl train`` end to end on Pendulum: the run directory contract, load_run, evaluate, plot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from robot_rl import runs as rd
from robot_rl.cli import main
from robot_rl.train.config import config_from_dict
from robot_rl.train.trainer import train
from tests.train.conftest import pendulum_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "pend"
    train(config_from_dict(pendulum_config()), run, "robot-rl train pend.yaml")
    return run


def test_run_directory_contract(trained: Path) -> None:
    info = json.loads((trained / "run.json").read_text())
    assert info["schema"] == 1 and info["env_id"] == "Pendulum-v1" and info["algo"] == "sac"
    assert info["status"] == "finished" and info["num_timesteps"] == 400
    assert info["normalize"] is True and info["goal_env"] is False and info["seed"] == 0
    for name in ("config.yaml", "command.txt", "versions.json", "model.zip", "vecnormalize.pkl",
                 "best_model.zip", "best_vecnormalize.pkl", "eval.json"):  # fmt: skip
        assert (trained / name).is_file(), name
    versions = json.loads((trained / "versions.json").read_text())
    assert {"python", "torch", "stable_baselines3", "pybullet", "gymnasium", "robot_rl", "git_commit"} <= set(
        versions
    )
    assert (trained / "command.txt").read_text().strip() == "robot-rl train pend.yaml"
    ev = json.loads((trained / "eval.json").read_text())
    assert ev["episodes"] == 2 and 0.0 <= ev["success_rate"] <= 1.0 and "return_mean" in ev
    assert (trained / "logs" / "progress.csv").is_file()
    assert list((trained / "logs").glob("events.out.tfevents.*"))
    ckpts = sorted((trained / "checkpoints").glob("step_*"))
    assert [c.name for c in ckpts] == ["step_0000000200", "step_0000000400"]
    assert (ckpts[-1] / "replay_buffer.pkl").is_file() and not list((trained / "checkpoints").glob(".tmp*"))
    assert info["timing"]["rollout_s"] > 0 and info["timing"]["gradient_s"] > 0


def test_monitor_csv_records_is_success(trained: Path) -> None:
    monitor = next((trained / "logs" / "monitor").rglob("env0.monitor.csv"))
    header = monitor.read_text().splitlines()[1]
    assert header.split(",") == ["r", "l", "t", "is_success"]


def test_load_run_best_and_final(trained: Path) -> None:
    final = rd.load_run(trained, which="final")
    assert final.model_path.name == "model.zip" and final.num_timesteps == 400
    assert final.vecnormalize is not None and final.vecnormalize.obs_rms.mean.shape == (3,)
    best = rd.load_run(trained)
    assert best.model_path.name == "best_model.zip" and best.eval is not None
    bare = rd.load_run(trained / "model.zip")
    assert bare.run_dir == trained and bare.vecnormalize is not None
    action, _ = final.model.predict(np.zeros(3, np.float32), deterministic=True)
    assert action.shape == (1,)


def test_load_run_errors(trained: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rd.load_run(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match=r"has no model\.zip"):
        rd.load_run(tmp_path)
    lone = tmp_path / "lone.zip"
    lone.write_bytes((trained / "model.zip").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"run\.json not found"):
        rd.load_run(lone)
    with pytest.raises(ValueError, match="which='last'"):
        rd.load_run(trained, which="last")


def test_existing_run_dir_is_not_overwritten(trained: Path) -> None:
    before = (trained / "model.zip").stat().st_mtime_ns
    with pytest.raises(ValueError, match="already exists; pass --resume"):
        train(config_from_dict(pendulum_config()), trained, "again")
    assert (trained / "model.zip").stat().st_mtime_ns == before


def test_bad_config_writes_nothing(tmp_path: Path, write_config) -> None:
    raw = pendulum_config()
    raw["algo"]["kwargs"]["batch_sise"] = 8
    run = tmp_path / "bad_run"
    code = main(["train", str(write_config(raw)), "--run-dir", str(run)])
    assert code == 2 and not run.exists()
    raw = pendulum_config()
    raw["env"]["kwargs"] = {"gravity": "strong", "no_such_arg": 1}
    code = main(["train", str(write_config(raw)), "--run-dir", str(run)])
    assert code == 2 and not run.exists()


def test_unknown_algo_kwarg_message(tmp_path: Path, write_config, capsys: pytest.CaptureFixture[str]) -> None:
    raw = pendulum_config()
    raw["algo"]["kwargs"]["batch_sise"] = 8
    main(["train", str(write_config(raw)), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert "unknown key algo.kwargs.batch_sise for sac; accepted keys:" in err and "batch_size" in err


def test_evaluate_cli_writes_csv_and_json(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json, out_csv = tmp_path / "s.json", tmp_path / "e.csv"
    code = main(["evaluate", str(trained), "--episodes", "3", "--json", str(out_json), "--csv", str(out_csv)])
    assert code == 0
    summary = json.loads(out_json.read_text())
    assert summary["episodes"] == 3 and summary["deterministic"] is True and summary["seed"] == 2_000_000
    lo, hi = summary["success_ci95"]
    assert 0.0 <= lo <= summary["success_rate"] <= hi <= 1.0
    rows = list(csv.DictReader(out_csv.open()))
    assert [int(r["seed"]) for r in rows] == [2_000_000, 2_000_001, 2_000_002]
    assert all(int(r["length"]) == 200 for r in rows)
    assert np.mean([float(r["return"]) for r in rows]) == pytest.approx(summary["return_mean"])
    assert "95% Wilson CI" in capsys.readouterr().out


def test_evaluate_is_deterministic(trained: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main(["evaluate", str(trained), "--episodes", "2", "--csv", str(tmp_path / f"{name}.csv"),
                     "--json", str(tmp_path / f"{name}.json")]) == 0  # fmt: skip
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_plot_cli(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "curves.png"
    assert main(["plot", str(trained), str(trained), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert main(["plot", str(tmp_path), "--out", str(out)]) == 2  # no evaluations there


def test_an_error_during_training_marks_the_run_failed_and_closes_the_envs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stable_baselines3 import SAC

    assert pendulum_config()["algo"]["name"] == "sac"
    closed: list[bool] = []

    def broken_learn(self: SAC, *args: object, **kwargs: object) -> None:
        original_close = self.get_env().close

        def close() -> None:
            closed.append(True)
            original_close()

        self.get_env().close = close  # type: ignore[method-assign]
        raise RuntimeError("simulated NaN in the critic")

    monkeypatch.setattr(SAC, "learn", broken_learn)
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated NaN"):
        train(config_from_dict(pendulum_config()), run, "robot-rl train pend.yaml")
    info = json.loads((run / rd.RUN_JSON).read_text())
    assert info["status"] == "failed" and info["error"] == "RuntimeError: simulated NaN in the critic"
    assert closed == [True]
