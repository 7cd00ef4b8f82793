"""A minimal user agent for ``robot-rl benchmark nav --agents robot_rl.benchmark.examples:GoalSeeker``.

It is the ten-line example of docs/benchmark.md: any class with ``reset(obs, info)`` and
``act(obs)`` is an agent (:class:`~robot_rl.benchmark.agents.Agent`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class GoalSeeker:
    """Turn toward the goal and drive when it is ahead; blind to obstacles (a lower bound)."""

    def __init__(self, obs_layout: Any) -> None:
        self.bearing = obs_layout.slice("goal_bearing")  # (cos, sin) of the goal in the robot frame

    def reset(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        pass  # nothing to plan

    def act(self, obs: np.ndarray) -> np.ndarray:
        cos_b, sin_b = obs[self.bearing]
        return np.array([max(float(cos_b), 0.0), float(np.clip(2.0 * sin_b, -1.0, 1.0))], np.float32)
