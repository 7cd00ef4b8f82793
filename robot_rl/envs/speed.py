"""The timed env loop of ``robot-rl bench env`` and ``robot-rl bench fidelity``."""

from __future__ import annotations

import time
from typing import Any


def time_env(env: Any, steps: int, actions: list[Any] | None = None) -> float:
    """Seconds for ``steps`` env steps (resets included when episodes end).

    ``actions`` cycle in order; without them, up to 512 are sampled from ``env.action_space``
    first, outside the timing. Pass the same list to compare two envs on the same actions.
    """
    if actions is None:
        actions = [env.action_space.sample() for _ in range(min(steps, 512))]
    start = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[i % len(actions)])
        if terminated or truncated:
            env.reset()
    return time.perf_counter() - start


__all__ = ["time_env"]
