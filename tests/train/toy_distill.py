"""A toy env for DAgger: the student sees a blurred image of where the goal is, the teacher the state.

``ToyPeek-v0``: a point on a line at ``x`` must reach a goal ``g`` (both in [-1, 1]). The student's
observation is ``{"depth": (1, 8, 8) image whose bright column marks g, "proprio": [x]}``, the
privileged state is ``[x, g]``; the teacher's action is ``clip(4 (g - x), -1, 1)``. Success: within
0.05 of the goal at the end of 20 steps.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

TOY_PEEK_ID = "robot_rl_tests/ToyPeek-v0"


class ToyPeekEnv(gym.Env):
    observation_space = spaces.Dict(
        {
            "depth": spaces.Box(0.0, 1.0, (1, 8, 8), np.float32),
            "proprio": spaces.Box(-1.0, 1.0, (1,), np.float32),
        }
    )
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    state_layout = None

    def __init__(self, tolerance: float = 0.05) -> None:
        self.tolerance = tolerance  # success radius

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-1, 1))
        self.g = float(self.np_random.uniform(-1, 1))
        self.t = 0
        return self._obs(), {}

    def _obs(self) -> dict[str, np.ndarray]:
        image = np.full((1, 8, 8), 0.4, np.float32)
        column = int(np.clip((self.g + 1) / 2 * 8, 0, 7))
        image[0, :, column] = 0.1  # "closer" column = the goal
        return {"depth": image, "proprio": np.array([self.x], np.float32)}

    def privileged_observation(self) -> np.ndarray:
        return np.array([self.x, self.g], np.float32)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        self.x = float(np.clip(self.x + 0.25 * float(np.asarray(action).reshape(-1)[0]), -1, 1))
        self.t += 1
        dist = abs(self.x - self.g)
        done = self.t >= 20
        return self._obs(), -dist, False, done, {"is_success": done and dist < self.tolerance}


class ToyTeacher:
    """The privileged teacher: drive straight at the goal."""

    def __init__(self, state_layout: Any) -> None:
        self.calls = 0

    def reset(self) -> None:
        pass

    def __call__(self, privileged: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.clip(4.0 * (privileged[1:2] - privileged[0:1]), -1, 1).astype(np.float32)


def register() -> None:
    if TOY_PEEK_ID not in gym.registry:
        gym.register(TOY_PEEK_ID, entry_point=ToyPeekEnv)
