"""Fixtures: tiny SB3 runs (a few hundred steps) saved in the run-directory layout, and bundles."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import torch

from tests.deploy.toy_envs import TOY_GOAL_ID, register_toy_envs

register_toy_envs()
torch.set_num_threads(1)

#: name -> (algo, env id, normalize, timesteps)
RUNS: dict[str, tuple[str, str, bool, int]] = {
    "ppo_norm": ("ppo", "Pendulum-v1", True, 256),
    "ppo_plain": ("ppo", "Pendulum-v1", False, 256),
    "sac_norm": ("sac", "Pendulum-v1", True, 300),
    "td3": ("td3", "Pendulum-v1", False, 300),
    "tqc_norm": ("tqc", "Pendulum-v1", True, 300),
    "dqn": ("dqn", "CartPole-v1", False, 300),
    "ppo_discrete_norm": ("ppo", "CartPole-v1", True, 256),
    "her_goal_norm": ("sac", TOY_GOAL_ID, True, 300),
    "grasp_ppo_norm": ("ppo", "robot_rl/PandaGrasp-v0", True, 256),
}


def _model(algo: str, env: Any) -> Any:
    from sb3_contrib import TQC
    from stable_baselines3 import DQN, PPO, SAC, TD3, HerReplayBuffer

    small = {"net_arch": [32, 32]}
    if algo == "ppo":
        return PPO("MlpPolicy", env, n_steps=128, batch_size=64, n_epochs=1, policy_kwargs=small, seed=0)
    if algo == "dqn":
        return DQN("MlpPolicy", env, learning_starts=100, policy_kwargs=small, seed=0)
    cls = {"sac": SAC, "td3": TD3, "tqc": TQC}[algo]
    kwargs: dict[str, Any] = {"learning_starts": 100, "policy_kwargs": dict(small), "seed": 0}
    if algo == "tqc":
        kwargs["policy_kwargs"]["n_critics"] = 2
    if isinstance(env.observation_space, gym.spaces.Dict):
        kwargs["replay_buffer_class"] = HerReplayBuffer
        kwargs["replay_buffer_kwargs"] = {"n_sampled_goal": 2, "goal_selection_strategy": "future"}
        return cls("MultiInputPolicy", env, **kwargs)
    return cls("MlpPolicy", env, **kwargs)


def train_run(run_dir: Path, algo: str, env_id: str, normalize: bool, steps: int) -> Path:
    """Train briefly and save RUN_DIR exactly as the run-directory contract says."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    run_dir.mkdir(parents=True, exist_ok=True)
    venv: Any = DummyVecEnv([lambda: gym.make(env_id)])
    if normalize:
        venv = VecNormalize(venv, norm_obs=True, norm_reward=True, clip_obs=5.0)
    model = _model(algo, venv)
    model.learn(steps)
    model.save(run_dir / "model.zip")
    if normalize:
        venv.save(str(run_dir / "vecnormalize.pkl"))
    meta = {
        "schema": 1,
        "env_id": env_id,
        "env_kwargs": {},
        "algo": algo,
        "seed": 0,
        "num_timesteps": steps,
        "status": "finished",
        "normalize": normalize,
        "goal_env": env_id == TOY_GOAL_ID,
    }
    (run_dir / "run.json").write_text(json.dumps(meta))
    (run_dir / "eval.json").write_text(json.dumps({"success_rate": 0.0, "episodes": 1, "return_mean": -1.0}))
    venv.close()
    return run_dir


#: Safe actions of the third-party envs (robot_rl envs declare their own): zero torque / force.
SAFE_ACTIONS: dict[str, Any] = {"Pendulum-v1": [0.0], "CartPole-v1": 0, TOY_GOAL_ID: [0.0, 0.0]}


def safe_action_for(env_id: str) -> Any:
    """What ``export_policy(safe_action=...)`` needs for ``env_id`` (None for robot_rl envs)."""
    return SAFE_ACTIONS.get(env_id)


@pytest.fixture(scope="session")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``make_run(name)`` -> run dir of :data:`RUNS` ``[name]`` (trained once per session)."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            algo, env_id, normalize, steps = RUNS[name]
            cache[name] = train_run(tmp_path_factory.mktemp(name), algo, env_id, normalize, steps)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def make_bundle(
    tmp_path_factory: pytest.TempPathFactory, make_run: Callable[[str], Path]
) -> Callable[[str], Path]:
    """``make_bundle(name)`` -> exported bundle of run ``name`` (all formats, once per session)."""
    from robot_rl.deploy.export import export_policy

    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            env_id = RUNS[name][1]
            out = tmp_path_factory.mktemp(f"bundle_{name}") / "b"
            cache[name] = export_policy(make_run(name), out, safe_action=safe_action_for(env_id))
        return cache[name]

    return get
