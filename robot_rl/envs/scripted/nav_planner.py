"""Scripted baseline for MobileNav: grid A* on the known map plus a pure-pursuit follower.

It uses only what a deployed robot with a map would have:
    * the map: the layout is a pure function of ``info["layout_seed"]`` (regenerated here), or the
      ROS map ``info["map"]`` names (loaded here, checked against ``info["map_sha256"]``);
    * the start and goal in map coordinates (``info["start"]``, ``info["goal"]`` at reset);
    * the public observation: goal distance/bearing, base speed and yaw rate.

Localization: the heading is known at reset (the goal's map bearing minus its observed bearing)
and then integrated from the observed yaw rate (odometry, trapezoid rule); the position is
recovered every step from the goal's observed range and bearing and that heading, so it does not
drift with distance travelled. The waypoint observation of the map-aware variant is not used.

Control: pure pursuit (Coulter, 1992) on the string-pulled A* path: steer toward the path point
``lookahead`` m ahead of the closest one, curvature ``2 sin(alpha) / L``, turning in place when
the heading error exceeds ``turn_in_place`` rad, slowing down near the goal.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.envs.layout import VectorLayout
from robot_rl.envs.nav_layout import (
    NEIGHBOURS,
    LayoutConfig,
    NavLayout,
    generate_layout,
    polyline_length,
    shortcut_path,
)
from robot_rl.envs.nav_map import load_map
from robot_rl.envs.robots.diff_drive import DiffDriveSpec


def astar(free: NDArray[np.bool_], start: tuple[int, int], goal: tuple[int, int]) -> list[tuple[int, int]]:
    """8-connected A* (octile heuristic, no corner cutting) from ``start`` to ``goal`` cells.

    Returns:
        The cells of a shortest path, both ends included; ``[]`` when the goal is unreachable.
    """
    n_rows, n_cols = free.shape
    if not (free[start] and free[goal]):
        return []

    def h(c: tuple[int, int]) -> float:
        dr, dc = abs(c[0] - goal[0]), abs(c[1] - goal[1])
        return max(dr, dc) + (math.sqrt(2) - 1) * min(dr, dc)

    best = {start: 0.0}
    parent: dict[tuple[int, int], tuple[int, int]] = {}
    heap = [(h(start), 0.0, start)]
    while heap:
        _, g, cell = heapq.heappop(heap)
        if cell == goal:
            path = [cell]
            while path[-1] != start:
                path.append(parent[path[-1]])
            return path[::-1]
        if g > best[cell]:
            continue
        i, j = cell
        for di, dj, length in NEIGHBOURS:
            ni, nj = i + di, j + dj
            if not (0 <= ni < n_rows and 0 <= nj < n_cols and free[ni, nj]):
                continue
            if di and dj and not (free[i + di, j] and free[i, j + dj]):
                continue
            ng = g + length
            if ng < best.get((ni, nj), math.inf):
                best[(ni, nj)] = ng
                parent[(ni, nj)] = cell
                heapq.heappush(heap, (ng + h((ni, nj)), ng, (ni, nj)))
    return []


class NavPlanner:
    """A* + pure pursuit driving ``MobileNav`` (continuous actions) from its public interface.

    Args:
        obs_layout: The env's ``obs_layout`` (fields are read by name).
        dt: Control period (s), ``env.unwrapped.dt``.
        spec: The base's limits (action 1.0 = ``max_linear`` m/s, ``max_angular`` rad/s).
        layout_config: Generator parameters of the env's layouts.
        clearances: Clearance margins (m, beyond the body radius) to plan with, tried in order.
        lookahead: Pure-pursuit lookahead distance (m).
        turn_in_place: Heading error (rad) above which the base turns on the spot.
    """

    def __init__(
        self,
        obs_layout: VectorLayout,
        dt: float,
        spec: DiffDriveSpec | None = None,
        layout_config: LayoutConfig | None = None,
        clearances: tuple[float, ...] = (0.12, 0.06, 0.03),
        lookahead: float = 0.45,
        turn_in_place: float = 1.0,
    ) -> None:
        self.slices = {
            name: obs_layout.slice(name) for name in ("goal_distance", "goal_bearing", "base_yaw_rate")
        }
        self.dt = dt
        self.spec = spec or DiffDriveSpec()
        self.layout_config = layout_config or LayoutConfig()
        self.clearances = clearances
        self.lookahead = lookahead
        self.turn_in_place = turn_in_place
        self.path = np.zeros((0, 2))
        self.goal = np.zeros(2)
        self.yaw = 0.0
        self.position = np.zeros(2)
        self._rate = 0.0

    def reset(self, obs: NDArray[np.float32], info: dict[str, Any]) -> None:
        """Plan for a new episode from the reset observation and info.

        Raises:
            KeyError: if ``info`` lacks ``layout_seed``, ``start`` or ``goal``.
            RuntimeError: if no path exists at any clearance.
        """
        if info.get("map") is not None:
            world = load_map(info["map"])
            if info.get("map_sha256") not in (None, world.sha256):
                raise RuntimeError(f"map {info['map']!r} on disk differs from the env's (SHA-256)")
            layout = world.layout
        else:
            layout = generate_layout(int(info["layout_seed"]), self.layout_config)
        start, self.goal = np.asarray(info["start"], float), np.asarray(info["goal"], float)
        self.path = self.plan(layout, start, self.goal)
        cos_b, sin_b = obs[self.slices["goal_bearing"]]
        to_goal = self.goal - start
        self.yaw = math.atan2(to_goal[1], to_goal[0]) - math.atan2(sin_b, cos_b)
        self._rate = float(obs[self.slices["base_yaw_rate"]][0])

    def plan(self, layout: NavLayout, start: NDArray, goal: NDArray) -> NDArray:
        """String-pulled A* path ``(k, 2)`` (world m) from ``start`` to ``goal``."""
        for margin in self.clearances:
            clearance = self.spec.radius + margin
            cells = astar(layout.free(clearance), layout.to_cell(*start), layout.to_cell(*goal))
            if cells:
                points = np.asarray([start] + [layout.to_world(*c) for c in cells[1:-1]] + [goal])
                return shortcut_path(layout, points, clearance - 0.02)
        raise RuntimeError(f"no path from {start} to {goal} in layout {layout.seed}")

    def localize(self, obs: NDArray[np.float32]) -> NDArray:
        """Update the heading by odometry and return the base position (world m); call once a step."""
        # Trapezoid rule on the rates read at the ends of the step: the base needs about one control
        # period to reach a new yaw rate, so this drifts by a few hundredths of a rad per second.
        rate = float(obs[self.slices["base_yaw_rate"]][0])
        self.yaw += 0.5 * (rate + self._rate) * self.dt
        self._rate = rate
        d = float(obs[self.slices["goal_distance"]][0])
        cos_b, sin_b = (float(v) for v in obs[self.slices["goal_bearing"]])
        bearing = self.yaw + math.atan2(sin_b, cos_b)
        self.position = self.goal - d * np.array([math.cos(bearing), math.sin(bearing)])
        return self.position

    def act(self, obs: NDArray[np.float32]) -> NDArray[np.float32]:
        """Continuous action ``[linear, angular]`` in [-1, 1] for the current observation."""
        position = self.localize(obs)
        target = self._pursuit_point(position)
        dx, dy = target - position
        alpha = math.atan2(dy, dx) - self.yaw
        alpha = math.atan2(math.sin(alpha), math.cos(alpha))
        s = self.spec
        if abs(alpha) > self.turn_in_place:
            return np.array([0.0, math.copysign(0.6, alpha)], np.float32)
        remaining = float(np.linalg.norm(self.goal - position))
        v = s.max_linear * min(1.0, 0.4 + remaining) * (1.0 - 0.5 * abs(alpha) / self.turn_in_place)
        w = v * 2.0 * math.sin(alpha) / max(self.lookahead, 1e-6)
        return np.clip(np.array([v / s.max_linear, w / s.max_angular], np.float32), -1.0, 1.0)

    def _pursuit_point(self, position: NDArray) -> NDArray:
        """The path point ``lookahead`` m beyond the path point closest to ``position``."""
        path = self.path
        seg = np.diff(path, axis=0)
        lengths = np.maximum(np.einsum("ij,ij->i", seg, seg), 1e-12)
        t = np.clip(np.einsum("ij,ij->i", position - path[:-1], seg) / lengths, 0.0, 1.0)
        nearest = path[:-1] + t[:, None] * seg
        k = int(np.argmin(np.linalg.norm(nearest - position, axis=1)))
        remaining = np.vstack([nearest[k], path[k + 1 :]])
        cumulative = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(remaining, axis=0), axis=1))])
        if cumulative[-1] <= self.lookahead:
            return path[-1]
        i = int(np.searchsorted(cumulative, self.lookahead)) - 1
        frac = (self.lookahead - cumulative[i]) / max(cumulative[i + 1] - cumulative[i], 1e-12)
        return remaining[i] + frac * (remaining[i + 1] - remaining[i])

    @property
    def planned_length(self) -> float:
        """Length (m) of the current plan."""
        return polyline_length(self.path)
