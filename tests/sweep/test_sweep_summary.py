"""Ranking, the best config as a launch file, and the error without Ray. No Ray needed."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from robot_rl.sweep.config import load_sweep
from robot_rl.sweep.summary import TrialRow, metric_column, rank_configs, write_best
from robot_rl.train.config import load_config
from tests.sweep.conftest import write_sweep


def row(trial: str, lr: float, seed: int, metric: float) -> TrialRow:
    params = {"algo.kwargs.learning_rate": lr}
    return TrialRow(trial, params, seed, "finished", metric, metric, 1024, 1.0, 1, 0, Path(trial))


def test_configs_rank_by_mean_over_seeds_with_spread() -> None:
    rows = [row("a", 1e-3, 0, 0.9), row("b", 1e-3, 1, 0.5), row("c", 3e-4, 0, 0.8), row("d", 3e-4, 1, 0.8),
            row("e", 1e-2, 0, math.nan)]  # fmt: skip
    best, second, never = rank_configs(rows, "max")
    assert best.params == {"algo.kwargs.learning_rate": 3e-4} and best.mean == pytest.approx(0.8)
    assert best.std == pytest.approx(0.0) and best.n == 2 and best.trials == ["c", "d"]
    assert second.mean == pytest.approx(0.7) and second.std == pytest.approx(math.sqrt(0.08))
    assert math.isnan(never.mean) and never.n == 0  # never evaluated: ranked last, not first
    assert rank_configs(rows, "min")[0].params == {"algo.kwargs.learning_rate": 1e-3}


def test_best_yaml_is_an_ordinary_training_config(tmp_path: Path) -> None:
    cfg = load_sweep(
        write_sweep(tmp_path, {"params": {"algo.kwargs.learning_rate": [1e-3, 3e-4]}, "seeds": 2})
    )
    best = rank_configs([row("c", 3e-4, 0, 0.8), row("d", 3e-4, 1, 0.7)], "max")[0]
    write_best(tmp_path / "best.yaml", cfg, best)
    text = (tmp_path / "best.yaml").read_text()
    assert text.startswith("# Best configuration of sweep pend_sweep") and "0.75 +- 0.071" in text
    loaded = load_config(tmp_path / "best.yaml")
    assert loaded.name == "pend_sweep_best" and loaded.algo.kwargs["learning_rate"] == 3e-4
    assert loaded.train.seed == 0 and loaded.algo.kwargs["n_epochs"] == 2


def test_metric_columns_of_evaluations_csv() -> None:
    assert metric_column("success_rate") == "success_rate" and metric_column("spl") == "metric_spl"


def test_without_ray_the_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from robot_rl.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as without the extra
    path = write_sweep(tmp_path, {"seeds": 2})
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert (
        "robot-rl sweep: error: robot-rl sweep needs Ray Tune and Optuna: pip install 'robot_rl[ray]'" in err
    )
    assert not (tmp_path / "out").exists()


def test_sweep_command_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from robot_rl.cli import main

    assert main(["sweep", "--report", "--out", str(tmp_path)]) == 2
    assert f"{tmp_path / 'sweep.yaml'} not found: is {tmp_path} a sweep directory?" in capsys.readouterr().err
    assert main(["sweep", "--resume", "--out", str(tmp_path / "none")]) == 2
    assert "not found" in capsys.readouterr().err
    path = write_sweep(tmp_path, {"seeds": 2})
    assert main(["sweep", str(path), "--max-concurrent", "-1"]) == 2
    assert "--max-concurrent=-1; expected an integer >= 0" in capsys.readouterr().err
    assert main(["sweep", str(path), "--set", "seeds=0", "--out", str(tmp_path / "o")]) == 2
    assert "seeds=0 is not accepted" in capsys.readouterr().err and not (tmp_path / "o").exists()
