"""Seeded rollouts of every registered env with fixed random actions, for the golden behaviour test.

``tests/envs/test_golden_rollouts.py`` compares these rollouts with ``golden_rollouts.npz`` next to
this file, so a refactor that changes what an env observes, earns or ends is caught. First recorded
at commit 2ed6f1b (before the env constructors were restructured); re-recorded once, on purpose,
when the envs' solver iterations went from 50 to 20 (grasp) and 10 (navigation), a setting
checked by the fidelity guards (tests/envs/test_fidelity.py), and again when the grasp objects
became rigid bodies in maximal coordinates (robot_rl/envs/objects.py; guards checked against the
code before with ``robot-rl bench fidelity --reference``).

Regenerate (only when a behaviour change is intended, and say so in the commit)::

    .venv/bin/python tests/envs/golden_rollouts.py tests/envs/golden_rollouts.npz

The module imports nothing from ``tests`` so that it can record against another checkout of
``robot_rl`` (``PYTHONPATH=/path/to/old/checkout python tests/envs/golden_rollouts.py OUT``).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import robot_rl  # noqa: F401  (registers the ids)

GOLDEN = Path(__file__).with_suffix(".npz")

#: Control steps recorded per case; an episode that ends earlier is reset (with the env's own
#: generator) and the rollout goes on, so resets after a termination or truncation are covered.
STEPS = 60

#: (case name, env id, kwargs, reset seed). Short time limits so that truncation and the grasp
#: task's drop penalty (steps left) are exercised; the noisy variants cover observation noise,
#: action latency and lidar noise/dropout, which go through the env core's settings.
CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("grasp", "robot_rl/PandaGrasp-v0", {"max_episode_seconds": 2.0}, 3),
    ("grasp_dr", "robot_rl/PandaGrasp-v0", {"max_episode_seconds": 2.0, "domain_randomization": True}, 4),
    ("grasp_sparse", "robot_rl/PandaGrasp-v0", {"max_episode_seconds": 1.0, "reward_type": "sparse"}, 5),
    ("grasp_goal", "robot_rl/PandaGraspGoal-v0", {"max_episode_seconds": 2.0}, 6),
    ("nav", "robot_rl/MobileNav-v0", {"max_episode_seconds": 4.0}, 7),
    (
        "nav_noisy",
        "robot_rl/MobileNav-v0",
        {
            "max_episode_seconds": 3.0,
            "obs_noise_std": 0.01,
            "action_latency_steps": 2,
            "lidar_noise_std": 0.02,
            "lidar_dropout": 0.05,
            "map_aware": False,
        },
        8,
    ),
    ("nav_discrete", "robot_rl/MobileNavDiscrete-v0", {"max_episode_seconds": 4.0}, 9),
]

#: Envs that are only built (not stepped): their spaces and limits are compared. Camera images
#: are not recorded, TinyRenderer output is not part of the physics contract.
SPACE_ONLY_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("grasp_rgbd", "robot_rl/PandaGrasp-v0", {"obs_mode": "rgbd", "image_size": 36}),
    ("grasp_goal_rgbd", "robot_rl/PandaGraspGoal-v0", {"obs_mode": "rgbd", "image_size": 40}),
    ("grasp_fast", "robot_rl/PandaGrasp-v0", {"control_hz": 40.0, "physics_hz": 480.0}),
]


def describe_space(space: spaces.Space[Any]) -> str:
    """Type, shape, dtype and a hash of the bounds of a (Dict of) Box/Discrete space."""
    if isinstance(space, spaces.Dict):
        return "Dict(" + ", ".join(f"{k}: {describe_space(s)}" for k, s in space.spaces.items()) + ")"
    if isinstance(space, spaces.Box):
        bounds = hashlib.sha256(space.low.tobytes() + space.high.tobytes()).hexdigest()[:16]
        return f"Box({space.shape}, {space.dtype}, bounds {bounds})"
    if isinstance(space, spaces.Discrete):
        return f"Discrete({space.n}, start {space.start})"
    return repr(space)


def describe_env(env: gym.Env[Any, Any]) -> str:
    """What the constructor built: spaces, layouts, limits, rates and the settings it kept."""
    u: Any = env.unwrapped
    parts = [
        f"obs {describe_space(env.observation_space)}",
        f"action {describe_space(env.action_space)}",
        f"obs_layout {u.obs_layout.names}",
        f"action_layout {u.action_layout.names}",
        f"max_episode_steps {u.max_episode_steps}",
        f"dt {u.dt!r}",
        f"substeps {u.timing.substeps}",
        f"render_fps {u.metadata['render_fps']}",
        f"obs_noise_std {u.obs_noise_std!r}",
        f"action_latency_steps {u.action_latency_steps}",
        f"goal_env {hasattr(u, 'compute_reward')}",
    ]
    return "; ".join(parts)


def _flat(obs: Any) -> np.ndarray:
    if isinstance(obs, dict):
        return np.concatenate([np.asarray(obs[k], np.float64).ravel() for k in sorted(obs)])
    return np.asarray(obs, np.float64).ravel()


def _actions(env: gym.Env[Any, Any], seed: int) -> list[Any]:
    """Fixed random actions; Box entries reach beyond [-1, 1] so that clipping is exercised."""
    rng = np.random.default_rng(1000 + seed)
    space = env.action_space
    if isinstance(space, spaces.Discrete):
        return [int(a) for a in rng.integers(0, int(space.n), STEPS)]
    assert isinstance(space, spaces.Box)
    return list(rng.uniform(-1.2, 1.2, (STEPS, *space.shape)).astype(np.float32))


def rollout(env_id: str, kwargs: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """Reset with ``seed`` and take :data:`STEPS` steps; arrays named by what they hold."""
    env = gym.make(env_id, disable_env_checker=True, **kwargs)
    try:
        obs, _ = env.reset(seed=seed)
        observations, rewards, flags, metrics = [_flat(obs)], [], [], []
        for action in _actions(env, seed):
            obs, reward, terminated, truncated, info = env.step(action)
            observations.append(_flat(obs))
            rewards.append(reward)
            flags.append((terminated, truncated, bool(info["is_success"])))
            if terminated or truncated:
                metrics.extend(float(info["metrics"][k]) for k in sorted(info["metrics"]))
                obs, _ = env.reset()
                observations.append(_flat(obs))
        return {
            "description": np.array(describe_env(env)),
            "observations": np.concatenate(observations).astype(np.float32),
            "rewards": np.array(rewards, np.float64),
            "flags": np.array(flags, np.bool_),
            "metrics": np.array(metrics, np.float64),
        }
    finally:
        env.close()


def built(env_id: str, kwargs: dict[str, Any]) -> str:
    """:func:`describe_env` of a freshly built env."""
    env = gym.make(env_id, disable_env_checker=True, **kwargs)
    try:
        return describe_env(env)
    finally:
        env.close()


def record() -> dict[str, np.ndarray]:
    """Every case, as the flat ``name/array`` dict stored in the golden file."""
    out: dict[str, np.ndarray] = {}
    for name, env_id, kwargs, seed in CASES:
        for key, value in rollout(env_id, kwargs, seed).items():
            out[f"{name}/{key}"] = value
    for name, env_id, kwargs in SPACE_ONLY_CASES:
        out[f"{name}/description"] = np.array(built(env_id, kwargs))
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else GOLDEN
    np.savez_compressed(target, **record())
    print(f"wrote {target} ({target.stat().st_size} bytes)")
