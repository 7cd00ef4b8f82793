"""Probe: would a coarser physics time step keep the grasp fidelity guards? (It does not.)

The envs refuse ``physics_hz`` below :data:`robot_rl.sim.timing.MIN_PHYSICS_HZ` (240 Hz). This
probe lowers that floor *in its own process only* and runs the guards of ``robot-rl bench
fidelity`` that a time step would change most (scripted grasps with domain randomization and on
the unseen ``random_test`` meshes, resting cubes), then the env's speed, for PyBullet's defaults
(50 iterations, 240 Hz), the grasp setting shipped when it was written (20 iterations, 240 Hz;
now 15) and coarser steps.

Usage: ``python tools/physics_rate_probe.py [EPISODES]`` (default 100; about 1 min on 2 cores).
Result on the 2-core machine (docs/training.md, "Physics settings and fidelity"): 160 Hz and
120 Hz are x1.34 and x1.67 faster and drop the domain-randomized scripted grasp from 0.75 to 0.62.
"""

from __future__ import annotations

import sys
import time

import robot_rl.sim.timing as timing

timing.MIN_PHYSICS_HZ = 60.0  # this process only: the probe's point is to look below the floor

from robot_rl.benchmark.fidelity import speed  # noqa: E402
from robot_rl.envs import fidelity  # noqa: E402

SETTINGS = [
    {"solver_iterations": 50, "physics_hz": 240.0},
    {"solver_iterations": 20, "physics_hz": 240.0},
    {"solver_iterations": 20, "physics_hz": 160.0},
    {"solver_iterations": 20, "physics_hz": 120.0},
    {"solver_iterations": 30, "physics_hz": 120.0},
]


def main(episodes: int) -> None:
    for s in SETTINGS:
        t0 = time.monotonic()
        dr = fidelity.scripted_grasps(range(episodes), domain_randomization=True, **s)
        unseen = fidelity.scripted_grasps(range(episodes), object_set="random_test", **s)
        rest = fidelity.resting_drift(range(20), **s)
        print(
            f"{s}: scripted grasp DR {sum(dr) / episodes:.2f}, random_test {sum(unseen) / episodes:.2f}, "
            f"resting cube max drift {max(rest) * 1e3:.3f} mm ({time.monotonic() - t0:.0f} s)",
            flush=True,
        )
    timed = SETTINGS[1:4]
    sps = speed("robot_rl/PandaGrasp-v0", timed, 1000, rounds=3)
    for s, v in zip(timed, sps, strict=True):
        print(f"{s}: {v:.0f} env steps/s (x{v / sps[0]:.2f})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
