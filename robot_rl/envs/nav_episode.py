"""Start/goal sampling on a layout, the goal's distance field and the map-aware waypoint table.

Per episode (once, at reset):
    1. pick a start cell with clearance >= robot radius + ``spawn_margin``;
    2. grid Dijkstra from it; candidate goals are spawnable cells whose geodesic distance lies in
       ``geodesic_range`` (and, for the hard split, whose detour ratio geodesic / straight line is
       at least ``min_detour_ratio``), so every goal is reachable by construction;
    3. grid Dijkstra from the goal (the reward's potential, O(1) lookup per step) and the shortest
       path: steepest descent, then string-pulled with exact sight checks. Its length is the
       ``geodesic`` used by SPL (the 8-connected grid alone overestimates by up to 8 %).

The traversable set for paths keeps ``path_margin`` m between the robot's body and any surface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from robot_rl.envs.nav_layout import (
    NEIGHBOURS,
    NavLayout,
    descend,
    distance_field,
    polyline_length,
    relax,
    shortcut_path,
)


@dataclass
class NavEpisode:
    """One sampled start/goal pair.

    Attributes:
        start: Start (x, y), world m.
        goal: Goal (x, y), world m.
        geodesic: Shortest-path length from start to goal (m), string-pulled.
        path: The shortest path, ``(k, 2)`` world m, start first.
        goal_field: Grid geodesic distance to the goal (m), ``(cells, cells)``; extended into the
            band next to obstacles the robot's centre can reach; inf inside obstacles.
        lookahead: Flat cell index reached from each cell after ``hops`` descent steps toward
            the goal, shape ``(cells * cells,)``.
    """

    start: NDArray[np.float64]
    goal: NDArray[np.float64]
    geodesic: float
    path: NDArray[np.float64]
    goal_field: NDArray[np.float64]
    lookahead: NDArray[np.intp]


def sample_episode(
    layout: NavLayout,
    rng: np.random.Generator,
    robot_radius: float,
    geodesic_range: tuple[float, float] = (1.5, 5.0),
    min_detour_ratio: float = 1.0,
    spawn_margin: float = 0.1,
    path_margin: float = 0.03,
    attempts: int = 12,
    hops: int = 8,
) -> NavEpisode | None:
    """Sample a start/goal pair (``None`` if ``attempts`` start cells all fail)."""
    res = layout.config.resolution
    trav = layout.free(robot_radius + path_margin)
    spawn = layout.free(robot_radius + spawn_margin)
    cells = np.argwhere(spawn)
    if len(cells) == 0:
        return None
    lo, hi = geodesic_range
    for _ in range(attempts):
        s = tuple(int(v) for v in cells[rng.integers(len(cells))])
        from_start = distance_field(trav, s, res)  # type: ignore[arg-type]
        straight = res * np.hypot(cells[:, 0] - s[0], cells[:, 1] - s[1])
        d = from_start[cells[:, 0], cells[:, 1]]
        ok = (d >= lo) & (d <= hi * 1.08) & (d >= min_detour_ratio * straight)
        if not ok.any():
            continue
        g = tuple(int(v) for v in cells[rng.choice(np.flatnonzero(ok))])
        episode = episode_between(layout, s, g, robot_radius, path_margin, hops)  # type: ignore[arg-type]
        euclid = float(np.linalg.norm(episode.goal - episode.start))
        if not lo <= episode.geodesic <= hi or episode.geodesic < min_detour_ratio * euclid:
            continue
        return episode
    return None


def episode_between(
    layout: NavLayout,
    start_cell: tuple[int, int],
    goal_cell: tuple[int, int],
    robot_radius: float,
    path_margin: float = 0.03,
    hops: int = 8,
) -> NavEpisode:
    """The episode from ``start_cell`` to ``goal_cell`` (both at cell centres): goal field, string-pulled
    shortest path and geodesic; what :func:`sample_episode` builds for the pair it draws, and what a
    frozen episode is replayed from.

    Raises:
        ValueError: if the start cannot reach the goal keeping ``path_margin`` m of clearance.
    """
    res = layout.config.resolution
    trav = layout.free(robot_radius + path_margin)
    goal_field = distance_field(trav, goal_cell, res)
    start, goal = np.asarray(layout.to_world(*start_cell)), np.asarray(layout.to_world(*goal_cell))
    grid_path = np.asarray([layout.to_world(i, j) for i, j in descend(goal_field, start_cell)])
    path = shortcut_path(layout, grid_path, robot_radius + path_margin)
    geodesic = polyline_length(path)
    relax(goal_field, layout.clearance > 0, res, max_passes=4)
    return NavEpisode(start, goal, geodesic, path, goal_field, lookahead_table(goal_field, hops))


def lookahead_table(field: NDArray, hops: int) -> NDArray[np.intp]:
    """Flat index of the cell ``hops`` steepest-descent steps from each cell (itself at a minimum)."""
    n_rows, n_cols = field.shape
    padded = np.pad(field, 1, constant_values=np.inf)
    best = field.copy()
    step = np.arange(field.size).reshape(field.shape)
    for di, dj, _ in NEIGHBOURS:
        value = padded[1 + di : 1 + di + n_rows, 1 + dj : 1 + dj + n_cols]
        better = value < best
        best = np.where(better, value, best)
        target = np.arange(field.size).reshape(field.shape) + di * n_cols + dj
        step = np.where(better, target, step)
    table = step.reshape(-1)
    for _ in range(max(0, math.ceil(math.log2(max(hops, 1))))):
        table = table[table]
    return table
