"""The Panda IK's direct LAPACK solve gives np.linalg.solve's bits (it skips only the wrapper)."""

import numpy as np

from robot_rl.envs.robots.panda import _DAMPING, solve_linear


def test_solve_linear_equals_numpy_solve_bit_for_bit():
    rng = np.random.default_rng(0)
    for _ in range(200):
        jacobian = rng.normal(size=(6, 7))
        a = jacobian @ jacobian.T + _DAMPING  # the IK's system: symmetric positive definite
        b = rng.normal(size=6)
        np.testing.assert_array_equal(solve_linear(a, b), np.linalg.solve(a, b))
