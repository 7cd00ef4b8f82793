"""Memory stays flat across many resets with changing layouts (pooled bodies, no leaks)."""

from __future__ import annotations

import os

import numpy as np

from robot_rl.envs.nav_env import MobileNavEnv


def rss_mib() -> float:
    """Resident set size of this process, MiB (Linux /proc)."""
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_memory_is_flat_over_hundreds_of_layout_changes() -> None:
    env = MobileNavEnv(render_mode="rgb_array", render_size=64)
    action = np.array([0.5, 0.2], np.float32)
    env.reset(seed=0)
    for _ in range(50):  # warm-up: allocator pools, caches
        env.reset()
        env.step(action)
    bodies, before = env.sim.getNumBodies(), rss_mib()
    layouts = set()
    for _ in range(300):
        _, info = env.reset()
        layouts.add(info["layout_seed"])
        env.step(action)
        env.render()
    growth = rss_mib() - before
    assert env.sim.getNumBodies() == bodies
    env.close()
    assert len(layouts) > 290
    assert growth < 8.0, f"RSS grew {growth:.1f} MiB over 300 layouts"
