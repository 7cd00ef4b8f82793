"""SPL (Anderson et al. 2018) and path length on paths whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robot_rl.envs.nav_metrics import mean_spl, path_length, spl


def test_path_length_of_known_polylines() -> None:
    assert path_length([[0, 0], [3, 4]]) == pytest.approx(5.0)
    assert path_length([[0, 0], [1, 0], [1, 1], [0, 1]]) == pytest.approx(3.0)
    assert path_length([[2, 2]]) == 0.0


def test_straight_path_gives_spl_one() -> None:
    travelled = path_length(np.linspace([0.0, 0.0], [4.0, 0.0], 9))
    assert spl(True, 4.0, travelled) == pytest.approx(1.0)


def test_detour_gives_shortest_over_travelled() -> None:
    # Shortest path 4 m straight; the agent goes around a 1 m side offset: 1 + 4 + 1 = 6 m.
    detour = [[0, 0], [0, 1], [4, 1], [4, 0]]
    assert spl(True, 4.0, path_length(detour)) == pytest.approx(4.0 / 6.0)


def test_failure_gives_zero_whatever_the_path() -> None:
    assert spl(False, 4.0, 4.0) == 0.0
    assert spl(False, 4.0, 1.0) == 0.0


def test_path_shorter_than_geodesic_is_capped_at_one() -> None:
    # Stopping inside the success radius can end a path shorter than the geodesic to the goal.
    assert spl(True, 4.0, 3.8) == 1.0


def test_mean_spl_averages_episodes() -> None:
    assert mean_spl([True, False, True], [4.0, 4.0, 2.0], [4.0, 1.0, 4.0]) == pytest.approx((1 + 0 + 0.5) / 3)


@pytest.mark.parametrize(
    ("args", "match"),
    [((True, 0.0, 1.0), "shortest"), ((True, math.nan, 1.0), "shortest"), ((True, 1.0, -1.0), "travelled")],
)
def test_spl_rejects_bad_distances(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        spl(*args)


def test_mean_spl_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="equally long"):
        mean_spl([True], [1.0, 2.0], [1.0])
