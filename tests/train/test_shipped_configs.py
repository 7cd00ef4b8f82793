"""Smoke trainings of every shipped config (a few hundred steps): the pipeline runs end to end on
the real environments. Nothing here checks that a policy learned: that is ``robot-rl bench train``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robot_rl import runs as rd
from robot_rl.train.config import load_config
from robot_rl.train.trainer import train

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for p in (ROOT / "launch").glob("*.yaml") if not p.name.startswith(("deploy", "sweep")))

#: Budget-shrinking overrides per algorithm (same code paths, fewer and smaller updates).
SMALL = {
    "ppo": ["algo.kwargs.n_steps=32", "algo.kwargs.batch_size=64", "algo.kwargs.n_epochs=2"],
    "sac": ["algo.kwargs.learning_starts=100", "algo.kwargs.buffer_size=2000", "algo.kwargs.batch_size=32"],
    "td3": ["algo.kwargs.learning_starts=100", "algo.kwargs.buffer_size=2000", "algo.kwargs.batch_size=32"],
    "tqc": ["algo.kwargs.learning_starts=250", "algo.kwargs.buffer_size=2000", "algo.kwargs.batch_size=32"],
    "dqn": ["algo.kwargs.learning_starts=100", "algo.kwargs.buffer_size=2000", "algo.kwargs.batch_size=32"],
}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_smoke_train_and_load(path: Path, tmp_path: Path) -> None:
    algo = load_config(path).algo.name
    n_envs = load_config(path).env.n_envs
    steps = max(300, 32 * n_envs * 2) if algo == "ppo" else 400
    overrides = [
        f"train.total_timesteps={steps}",
        f"train.checkpoint_freq={steps // 2}",
        f"train.eval_freq={steps}",
        "train.eval_episodes=1",
        *SMALL[algo],
    ]
    if load_config(path).train.demo_episodes:
        overrides += ["train.demo_episodes=3", "train.bc_epochs=1"]
    if load_config(path).distill.enabled:  # one tiny DAgger iteration fills the budget
        overrides += [f"distill.steps_per_iteration={steps}", "distill.iterations=1", "distill.epochs=1"]
        overrides += ["distill.eval_episodes=1"]
    cfg = load_config(path, overrides)
    out = train(cfg, tmp_path / cfg.name, f"smoke {path.name}")
    assert out.status == "finished" and out.num_timesteps >= steps
    info = json.loads((tmp_path / cfg.name / "run.json").read_text())
    assert info["env_id"] == cfg.env.id and info["algo"] == algo
    assert info["goal_env"] == cfg.env.id.endswith("GoalGoal-v0".replace("GoalGoal", "GraspGoal"))
    loaded = rd.load_run(tmp_path / cfg.name)
    assert (loaded.vecnormalize is not None) == cfg.env.normalize.enabled
    assert out.eval is not None and out.eval["episodes"] == 1
    metrics = out.eval["metrics"]
    assert "success" in metrics and ("spl" in metrics) == ("Nav" in cfg.env.id)
