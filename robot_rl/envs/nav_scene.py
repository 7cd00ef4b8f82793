"""PyBullet bodies of the navigation arena: built once, re-posed for every layout.

Memory stays flat however many layouts are visited because no body is ever created after
construction. PyBullet cannot rescale a collision shape, so the scene holds fixed pools:

* the floor and the four outer walls (the arena size is fixed per env);
* ``tile_pool`` wall tiles of ``tile_length`` m: an interior wall segment of length ``L >=
  tile_length`` is covered by ``ceil(L / tile_length)`` tiles spaced evenly (they overlap when
  ``L`` is not a multiple of the tile length), so any length is exact;
* per size class of box and of cylinder, as many bodies as a layout may hold obstacles.

Unused bodies are parked in a row far outside the arena (x >= 50 m), out of every lidar ray and
away from the robot. All pooled bodies are static (mass 0, rigid bodies rather than fixed-base
multibodies: see :data:`robot_rl.sim.session.STATIC_BODY_OPTIONS`).
"""

from __future__ import annotations

import math

import numpy as np

from robot_rl.envs.nav_layout import Circle, LayoutConfig, NavLayout, Rect
from robot_rl.sim.session import PyBulletSession

PARK_X = 50.0  #: x (m) of the first parked body; bodies are parked 2 m apart along x.

WALL_RGBA = (0.55, 0.55, 0.6, 1.0)
BOX_RGBA = (0.8, 0.5, 0.2, 1.0)
CYLINDER_RGBA = (0.2, 0.6, 0.3, 1.0)


class NavScene:
    """Floor, outer walls and the pools of tiles, boxes and cylinders for one session.

    Args:
        sim: The env's session.
        config: Layout parameters; fixes arena size, tile length, size classes and counts.
    """

    def __init__(self, sim: PyBulletSession, config: LayoutConfig) -> None:
        self.sim = sim
        self.config = config
        self.floor = sim.load_static_urdf("plane.urdf", [0.0, 0.0, 0.0])
        half, t, h = config.arena_size / 2, config.wall_thickness, config.height
        self._parked = 0
        self.outer: list[int] = []
        for x, y in ((0.0, half + t / 2), (0.0, -half - t / 2)):
            self.outer += self._static_box((half + t, t / 2, h / 2), WALL_RGBA, 1, (x, y))
        for x, y in ((half + t / 2, 0.0), (-half - t / 2, 0.0)):
            self.outer += self._static_box((t / 2, half + t, h / 2), WALL_RGBA, 1, (x, y))
        tiles_per_wall = math.ceil(config.arena_size / config.tile_length) + 2
        self.tile_length = config.tile_length
        self.tiles = self._static_box((config.tile_length / 2, t / 2, h / 2), WALL_RGBA, 2 * tiles_per_wall)
        most = config.obstacle_count[1]
        self.box_pools = [self._static_box((s / 2, s / 2, h / 2), BOX_RGBA, most) for s in config.box_sides]
        self.cylinder_pools = [self._static_cylinder(r, h, most) for r in config.cylinder_radii]
        pooled = self.tiles + [b for p in self.box_pools + self.cylinder_pools for b in p]
        self._home = {b: [PARK_X + 2.0 * k, 0.0, h / 2] for k, b in enumerate(pooled)}
        self._used: list[int] = []

    # ------------------------------------------------------------------ building
    def _park_positions(self, count: int) -> list[list[float]]:
        start = self._parked
        self._parked += count
        return [[PARK_X + 2.0 * (start + k), 0.0, self.config.height / 2] for k in range(count)]

    def _bodies(self, shape: int, visual: int, count: int, at: tuple[float, float] | None) -> list[int]:
        positions = (
            [[at[0], at[1], self.config.height / 2]] if at is not None else self._park_positions(count)
        )
        return self.sim.create_static_bodies(shape, visual, positions)

    def _static_box(
        self, half: tuple[float, float, float], rgba: tuple, count: int, at: tuple[float, float] | None = None
    ) -> list[int]:
        sim = self.sim
        shape = sim.createCollisionShape(sim.GEOM_BOX, halfExtents=half)
        visual = sim.createVisualShape(sim.GEOM_BOX, halfExtents=half, rgbaColor=rgba)
        return self._bodies(shape, visual, count, at)

    def _static_cylinder(self, radius: float, height: float, count: int) -> list[int]:
        sim = self.sim
        shape = sim.createCollisionShape(sim.GEOM_CYLINDER, radius=radius, height=height)
        visual = sim.createVisualShape(
            sim.GEOM_CYLINDER, radius=radius, length=height, rgbaColor=CYLINDER_RGBA
        )
        return self._bodies(shape, visual, count, None)

    # ------------------------------------------------------------------ layouts
    def apply(self, layout: NavLayout) -> None:
        """Pose the pooled bodies for ``layout`` and park the rest.

        Raises:
            RuntimeError: if the layout needs more bodies of a kind than the pool holds (the
                layout config and the scene config disagree).
        """
        if layout.config != self.config:
            raise RuntimeError("layout was generated with another LayoutConfig than this scene's")
        poses: dict[int, tuple[float, float, float]] = {}
        tiles = iter(self.tiles)
        for wall in layout.walls:
            for x, y, yaw in self._tile_poses(wall):
                poses[self._take(tiles, "wall tiles")] = (x, y, yaw)
        box_iters = [iter(p) for p in self.box_pools]
        for b in layout.boxes:
            poses[self._take(box_iters[b.size_class], "boxes")] = (b.cx, b.cy, b.yaw)
        cyl_iters = [iter(p) for p in self.cylinder_pools]
        for c in layout.cylinders:
            poses[self._take(cyl_iters[c.size_class], "cylinders")] = (c.cx, c.cy, 0.0)
        z = self.config.height / 2
        for body in self._used:
            if body not in poses:
                self.sim.resetBasePositionAndOrientation(body, self._home[body], (0, 0, 0, 1))
        for body, (x, y, yaw) in poses.items():
            quat = (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
            self.sim.resetBasePositionAndOrientation(body, [x, y, z], quat)
        self._used = list(poses)

    @staticmethod
    def _take(pool: object, kind: str) -> int:
        try:
            return int(next(pool))  # type: ignore[call-overload]
        except StopIteration:
            raise RuntimeError(f"the scene's pool of {kind} is exhausted; raise the pool size") from None

    def _tile_poses(self, wall: Rect) -> list[tuple[float, float, float]]:
        """Centres and yaw of the tiles covering an axis-aligned wall segment exactly."""
        along_x = wall.hx >= wall.hy
        length = 2 * (wall.hx if along_x else wall.hy)
        n = max(1, math.ceil(length / self.tile_length - 1e-9))
        free = length - self.tile_length
        offsets = np.linspace(-free / 2, free / 2, n) if n > 1 else np.zeros(1)
        if along_x:
            return [(wall.cx + float(o), wall.cy, 0.0) for o in offsets]
        return [(wall.cx, wall.cy + float(o), math.pi / 2) for o in offsets]

    @staticmethod
    def footprint_shapes(layout: NavLayout) -> tuple[list[Rect], list[Circle]]:
        """Every obstacle footprint of ``layout`` (outer walls, wall segments, boxes; cylinders)."""
        return layout.outer_walls + layout.walls + layout.boxes, layout.cylinders
