"""``robot-rl envs``: list the registered environments with their spaces and control period."""

from __future__ import annotations

import argparse
from typing import Any

from robot_rl.envs.registration import ENVIRONMENTS
from robot_rl.errors import InputError


def describe(env_id: str) -> dict[str, Any]:
    """Build ``env_id`` once and describe its spaces, control period and episode limit."""
    import gymnasium as gym

    from robot_rl.envs.registration import register_all

    register_all()

    env = gym.make(env_id, disable_env_checker=True)
    u: Any = env.unwrapped
    info = {
        "id": env_id,
        "observation": _space(env.observation_space),
        "action": _space(env.action_space),
        "dt": u.dt,
        "episode_s": u.max_episode_steps * u.dt,
    }
    env.close()
    return info


def _space(space: Any) -> str:
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return "Dict(" + ", ".join(f"{k}: {_space(v)}" for k, v in space.spaces.items()) + ")"
    if isinstance(space, spaces.Discrete):
        return f"Discrete({space.n})"
    return f"Box{tuple(space.shape)}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl envs``."""
    parser.add_argument("ids", nargs="*", help="ids to describe (default: all registered)")


def run(args: argparse.Namespace) -> int:
    """Print one line per environment."""
    ids = args.ids or list(ENVIRONMENTS)
    unknown = [i for i in ids if i not in ENVIRONMENTS]
    if unknown:
        raise InputError(f"unknown environment id(s) {unknown}; registered: {list(ENVIRONMENTS)}")
    for env_id in ids:
        d = describe(env_id)
        print(f"{d['id']}\n  obs: {d['observation']}\n  action: {d['action']}")
        print(f"  dt: {d['dt']:.4f} s   episode limit: {d['episode_s']:.1f} s")
    return 0
