"""A tiny goal-conditioned env (Dict observations, HER-compatible) for deploy tests."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

TOY_GOAL_ID = "robot_rl_test/ToyGoal-v0"


class ToyGoalEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """A point in the plane moves by 0.1 * action per step toward a random goal (success < 0.1 m)."""

    metadata = {"render_modes": [], "render_fps": 10}  # noqa: RUF012

    def __init__(self) -> None:
        box = spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32)
        self.observation_space = spaces.Dict(
            {
                "observation": spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32),
                "achieved_goal": box,
                "desired_goal": box,
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.dt = 0.1
        self._pos = np.zeros(2, np.float32)
        self._goal = np.zeros(2, np.float32)
        self._vel = np.zeros(2, np.float32)

    def _obs(self) -> dict[str, np.ndarray]:
        return {
            "observation": np.concatenate([self._pos, self._vel]).astype(np.float32),
            "achieved_goal": self._pos.copy(),
            "desired_goal": self._goal.copy(),
        }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        super().reset(seed=seed)
        self._pos = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self._goal = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self._vel = np.zeros(2, np.float32)
        return self._obs(), {"is_success": False}

    def step(self, action: np.ndarray):  # type: ignore[override]
        a = np.clip(np.asarray(action, np.float32), -1, 1)
        self._vel = 0.1 * a
        self._pos = np.clip(self._pos + self._vel, -2, 2).astype(np.float32)
        obs = self._obs()
        success = bool(np.linalg.norm(self._pos - self._goal) < 0.1)
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}))
        return obs, reward, success, False, {"is_success": success}

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        d = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(d >= 0.1).astype(np.float32)


def register_toy_envs() -> None:
    """Register :data:`TOY_GOAL_ID` (idempotent)."""
    if TOY_GOAL_ID not in gym.registry:
        gym.register(TOY_GOAL_ID, entry_point=ToyGoalEnv, max_episode_steps=40)
