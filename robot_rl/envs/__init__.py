"""robot_rl environments (Gymnasium).

Names are imported lazily so that ``import robot_rl`` (which registers the ids) does not import
PyBullet: the robot-side runtime (:mod:`robot_rl.deploy.runtime`) must work without it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Field": "robot_rl.envs.layout",
    "VectorLayout": "robot_rl.envs.layout",
    "EnvSettings": "robot_rl.envs.core",
    "GoalTask": "robot_rl.envs.core",
    "Robot": "robot_rl.envs.core",
    "RobotTaskEnv": "robot_rl.envs.core",
    "Task": "robot_rl.envs.core",
    "TaskStatus": "robot_rl.envs.core",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'robot_rl.envs' has no attribute {name!r}")
