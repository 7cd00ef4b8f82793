"""Tiny envs for deploy tests: a goal-conditioned env (Dict, HER-compatible) and a depth-image env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

TOY_GOAL_ID = "robot_rl_test/ToyGoal-v0"
TOY_DEPTH_ID = "robot_rl_test/ToyDepth-v0"


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


class ToyDepthEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """A point moves in the plane toward a target seen only in a depth image (like the depth grasp student).

    Observation ``Dict{"depth": Box(0, 1, (1, size, size)) metres, "proprio": Box(-2, 2, (4,))}``:
    a top-down depth camera at 0.6 m above a floor (beyond the extractor's far clip of 0.5 m)
    sees the target as a disc 0.25 m away; ``proprio`` is the point's position and velocity.
    Action: 2-D velocity command in [-1, 1]; success within 0.15 m of the target. Declares its
    safe action and a camera contract like a robot_rl depth env.
    """

    metadata = {"render_modes": [], "render_fps": 20}  # noqa: RUF012

    def __init__(self, size: int = 24, proprio_key: str = "proprio") -> None:
        self.size = int(size)
        self.proprio_key = proprio_key  # a key sorting before "depth" puts proprio first in the Dict
        self.observation_space = spaces.Dict(
            {
                "depth": spaces.Box(0.0, 1.0, shape=(1, self.size, self.size), dtype=np.float32),
                proprio_key: spaces.Box(-2.0, 2.0, shape=(4,), dtype=np.float32),
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.dt = 0.05
        self._pos = np.zeros(2, np.float32)
        self._vel = np.zeros(2, np.float32)
        self._target = np.zeros(2, np.float32)
        pix = (np.arange(self.size) + 0.5) / self.size * 3.0 - 1.5  # pixel centres, metres
        self._gx, self._gy = np.meshgrid(pix, pix)  # row = y, column = x

    def camera_contract(self) -> dict[str, Any]:
        """What a robot's camera must deliver to produce this env's depth image (stored in the manifest)."""
        f = self.size / 2.0
        return {
            "key": "depth",
            "width": self.size,
            "height": self.size,
            "fx": f,
            "fy": f,
            "cx": self.size / 2.0,
            "cy": self.size / 2.0,
            "near": 0.07,
            "far": 1.0,
            "units": "m",
            "mount": "fixed, looking down from 0.6 m",
        }

    def safe_action(self) -> list[float]:
        return [0.0, 0.0]

    def _obs(self) -> dict[str, np.ndarray]:
        depth = np.full((self.size, self.size), 0.6, np.float32)
        disc = (self._gx - self._target[0]) ** 2 + (self._gy - self._target[1]) ** 2 < 0.3**2
        depth[disc] = 0.25
        proprio = np.clip(np.concatenate([self._pos, self._vel]), -2.0, 2.0).astype(np.float32)
        return {"depth": depth[None], self.proprio_key: proprio}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        super().reset(seed=seed)
        self._pos = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self._target = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self._vel = np.zeros(2, np.float32)
        return self._obs(), {"is_success": False}

    def step(self, action: np.ndarray):  # type: ignore[override]
        a = np.clip(np.asarray(action, np.float32), -1, 1)
        self._vel = (0.1 * a).astype(np.float32)
        self._pos = np.clip(self._pos + self._vel, -1.5, 1.5).astype(np.float32)
        dist = float(np.linalg.norm(self._pos - self._target))
        success = dist < 0.15
        return self._obs(), -dist, success, False, {"is_success": success}


def register_toy_envs() -> None:
    """Register :data:`TOY_GOAL_ID` and :data:`TOY_DEPTH_ID` (idempotent)."""
    if TOY_GOAL_ID not in gym.registry:
        gym.register(TOY_GOAL_ID, entry_point=ToyGoalEnv, max_episode_steps=40)
    if TOY_DEPTH_ID not in gym.registry:
        gym.register(TOY_DEPTH_ID, entry_point=ToyDepthEnv, max_episode_steps=40)
