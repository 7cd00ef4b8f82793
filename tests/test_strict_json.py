"""Every JSON robot_rl writes is strict JSON; episode-metric means skip identifiers and average
time_to_goal over successful episodes only."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from robot_rl.jsonio import dumps_strict, loads_strict
from robot_rl.runs import write_json
from robot_rl.train.callbacks import TrainState, load_state
from robot_rl.train.evaluate import summarize
from robot_rl.train.sb3 import METRIC_PREFIX

KEYS = ("spl", "time_to_goal", "layout_seed")


def _row(success: bool, spl: float, ttg: float, layout: int) -> dict:
    values = {"spl": spl, "time_to_goal": ttg, "layout_seed": float(layout)}
    return {"success": success, "return": 1.0, "length": 10} | {
        METRIC_PREFIX + k: v for k, v in values.items()
    }


def test_means_skip_identifiers_and_time_to_goal_counts_successes_only() -> None:
    rows = [
        _row(True, 0.9, 4.0, 1_100_001),
        _row(False, 0.0, math.nan, 1_100_002),
        _row(True, 0.8, 6.0, 1_100_003),
    ]
    metrics = summarize(rows, KEYS)["metrics"]
    assert "layout_seed" not in metrics
    assert metrics["time_to_goal"] == pytest.approx(5.0)  # (4 + 6) / 2, not / 3
    assert metrics["spl"] == pytest.approx(1.7 / 3)


def test_no_success_gives_null_not_nan_in_the_written_files(tmp_path: Path) -> None:
    summary = summarize([_row(False, 0.0, math.nan, 1_100_001)] * 2, KEYS)
    assert math.isnan(summary["metrics"]["time_to_goal"])
    write_json(tmp_path / "summary.json", summary)
    text = (tmp_path / "summary.json").read_text()
    assert loads_strict(text)["metrics"]["time_to_goal"] is None
    assert "NaN" not in dumps_strict({"x": [math.inf, -math.inf, math.nan]})


def test_checkpoint_state_before_any_evaluation_round_trips_through_strict_json(tmp_path: Path) -> None:
    state = TrainState()  # best_return = -inf
    (tmp_path / "state.json").write_text(dumps_strict({**state.__dict__, "num_timesteps": 5}))
    loads_strict((tmp_path / "state.json").read_text())
    assert load_state(tmp_path) == state
