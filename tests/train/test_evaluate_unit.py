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


def test_selection_episodes_are_recorded_and_evaluating_on_them_is_refused() -> None:
    from robot_rl.commands_evaluate import selection_overlap
    from robot_rl.train.config import config_from_dict
    from robot_rl.train.trainer import selection_episodes

    cfg = config_from_dict(
        {
            "name": "g",
            "env": {"id": "Pendulum-v1", "kwargs": {"g": 9.81}, "eval_kwargs": {"g": 10.0}},
            "train": {"eval_seed": 1_000_000, "eval_episodes": 30, "eval_freq": 100},
        }
    )
    sel = selection_episodes(cfg)
    assert sel == {"seed": 1_000_000, "episodes": 30, "env_kwargs": {"g": 10.0}}
    # the default held-out seeds never overlap; the selection seeds do, at either end
    assert selection_overlap(sel, {"g": 10.0}, 2_000_000, 200) is None
    assert selection_overlap(sel, {"g": 10.0}, 1_000_029, 5) == "seeds 1000000..1000029 with {'g': 10.0}"
    assert selection_overlap(sel, {"g": 10.0}, 999_990, 11) is not None
    assert selection_overlap(sel, {"g": 10.0}, 999_990, 10) is None
    # other env kwargs (navigation's test split vs its val-split selection) are other episodes
    assert selection_overlap(sel, {"g": 9.81}, 1_000_000, 30) is None
    assert selection_overlap(None, {"g": 10.0}, 1_000_000, 30) is None
    no_eval = selection_episodes(
        config_from_dict({"name": "g", "env": {"id": "Pendulum-v1"}, "train": {"eval_freq": 0}})
    )
    assert no_eval["episodes"] == 0 and selection_overlap(no_eval, {}, 1_000_000, 10) is None


def test_evaluate_refuses_the_selection_episodes_unless_asked(tmp_path, capsys) -> None:
    import json

    from robot_rl.cli import main
    from robot_rl.train.config import config_from_dict
    from robot_rl.train.trainer import train

    cfg = config_from_dict(
        {
            "name": "p",
            "env": {"id": "Pendulum-v1"},
            "algo": {"name": "ppo", "kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 1}},
            "train": {
                "total_timesteps": 64,
                "eval_freq": 64,
                "eval_episodes": 2,
                "eval_seed": 500,
                "log_interval_s": 60,
            },
        }
    )
    run = tmp_path / "run"
    train(cfg, run, command="test")
    assert json.loads((run / "run.json").read_text())["selection"]["seed"] == 500
    assert main(["evaluate", str(run), "--episodes", "2", "--seed", "501"]) == 2
    assert "overlap the episodes the model was selected on (seeds 500..501" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--episodes", "2", "--seed", "501", "--on-selection-episodes"]) == 0
    assert "ON THE SELECTION EPISODES" in capsys.readouterr().out
    assert json.loads((run / "eval" / "summary.json").read_text())["selection_episodes"] is True
    assert main(["evaluate", str(run), "--episodes", "2"]) == 0  # default seeds: held out
    assert json.loads((run / "eval" / "summary.json").read_text())["selection_episodes"] is False
