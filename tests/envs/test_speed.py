"""The shared timed env loop of ``bench env`` and ``bench fidelity``."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from robot_rl.envs.speed import time_env


class Counting(gym.Env[np.ndarray, np.ndarray]):
    """Ends an episode every 3 steps; records the actions and resets."""

    observation_space = gym.spaces.Box(-1, 1, (1,))
    action_space = gym.spaces.Box(-1, 1, (1,))

    def __init__(self) -> None:
        self.actions: list[float] = []
        self.resets = 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict[str, Any]]:
        self.resets += 1
        return np.zeros(1, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.actions.append(float(action[0]))
        return np.zeros(1, np.float32), 0.0, len(self.actions) % 3 == 0, False, {}


def test_given_actions_cycle_in_order_and_episodes_reset() -> None:
    env = Counting()
    actions = [np.array([0.1]), np.array([0.2])]
    seconds = time_env(env, 7, actions)
    assert seconds > 0
    assert env.actions == [0.1, 0.2, 0.1, 0.2, 0.1, 0.2, 0.1]
    assert env.resets == 2  # after steps 3 and 6


def test_actions_are_sampled_from_the_space_when_not_given() -> None:
    env = Counting()
    env.action_space.seed(0)
    time_env(env, 5)
    assert len(env.actions) == 5 and all(-1 <= a <= 1 for a in env.actions)
    assert len(set(env.actions)) == 5
