"""``robot-rl demo`` with a tiny budget: train, evaluate (with a GIF), export and verify, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robot_rl.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # ~25 s on an idle 2-core machine (export + C build + verify), 70 s under load
def test_tiny_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    args = [
        "demo", "--config", str(ROOT / "launch" / "grasp_ppo.yaml"), "--timesteps", "256",
        "--run-dir", str(run), "--export-dir", str(bundle), "--episodes", "2", "--verify-episodes", "1",
        "--set", "algo.kwargs.n_steps=16", "--set", "algo.kwargs.batch_size=64",
        "--set", "algo.kwargs.n_epochs=1",
        "--set", "train.demo_episodes=2", "--set", "train.bc_epochs=1", "--set", "train.eval_episodes=1",
        "--set", "train.eval_freq=128",
    ]  # fmt: skip
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "== robot-rl demo summary ==" in out and f"run:    {run}" in out
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
    summary = json.loads((run / "eval" / "summary.json").read_text())
    assert summary["episodes"] == 2
    gif = run / "eval" / "episodes.gif"
    assert gif.read_bytes()[:6] == b"GIF89a" and f"video:  {gif}" in out
    assert "bundle: " in out and ("[verified]" in out or "skipped" in out)
    # a second demo reuses the finished run instead of retraining
    assert main(args) == 0
    assert "reusing the finished run" in capsys.readouterr().out
