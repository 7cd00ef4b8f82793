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
    err = capsys.readouterr().err
    assert f"sweep state '{tmp_path / 'sweep.yaml'}' not found (is {tmp_path} a sweep directory?)" in err
    assert main(["sweep", "--resume", "--out", str(tmp_path / "none")]) == 2
    assert "not found" in capsys.readouterr().err
    path = write_sweep(tmp_path, {"seeds": 2})
    assert main(["sweep", str(path), "--max-concurrent", "-1"]) == 2
    assert "--max-concurrent=-1; expected an integer >= 0" in capsys.readouterr().err
    assert main(["sweep", str(path), "--set", "seeds=0", "--out", str(tmp_path / "o")]) == 2
    assert "seeds=0 is not accepted" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_a_configuration_proposed_twice_counts_each_seed_once() -> None:
    rows = [row("a", 1e-3, 0, 0.9), row("b", 1e-3, 1, 0.5), row("c", 1e-3, 0, 0.9), row("d", 1e-3, 1, 0.5)]
    (only,) = rank_configs(rows, "max")
    assert only.n == 2 and only.trials == ["a", "b"] and only.std == pytest.approx(math.sqrt(0.08))


def test_flags_that_a_resume_cannot_honour_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from robot_rl.cli import main

    assert main(["sweep", "--resume", "--out", str(tmp_path), "--set", "seeds=3"]) == 2
    assert "--set and --max-concurrent are not accepted with --resume" in capsys.readouterr().err
    path = write_sweep(tmp_path, {"seeds": 2})
    assert main(["sweep", str(path), "--address", "auto", "--cpus", "2"]) == 2
    assert "--cpus sizes a local Ray" in capsys.readouterr().err


def test_overwrite_deletes_only_sweep_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from robot_rl.cli import main

    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    path = write_sweep(tmp_path, {"seeds": 2})
    assert main(["sweep", str(path), "--out", str(precious), "--overwrite", "--cpus", "1"]) == 2
    assert (
        "holds no sweep (sweep.yaml); --overwrite deletes only sweep directories" in capsys.readouterr().err
    )
    assert (precious / "chapter1.tex").read_text() == "..."


def test_schedulers_and_search_algorithms_tune_gets(tmp_path: Path) -> None:
    from ray.tune.schedulers import ASHAScheduler, MedianStoppingRule
    from ray.tune.search import Repeater

    from robot_rl.sweep.runner import _scheduler, _search

    lr = {"algo.kwargs.learning_rate": {"loguniform": [1e-4, 1e-2]}}
    by_median = {"type": "median", "grace_period": 256}
    median = load_sweep(
        write_sweep(tmp_path, {"params": lr, "seeds": 3, "samples": 4, "scheduler": by_median})
    )
    rule = _scheduler(median)
    assert isinstance(rule, MedianStoppingRule) and rule._time_attr == "num_timesteps"
    assert rule._grace_period == 256
    space, searcher, num_samples = _search(median)  # optuna by default for a range
    assert isinstance(searcher, Repeater) and searcher.repeat == 3 and num_samples == 12
    assert set(space["params"]) == {"algo.kwargs.learning_rate"}
    grid = {"algo.kwargs.n_epochs": [1, 2]}
    by_asha = {"type": "asha", "grace_period": 256}
    asha = load_sweep(write_sweep(tmp_path, {"params": grid, "seeds": 2, "scheduler": by_asha}))
    sched = _scheduler(asha)
    assert isinstance(sched, ASHAScheduler) and sched._time_attr == "num_timesteps" and sched._max_t == 1024
    space, searcher, num_samples = _search(asha)  # a grid: configurations x seed indices, listed
    assert searcher is None and num_samples == 1
    assert space["params"] == {"grid_search": [{"algo.kwargs.n_epochs": 1}, {"algo.kwargs.n_epochs": 2}]}
    assert space["seed_index"] == {"grid_search": [0, 1]}
