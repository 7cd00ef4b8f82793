"""Gymnasium registration of every robot_rl environment id."""

from __future__ import annotations

import gymnasium as gym

#: id -> (entry point, default kwargs). One place to add an environment.
ENVIRONMENTS: dict[str, tuple[str, dict[str, object]]] = {
    "robot_rl/PandaGrasp-v0": ("robot_rl.envs.grasp_env:PandaGraspEnv", {}),
    "robot_rl/PandaGraspGoal-v0": ("robot_rl.envs.grasp_env:PandaGraspGoalEnv", {}),
    "robot_rl/MobileNav-v0": ("robot_rl.envs.nav_env:MobileNavEnv", {}),
    "robot_rl/MobileNavDiscrete-v0": (
        "robot_rl.envs.nav_env:MobileNavEnv",
        {"action_type": "discrete"},
    ),
}


def register_all() -> None:
    """Register every id in :data:`ENVIRONMENTS` (idempotent)."""
    for env_id, (entry_point, kwargs) in ENVIRONMENTS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, kwargs=dict(kwargs))
