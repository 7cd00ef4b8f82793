"""Procedural layouts, grid shortest paths and start/goal sampling (pure numpy, no physics)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from robot_rl.envs.nav_episode import sample_episode
from robot_rl.envs.nav_layout import (
    SPLIT_SEEDS,
    LayoutConfig,
    clearance_to,
    descend,
    distance_field,
    generate_layout,
    polyline_length,
)
from robot_rl.envs.robots.diff_drive import DiffDriveSpec
from robot_rl.envs.scripted.nav_planner import astar

RADIUS = DiffDriveSpec().radius


def test_split_seed_ranges_are_disjoint() -> None:
    ranges = sorted(SPLIT_SEEDS.values())
    for (_, stop), (start, _) in itertools.pairwise(ranges):
        assert stop <= start
    assert set(SPLIT_SEEDS) == {"train", "val", "test"}


def test_layout_is_a_pure_function_of_its_seed() -> None:
    a, b, c = generate_layout(7), generate_layout(7), generate_layout(8)
    np.testing.assert_array_equal(a.clearance, b.clearance)
    assert a.boxes == b.boxes and a.cylinders == b.cylinders and a.walls == b.walls
    assert not np.array_equal(a.clearance, c.clearance)


def test_layouts_respect_documented_size_ranges() -> None:
    cfg = LayoutConfig()
    for seed in range(60):
        layout = generate_layout(seed, cfg)
        n = len(layout.boxes) + len(layout.cylinders)
        assert n <= cfg.obstacle_count[1]
        assert {2 * b.hx for b in layout.boxes} <= set(cfg.box_sides)
        assert {c.radius for c in layout.cylinders} <= set(cfg.cylinder_radii)
        for wall in layout.walls:  # every interior segment is coverable by whole tiles
            assert 2 * max(wall.hx, wall.hy) >= cfg.tile_length - 1e-9
        half = cfg.arena_size / 2
        for b in layout.boxes + layout.cylinders:
            assert abs(b.cx) < half and abs(b.cy) < half


def test_clearance_matches_analytic_distances() -> None:
    layout = generate_layout(3)
    pts = np.array([[0.0, 0.0], [1.0, -2.0]])
    d = clearance_to(pts, [], layout.cylinders[:1])
    c = layout.cylinders[0]
    assert d[0] == pytest.approx(math.hypot(c.cx, c.cy) - c.radius)
    # The cell centre next to the outer wall is half a cell from it.
    assert layout.clearance[layout.config.cells // 2, 0] == pytest.approx(
        layout.config.resolution / 2, abs=1e-6
    )


def test_distance_field_on_an_open_grid_is_octile() -> None:
    free = np.ones((20, 20), bool)
    d = distance_field(free, (0, 0), 0.1)
    assert d[0, 10] == pytest.approx(1.0)
    assert d[5, 10] == pytest.approx(0.5 * math.sqrt(2) + 0.5)
    blocked = free.copy()
    blocked[:, 5] = False
    assert np.isinf(distance_field(blocked, (0, 0), 0.1)[0, 10])


def test_distance_field_detours_around_a_wall_and_agrees_with_astar() -> None:
    free = np.ones((30, 30), bool)
    free[0:25, 15] = False  # wall with a gap at the top rows
    d = distance_field(free, (0, 0), 1.0)
    path = astar(free, (0, 0), (0, 29))
    length = sum(math.dist(a, b) for a, b in itertools.pairwise(path))
    assert d[0, 29] == pytest.approx(length)
    assert d[0, 29] >= 2 * 25  # must go down past the wall (row 25) and back up
    assert descend(distance_field(free, (0, 29), 1.0), (0, 0))[-1] == (0, 29)


@pytest.mark.parametrize("split", ["train", "test"])
def test_sampled_goals_are_reachable_and_clear_of_obstacles(split: str) -> None:
    lo, _ = SPLIT_SEEDS[split]
    rng = np.random.default_rng(0)
    for seed in range(lo, lo + 40):
        layout = generate_layout(seed)
        episode = sample_episode(layout, rng, RADIUS)
        assert episode is not None, seed
        for point in (episode.start, episode.goal):
            assert (
                clearance_to(point[None], layout.outer_walls + layout.walls + layout.boxes, layout.cylinders)[
                    0
                ]
                >= RADIUS + 0.1 - 1e-9
            )
        free = layout.free(RADIUS + 0.03)
        assert astar(free, layout.to_cell(*episode.start), layout.to_cell(*episode.goal)), seed
        assert 1.5 <= episode.geodesic <= 5.0
        assert episode.geodesic >= np.linalg.norm(episode.goal - episode.start) - 1e-9
        assert polyline_length(episode.path) == pytest.approx(episode.geodesic)


def test_hard_split_rejects_near_straight_pairs() -> None:
    rng = np.random.default_rng(1)
    for seed in range(20):
        episode = sample_episode(generate_layout(seed), rng, RADIUS, min_detour_ratio=1.25)
        if episode is not None:
            assert episode.geodesic >= 1.25 * np.linalg.norm(episode.goal - episode.start)
