"""The real pipeline: robot-rl train (the training engineer's run dir) -> export -> verify -> deploy.

Runs in CI at tiny scale (512 env steps, a one-episode warm start): what it guards is the
contract between the trainer's run directory and the exporter, not the policy's quality.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from robot_rl.cli import main


def test_train_export_verify_deploy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    train = ["train", "grasp_ppo", "--run-dir", str(run), "--timesteps", "512"]
    overrides = ["--set", "env.n_envs=1", "--set", "train.eval_freq=256", "--set", "train.eval_episodes=1"]
    overrides += ["--set", "algo.kwargs.n_steps=256", "--set", "algo.kwargs.batch_size=64"]
    overrides += ["--set", "train.demo_episodes=1", "--set", "train.bc_epochs=1"]  # a tiny warm start
    assert main([*train, *overrides]) == 0
    assert main(["export", str(run), "--out", str(bundle)]) == 0
    assert main(["verify", str(bundle), "--episodes", "3", "--latency-calls", "1000"]) == 0
    assert "OK: bundle verified" in capsys.readouterr().out
    assert main(["deploy", str(bundle), "--duration", "1", "--inject", "stale@10:20"]) == 0
    out = capsys.readouterr().out
    assert "latched: ['WATCHDOG_STOP']" in out and "task:" in out
