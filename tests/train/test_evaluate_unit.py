"""Evaluation helpers: Wilson interval values, summaries, video and env-argument checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robot_rl.train.evaluate import accepts_kwarg, format_summary, summarize, wilson_interval, write_video


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [(0, 10, 0.0, 0.27753), (10, 10, 0.72247, 1.0), (5, 10, 0.23659, 0.76341), (180, 200, 0.85059, 0.93433)],
)
def test_wilson_interval_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson_interval(3, 2)


def test_summary_uses_final_is_success_not_a_metric_of_the_same_name() -> None:
    rows = [
        {"return": 1.0, "length": 10, "success": True, "metric_success": 1.0, "metric_spl": 0.8},
        {"return": -1.0, "length": 20, "success": False, "metric_success": 1.0, "metric_spl": float("nan")},
    ]
    s = summarize(rows, ("success", "spl"))
    assert s["success_rate"] == 0.5 and s["episodes"] == 2
    assert s["return_mean"] == 0.0 and s["return_std"] == 1.0 and s["length_mean"] == 15.0
    assert s["metrics"] == {"success": 1.0, "spl": 0.8}  # NaN entries are left out of the mean
    assert "success rate  0.500" in format_summary(s)


def test_write_video_checks(tmp_path: Path) -> None:
    frames = {0: [np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)]}
    gif = write_video(frames, tmp_path / "a.gif", fps=10)
    assert gif.read_bytes()[:6] == b"GIF89a"
    with pytest.raises(ValueError, match=r"must end in \.gif or \.mp4"):
        write_video(frames, tmp_path / "a.avi", fps=10)
    with pytest.raises(ValueError, match="no frames"):
        write_video({}, tmp_path / "b.gif", fps=10)


def test_accepts_kwarg() -> None:
    import robot_rl  # noqa: F401

    assert accepts_kwarg("robot_rl/MobileNav-v0", "split")
    assert not accepts_kwarg("robot_rl/PandaGrasp-v0", "split")


def test_reported_episodes_are_never_the_selection_episodes() -> None:
    """evaluate/demo/bench report on seeds disjoint from every shipped config's selection seeds."""
    from robot_rl.resources import shipped_configs
    from robot_rl.train.config import load_config
    from robot_rl.train.evaluate import DEFAULT_EVAL_SEED

    reported = range(DEFAULT_EVAL_SEED, DEFAULT_EVAL_SEED + 10_000)
    configs = shipped_configs("train")
    assert configs
    for shipped in configs:
        t = load_config(shipped.path).train
        selected = range(t.eval_seed, t.eval_seed + t.eval_episodes)
        assert not set(selected) & set(reported), shipped.name
