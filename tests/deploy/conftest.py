"""Fixtures: tiny SB3 runs (a few hundred steps) saved in the run-directory layout, and bundles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.deploy.toy_envs import TOY_DEPTH_ID, TOY_GOAL_ID, register_toy_envs

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
    "depth_ppo_norm": ("ppo", TOY_DEPTH_ID, True, 256),
    "depth_sac": ("sac", TOY_DEPTH_ID, False, 200),
    "grasp_depth_ppo": ("ppo", "robot_rl/PandaGrasp-v0", False, 128),
    "nav_dqn": ("dqn", "robot_rl/MobileNavDiscrete-v0", False, 200),
}
#: env kwargs of the runs that need them
RUN_ENV_KWARGS: dict[str, dict[str, Any]] = {"grasp_depth_ppo": {"obs_mode": "depth"}}
#: A small depth CNN for the toy depth runs (fast to train; the default layer types).
TOY_CNN: dict[str, Any] = {
    "features_extractor": "depth_cnn",
    "features_extractor_kwargs": {
        "channels": [4, 8],
        "kernels": [5, 3],
        "strides": [2, 2],
        "cnn_features": 16,
    },
}


def run_config(name: str, algo: str, env_id: str, normalize: bool, steps: int) -> dict[str, Any]:
    """The training config of a tiny run (what a user would write in a YAML file)."""
    kwargs: dict[str, Any] = {"learning_starts": 100}
    policy_kwargs: dict[str, Any] = {"net_arch": [32, 32]}
    if algo == "ppo":
        kwargs = {"n_steps": 128, "batch_size": 64, "n_epochs": 1}
    if algo == "tqc":
        policy_kwargs["n_critics"] = 2
    if env_id == TOY_DEPTH_ID or RUN_ENV_KWARGS.get(name, {}).get("obs_mode") == "depth":
        policy_kwargs.update(TOY_CNN)
        if algo != "ppo":
            kwargs.update(buffer_size=1000, batch_size=32)
    return {
        "name": name,
        "env": {
            "id": env_id,
            "kwargs": RUN_ENV_KWARGS.get(name, {}),
            "normalize": {"enabled": normalize, "clip_obs": 5.0},
        },
        "algo": {
            "name": algo,
            "kwargs": kwargs,
            "policy_kwargs": policy_kwargs,
            "her": {"enabled": env_id == TOY_GOAL_ID, "n_sampled_goal": 2},
        },
        "train": {
            "total_timesteps": steps,
            "eval_freq": steps,  # one evaluation at the end, so eval.json is the trainer's own
            "eval_episodes": 1,
            "checkpoint_freq": steps,
            "log_interval_s": 3600,
        },
    }


def train_run(
    run_dir: Path, algo: str, env_id: str, normalize: bool, steps: int, name: str | None = None
) -> Path:
    """Train briefly with ``robot-rl train``'s own trainer, so the run directory (run.json,
    config.yaml, eval.json, vecnormalize.pkl) is exactly what the exporter gets from a user."""
    from robot_rl.train.config import config_from_dict
    from robot_rl.train.trainer import train

    cfg = config_from_dict(run_config(name or run_dir.name, algo, env_id, normalize, steps))
    train(cfg, run_dir, command=f"tests/deploy/conftest.py {algo} {env_id}", overwrite=True)
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
            cache[name] = train_run(tmp_path_factory.mktemp(name), algo, env_id, normalize, steps, name)
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
