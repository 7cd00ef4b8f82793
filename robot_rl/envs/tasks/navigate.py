"""NavigateTask: drive the diff-drive base to a goal through a procedural layout.

Per reset: draw a layout seed from the split's range (:data:`~robot_rl.envs.nav_layout.SPLIT_SEEDS`),
generate the layout, re-pose the pooled bodies (:class:`~robot_rl.envs.nav_scene.NavScene`), sample
a start/goal pair with a reachable geodesic distance (:func:`~robot_rl.envs.nav_episode.sample_episode`)
and place the robot at rest with a random heading.

Reward per control step (components in ``info["reward_<name>"]``):
    * ``progress``: ``progress_weight * (phi_prev - phi)`` where ``phi`` is the grid geodesic
      distance to the goal (m, bilinear lookup in a field computed once per reset): potential
      based, so it does not change the optimal policy and sums to about the geodesic distance;
    * ``collision``: ``-collision_penalty`` for every step in contact with a wall or obstacle;
    * ``time``: ``-time_penalty * dt`` (per second of simulated time);
    * ``success``: ``+success_bonus`` once, when the base centre is within ``success_radius`` m.

Success terminates the episode; collisions are counted (contact onsets) and terminate it only when
``terminate_on_collision``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_rl.envs.core import FloatArray, Task, TaskStatus
from robot_rl.envs.layout import Field, VectorLayout
from robot_rl.envs.nav_episode import NavEpisode, episode_between, sample_episode
from robot_rl.envs.nav_episodes import check_replayed_geodesic
from robot_rl.envs.nav_layout import SPLIT_SEEDS, LayoutConfig, NavLayout, generate_layout
from robot_rl.envs.nav_map import MapScene, NavMap
from robot_rl.envs.nav_metrics import spl
from robot_rl.envs.nav_scene import NavScene
from robot_rl.envs.robots.diff_drive import DiffDriveRobot
from robot_rl.sim.session import PyBulletSession


@dataclass(frozen=True)
class NavigateConfig:
    """Task parameters.

    Attributes:
        split: ``"train"``, ``"val"`` or ``"test"``: which layout seed range resets draw from.
        geodesic_range: (min, max) shortest-path distance start -> goal, m.
        min_detour_ratio: Reject pairs whose geodesic / straight-line distance is below this
            (1.0 accepts all; the ``"hard"`` difficulty uses 1.25).
        success_radius: Goal reached when the base centre is this close, m.
        map_aware: Add the ``waypoint`` observation (next point of the shortest path on the known
            map, about 0.8-1.1 m ahead) to the lidar + goal observation.
        progress_weight: Reward per metre of geodesic progress.
        collision_penalty: Penalty per control step in contact.
        time_penalty: Penalty per second.
        success_bonus: Reward on reaching the goal.
        terminate_on_collision: End the episode at the first contact.
    """

    split: str = "train"
    geodesic_range: tuple[float, float] = (1.5, 5.0)
    min_detour_ratio: float = 1.0
    success_radius: float = 0.3
    map_aware: bool = True
    progress_weight: float = 1.0
    collision_penalty: float = 0.1
    time_penalty: float = 0.1
    success_bonus: float = 2.0
    terminate_on_collision: bool = False


class NavigateTask(Task):
    """Goal navigation on procedural layouts; see the module docstring for the reward."""

    robot: DiffDriveRobot

    def __init__(
        self,
        sim: PyBulletSession,
        robot: DiffDriveRobot,
        config: NavigateConfig | None = None,
        layout_config: LayoutConfig | None = None,
        world: NavMap | None = None,
    ) -> None:
        super().__init__(sim, robot)
        self.config = config or NavigateConfig()
        self.world = world
        # a map fixes the layout (and its config); procedural layouts are drawn per reset
        self.layout_config = world.layout.config if world is not None else layout_config or LayoutConfig()
        self.scene: NavScene | MapScene = (
            MapScene(sim, world) if world is not None else NavScene(sim, self.layout_config)
        )
        self.start_yaw = 0.0
        reach = float(np.ceil(self.layout_config.arena_size * math.sqrt(2)))
        fields = [
            Field("goal_distance", 1, "m", 0.0, reach, "straight-line distance to the goal"),
            Field("goal_bearing", 2, "1", -1.0, 1.0, "cos, sin of the goal bearing, robot frame (ccw)"),
        ]
        if self.config.map_aware:
            fields += [
                Field("waypoint_distance", 1, "m", 0.0, reach, "distance to the map-aware waypoint"),
                Field("waypoint_bearing", 2, "1", -1.0, 1.0, "cos, sin of the waypoint bearing, robot frame"),
            ]
        self.obs_layout = VectorLayout(fields)
        self.layout: NavLayout | None = None
        self.episode: NavEpisode | None = None
        self.path: list[tuple[float, float]] = []
        self._dt = robot.timing.dt
        self._half = self.layout_config.arena_size / 2
        self._res = self.layout_config.resolution
        self._n = self.layout_config.cells
        # Same seed -> same episode whatever ran before: Bullet's overlapping-pair order depends on
        # history unless sorted (``DiffDriveRobot.place`` also clears the robot's contact caches).
        sim.setPhysicsEngineParameter(deterministicOverlappingPairs=1)

    # ------------------------------------------------------------------ reset
    def reset(self, np_random: np.random.Generator, options: Mapping[str, Any] | None = None) -> None:
        """New layout (or ``options["layout_seed"]``, validated by the env) and start/goal pair, or
        the frozen ``options["episode"]`` (:mod:`robot_rl.envs.nav_episodes`, validated by the env)."""
        options = options or {}
        if options.get("episode") is not None:
            layout, episode, yaw = self._frozen(options["episode"])
        else:
            layout, episode = self._sample(np_random, options.get("layout_seed"))
            yaw = float(np_random.uniform(-np.pi, np.pi))
        self.layout, self.episode, self.start_yaw = layout, episode, yaw
        self.scene.apply(layout)
        self.robot.place(float(episode.start[0]), float(episode.start[1]), yaw)
        self._phi = self._potential(*episode.start)
        self._last = (float(episode.start[0]), float(episode.start[1]))
        self.path = [self._last]
        self._path_length = 0.0
        self._collisions = 0
        self._touching = False
        self._steps = 0
        self._success = False

    def _frozen(self, record: Mapping[str, Any]) -> tuple[NavLayout, NavEpisode, float]:
        """Layout, episode and start heading of a frozen episode record."""
        if self.world is not None:
            layout = self.world.layout
        else:
            layout = generate_layout(int(record["layout_seed"]), self.layout_config)
        start = layout.to_cell(*(float(v) for v in record["start"]))
        goal = layout.to_cell(*(float(v) for v in record["goal"]))
        episode = episode_between(layout, start, goal, self.robot.spec.radius)
        check_replayed_geodesic(record, episode.geodesic)
        return layout, episode, float(record["start_yaw"])

    def _sample(self, np_random: np.random.Generator, pinned: int | None) -> tuple[NavLayout, NavEpisode]:
        """A layout (the map's, the pinned seed's or a fresh one) and a start/goal pair on it."""
        lo, hi = SPLIT_SEEDS[self.config.split]
        for _ in range(20):
            if self.world is not None:
                layout = self.world.layout
            else:
                seed = pinned if pinned is not None else int(np_random.integers(lo, hi))
                layout = generate_layout(seed, self.layout_config)
            episode = sample_episode(
                layout,
                np_random,
                self.robot.spec.radius,
                self.config.geodesic_range,
                self.config.min_detour_ratio,
            )
            if episode is not None:
                return layout, episode
            if pinned is not None:
                raise RuntimeError(f"layout seed {pinned} has no start/goal pair meeting the task's ranges")
        if self.world is not None:
            raise RuntimeError(
                f"map {self.world.name!r}: 20 tries found no start/goal pair in the task's ranges"
            )
        raise RuntimeError("20 layouts in a row had no valid start/goal pair; check the task ranges")

    @property
    def goal_geodesic(self) -> float:
        """Geodesic distance (m) from the base to the goal after the last reset or step (grid field)."""
        return float(self._phi)

    # ------------------------------------------------------------------ per step
    def _potential(self, x: float, y: float) -> float:
        """Geodesic distance to the goal (m) at a world point: bilinear in the goal field."""
        assert self.episode is not None
        field, n = self.episode.goal_field, self._n
        fx = min(max((x + self._half) / self._res - 0.5, 0.0), n - 1.001)
        fy = min(max((y + self._half) / self._res - 0.5, 0.0), n - 1.001)
        j, i = int(fx), int(fy)
        ax, ay = fx - j, fy - i
        v00, v01, v10, v11 = field[i, j], field[i, j + 1], field[i + 1, j], field[i + 1, j + 1]
        value = (1 - ay) * ((1 - ax) * v00 + ax * v01) + ay * ((1 - ax) * v10 + ax * v11)
        if math.isfinite(value):
            return float(value)
        nearest = field[min(round(fy), n - 1), min(round(fx), n - 1)]
        return float(nearest) if math.isfinite(nearest) else self._phi

    def evaluate(self, action: FloatArray) -> TaskStatus:
        assert self.episode is not None
        robot, cfg = self.robot, self.config
        robot.refresh()
        x, y = float(robot.position[0]), float(robot.position[1])
        phi = self._potential(x, y)
        progress, self._phi = self._phi - phi, phi
        touching = robot.in_contact_with_other_than(self.scene.floor)
        self._collisions += touching and not self._touching
        self._touching = touching
        self._path_length += math.hypot(x - self._last[0], y - self._last[1])
        self._last = (x, y)
        self.path.append(self._last)
        self._steps += 1
        gx, gy = self.episode.goal
        self._success = math.hypot(gx - x, gy - y) <= cfg.success_radius
        components = {
            "progress": cfg.progress_weight * progress,
            "collision": -cfg.collision_penalty if touching else 0.0,
            "time": -cfg.time_penalty * self._dt,
            "success": cfg.success_bonus if self._success else 0.0,
        }
        terminated = self._success or (touching and cfg.terminate_on_collision)
        return TaskStatus(sum(components.values()), self._success, terminated, components)

    def _polar(self, tx: float, ty: float) -> tuple[tuple[float], tuple[float, float]]:
        """Distance (m, 1 entry) and (cos, sin) of the bearing (2 entries) of a world point.

        Plain tuples: the env's ``VectorLayout.pack`` rounds them to float32 once, as it would
        round float32 arrays (that were rounded from the same doubles), without two arrays a call.
        """
        position = self.robot.position
        dx, dy = tx - float(position[0]), ty - float(position[1])
        c, s = math.cos(self.robot.yaw), math.sin(self.robot.yaw)
        lx, ly = c * dx + s * dy, -s * dx + c * dy
        d = math.hypot(lx, ly)
        bearing = (lx / d, ly / d) if d > 1e-9 else (1.0, 0.0)
        return (d,), bearing

    def waypoint(self) -> tuple[float, float]:
        """World (x, y) of the map-aware waypoint: the shortest path's point ~0.8-1.1 m ahead."""
        assert self.episode is not None and self.layout is not None
        i, j = self.layout.to_cell(float(self.robot.position[0]), float(self.robot.position[1]))
        target = int(self.episode.lookahead[i * self._n + j])
        ti, tj = divmod(target, self._n)
        if self.episode.goal_field[ti, tj] <= 1.5 * self._res:
            return float(self.episode.goal[0]), float(self.episode.goal[1])
        return self.layout.to_world(ti, tj)

    def observe(self) -> dict[str, FloatArray]:
        assert self.episode is not None
        gx, gy = self.episode.goal
        distance, bearing = self._polar(float(gx), float(gy))
        obs: dict[str, Any] = {"goal_distance": distance, "goal_bearing": bearing}  # pack() takes tuples
        if self.config.map_aware:
            obs["waypoint_distance"], obs["waypoint_bearing"] = self._polar(*self.waypoint())
        return obs

    def episode_metrics(self) -> dict[str, float]:
        """success, spl, path_length (m), geodesic_distance (m), collisions (contact onsets),
        time_to_goal (s; NaN on failure) and the layout seed."""
        assert self.episode is not None and self.layout is not None
        geodesic = self.episode.geodesic
        return {
            "success": float(self._success),
            "spl": spl(self._success, geodesic, self._path_length),
            "path_length": self._path_length,
            "geodesic_distance": geodesic,
            "collisions": float(self._collisions),
            "time_to_goal": self._steps * self._dt if self._success else math.nan,
            "layout_seed": float(self.layout.seed),
        }
