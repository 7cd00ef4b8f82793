"""Simulation layer: one PyBullet client per environment and validated rates."""

from robot_rl.sim.session import PYBULLET_DATA, PyBulletSession, suppress_c_output
from robot_rl.sim.timing import MIN_PHYSICS_HZ, SimTiming

__all__ = ["MIN_PHYSICS_HZ", "PYBULLET_DATA", "PyBulletSession", "SimTiming", "suppress_c_output"]
