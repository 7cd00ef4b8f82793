"""Procedural navigation layouts: walled arena, rooms with doorways, box and cylinder obstacles.

A layout is a pure function of its *layout seed* and a :class:`LayoutConfig`; it carries a
``clearance`` grid (metres from each cell centre to the nearest obstacle surface, exact for the
analytic shapes) from which every occupancy grid is derived by thresholding. Grid shortest paths
are a vectorised 8-connected Dijkstra (label-correcting relaxation in numpy), start/goal pairs are
sampled in free space with a geodesic distance in a stated range.

World frame: x right, y up, origin at the arena centre; grid cell ``(i, j)`` covers
``x in [-half + j*res, -half + (j+1)*res)``, ``y in [-half + i*res, ...)`` (row = y, column = x).

Size ranges (defaults, see :class:`LayoutConfig`):
    * arena: 6 m x 6 m inside, outer walls 0.1 m thick, 0.5 m tall;
    * room walls: 0 to 2 interior walls (a full-width one, then a perpendicular one ending on it),
      each with one doorway 0.9-1.2 m wide;
    * boxes: square footprint with side 0.3, 0.45 or 0.6 m (three size classes), any yaw;
    * cylinders: radius 0.1, 0.175 or 0.25 m (three size classes); all obstacles 0.5 m tall;
    * 3 to 6 obstacles, kept 0.1 m apart and out of doorways.

Splits draw layout seeds from disjoint ranges (:data:`SPLIT_SEEDS`): a test layout can never be a
training layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

#: Layout seed ranges ``[start, stop)`` per split; disjoint by construction.
SPLIT_SEEDS: dict[str, tuple[int, int]] = {
    "train": (0, 1_000_000),
    "val": (1_000_000, 1_100_000),
    "test": (1_100_000, 1_200_000),
}

#: 8-connected neighbourhood: (row offset, column offset, length in cells).
NEIGHBOURS: tuple[tuple[int, int, float], ...] = tuple(
    (di, dj, math.hypot(di, dj)) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)
)


@dataclass(frozen=True)
class LayoutConfig:
    """Generator parameters (lengths in m).

    Attributes:
        arena_size: Inner side of the square arena.
        resolution: Grid cell side.
        wall_thickness: Thickness of outer and interior walls.
        height: Height of walls and obstacles (above the lidar plane).
        tile_length: Length of one pooled interior-wall tile; wall segments are >= one tile.
        doorway_width: (min, max) doorway width.
        room_wall_probs: Probabilities of 0, 1 and 2 interior walls.
        obstacle_count: (min, max) number of obstacles, inclusive.
        box_sides: Box footprint side per size class.
        cylinder_radii: Cylinder radius per size class.
    """

    arena_size: float = 6.0
    resolution: float = 0.1
    wall_thickness: float = 0.1
    height: float = 0.5
    tile_length: float = 0.5
    doorway_width: tuple[float, float] = (0.9, 1.2)
    room_wall_probs: tuple[float, float, float] = (0.2, 0.4, 0.4)
    obstacle_count: tuple[int, int] = (3, 6)
    box_sides: tuple[float, ...] = (0.3, 0.45, 0.6)
    cylinder_radii: tuple[float, ...] = (0.1, 0.175, 0.25)

    @property
    def cells(self) -> int:
        """Grid cells per side."""
        return round(self.arena_size / self.resolution)


@dataclass(frozen=True)
class Rect:
    """An oriented rectangle footprint: centre (m), half extents (m), yaw (rad), size class."""

    cx: float
    cy: float
    hx: float
    hy: float
    yaw: float = 0.0
    size_class: int = 0


@dataclass(frozen=True)
class Circle:
    """A cylinder footprint: centre (m), radius (m), size class."""

    cx: float
    cy: float
    radius: float
    size_class: int = 0


@dataclass
class NavLayout:
    """One generated layout.

    Attributes:
        seed: Layout seed it was generated from.
        config: Generator parameters.
        outer_walls: The four arena walls (fixed).
        walls: Interior wall segments (axis-aligned, each covered by pooled tiles).
        doorways: Doorway centres (m), shape ``(k, 2)``.
        boxes: Box obstacles.
        cylinders: Cylinder obstacles.
        clearance: ``(cells, cells)`` float32, metres from each cell centre to the nearest surface
            (negative inside an obstacle).
    """

    seed: int
    config: LayoutConfig
    outer_walls: list[Rect]
    walls: list[Rect]
    doorways: NDArray[np.float64]
    boxes: list[Rect]
    cylinders: list[Circle]
    clearance: NDArray[np.float32] = field(repr=False)

    def free(self, margin: float) -> NDArray[np.bool_]:
        """Occupancy grid's free cells: clearance >= ``margin`` (m), shape ``(cells, cells)``."""
        return self.clearance >= margin

    def to_cell(self, x: float, y: float) -> tuple[int, int]:
        """Cell ``(row, col)`` containing world point (x, y), clamped to the grid."""
        c, half, n = self.config.resolution, self.config.arena_size / 2, self.config.cells
        return min(max(int((y + half) / c), 0), n - 1), min(max(int((x + half) / c), 0), n - 1)

    def to_world(self, row: int, col: int) -> tuple[float, float]:
        """World (x, y) of the centre of cell ``(row, col)``."""
        c, half = self.config.resolution, self.config.arena_size / 2
        return -half + (col + 0.5) * c, -half + (row + 0.5) * c


# ---------------------------------------------------------------------- distance geometry
def clearance_to(points: NDArray[np.float64], rects: list[Rect], circles: list[Circle]) -> NDArray:
    """Signed distance (m) from ``points`` ``(..., 2)`` to the union of the shapes."""
    out = np.full(points.shape[:-1], np.inf)
    for r in rects:
        c, s = math.cos(r.yaw), math.sin(r.yaw)
        dx, dy = points[..., 0] - r.cx, points[..., 1] - r.cy
        qx = np.abs(c * dx + s * dy) - r.hx
        qy = np.abs(-s * dx + c * dy) - r.hy
        d = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0)
        np.minimum(out, d, out=out)
    for ci in circles:
        np.minimum(out, np.hypot(points[..., 0] - ci.cx, points[..., 1] - ci.cy) - ci.radius, out=out)
    return out


def cell_centres(config: LayoutConfig) -> NDArray[np.float64]:
    """World coordinates of every cell centre, shape ``(cells, cells, 2)`` as (x, y)."""
    axis = -config.arena_size / 2 + (np.arange(config.cells) + 0.5) * config.resolution
    xs, ys = np.meshgrid(axis, axis)
    return np.stack([xs, ys], axis=-1)


# ---------------------------------------------------------------------- generation
def generate_layout(seed: int, config: LayoutConfig | None = None) -> NavLayout:
    """Build the layout of ``seed`` (deterministic; independent of any other generator)."""
    config = config or LayoutConfig()
    rng = np.random.default_rng(seed)
    half, t = config.arena_size / 2, config.wall_thickness
    outer = [
        Rect(0.0, half + t / 2, half + t, t / 2),
        Rect(0.0, -half - t / 2, half + t, t / 2),
        Rect(half + t / 2, 0.0, t / 2, half + t),
        Rect(-half - t / 2, 0.0, t / 2, half + t),
    ]
    walls, doors = _room_walls(rng, config)
    boxes, cylinders = _obstacles(rng, config, doors)
    clearance = clearance_to(cell_centres(config), outer + walls + boxes, cylinders).astype(np.float32)
    doorways = np.asarray(doors, dtype=np.float64).reshape(-1, 2)
    return NavLayout(seed, config, outer, walls, doorways, boxes, cylinders, clearance)


def _room_walls(rng: np.random.Generator, cfg: LayoutConfig) -> tuple[list[Rect], list[tuple]]:
    """0-2 interior walls with one doorway each; returns wall segments and doorway centres."""
    half, t = cfg.arena_size / 2, cfg.wall_thickness / 2
    count = int(rng.choice(3, p=np.asarray(cfg.room_wall_probs)))
    walls: list[Rect] = []
    doors: list[tuple[float, float]] = []
    vertical = bool(rng.random() < 0.5)
    offset = float(rng.uniform(-0.25, 0.25) * cfg.arena_size)
    spans = [(offset, -half, half, vertical)]
    if count == 2:
        side = -half if rng.random() < 0.5 else half
        offset2 = float(rng.uniform(-0.25, 0.25) * cfg.arena_size)
        lo, hi = sorted((side, offset))
        spans.append(
            (offset2, lo + (t if lo == offset else 0), hi - (t if hi == offset else 0), not vertical)
        )
    for off, lo, hi, is_vertical in spans[:count]:
        width = float(rng.uniform(*cfg.doorway_width))
        tile = cfg.tile_length
        start = float(rng.uniform(lo + tile, hi - tile - width)) if hi - lo > 2 * tile + width else lo
        door_lo, door_hi = start, min(start + width, hi)
        centre = (door_lo + door_hi) / 2
        doors.append((off, centre) if is_vertical else (centre, off))
        for a, b in ((lo, door_lo), (door_hi, hi)):
            if b - a >= tile - 1e-9:
                mid, h = (a + b) / 2, (b - a) / 2
                walls.append(Rect(off, mid, t, h) if is_vertical else Rect(mid, off, h, t))
    return walls, doors


def _obstacles(
    rng: np.random.Generator, cfg: LayoutConfig, doors: list[tuple[float, float]]
) -> tuple[list[Rect], list[Circle]]:
    """Random boxes and cylinders, out of doorways and apart from each other."""
    half = cfg.arena_size / 2
    lo, hi = cfg.obstacle_count
    count = int(rng.integers(lo, hi + 1))
    boxes: list[Rect] = []
    cylinders: list[Circle] = []
    placed: list[tuple[float, float, float]] = []  # x, y, bounding radius
    for _ in range(count):
        for _attempt in range(30):
            is_box = bool(rng.random() < 0.5)
            cls = int(rng.integers(len(cfg.box_sides if is_box else cfg.cylinder_radii)))
            size = cfg.box_sides[cls] / math.sqrt(2) if is_box else cfg.cylinder_radii[cls]
            x, y = rng.uniform(-half + size, half - size, size=2)
            yaw = float(rng.uniform(-math.pi, math.pi))
            near_door = any(math.hypot(x - dx, y - dy) < size + 0.9 for dx, dy in doors)
            near_other = any(math.hypot(x - px, y - py) < size + pr + 0.1 for px, py, pr in placed)
            if near_door or near_other:
                continue
            placed.append((x, y, size))
            if is_box:
                hs = cfg.box_sides[cls] / 2
                boxes.append(Rect(float(x), float(y), hs, hs, yaw, cls))
            else:
                cylinders.append(Circle(float(x), float(y), cfg.cylinder_radii[cls], cls))
            break
    return boxes, cylinders


# ---------------------------------------------------------------------- shortest paths
def distance_field(traversable: NDArray[np.bool_], source: tuple[int, int], resolution: float) -> NDArray:
    """Grid geodesic distance (m) from ``source`` to every cell, 8-connected (inf if unreachable).

    Vectorised label-correcting Dijkstra (see :func:`relax`); exact for the 8-connected grid graph.
    """
    dist = np.full(traversable.shape, np.inf)
    if traversable[source]:
        dist[source] = 0.0
        relax(dist, traversable, resolution)
    return dist


def relax(
    dist: NDArray, traversable: NDArray[np.bool_], resolution: float, max_passes: int = 10**6
) -> NDArray:
    """Lower ``dist`` in place through 8-connected moves inside ``traversable`` until it settles.

    Every pass relaxes all cells through each neighbour offset (numpy slices, in place), so a pass
    costs tens of microseconds on a 60 x 60 grid. Diagonal moves that cut a blocked corner are
    not allowed. Cells outside ``traversable`` keep their value.
    """
    n_rows, n_cols = traversable.shape
    keep = ~traversable
    kept = dist[keep]
    moves = []
    for di, dj, length in NEIGHBOURS:
        dst = (slice(max(di, 0), n_rows + min(di, 0)), slice(max(dj, 0), n_cols + min(dj, 0)))
        src = (slice(max(-di, 0), n_rows + min(-di, 0)), slice(max(-dj, 0), n_cols + min(-dj, 0)))
        ok = traversable[dst] & traversable[src]
        if di and dj:  # no corner cutting: both orthogonal side cells must be free
            ok &= np.roll(traversable, (di, 0), axis=(0, 1))[dst] & np.roll(traversable, (0, dj), (0, 1))[dst]
        moves.append((dst, src, np.where(ok, length * resolution, np.inf)))
    for _ in range(max_passes):
        before = dist.copy()
        for dst, src, cost in moves:
            np.minimum(dist[dst], dist[src] + cost, out=dist[dst])
        dist[keep] = kept
        if np.array_equal(dist, before):
            break
    return dist


def descend(dist: NDArray, start: tuple[int, int]) -> list[tuple[int, int]]:
    """Cells from ``start`` to the field's zero cell, steepest descent on ``dist``.

    Raises:
        ValueError: if ``start`` is unreachable in ``dist``.
    """
    if not np.isfinite(dist[start]):
        raise ValueError(f"cell {start} is unreachable; pick a start with a finite distance")
    path = [start]
    n_rows, n_cols = dist.shape
    while dist[path[-1]] > 0:
        i, j = path[-1]
        options = [
            (dist[i + di, j + dj], (i + di, j + dj))
            for di, dj, _ in NEIGHBOURS
            if 0 <= i + di < n_rows and 0 <= j + dj < n_cols
        ]
        path.append(min(options)[1])
    return path


def line_of_sight(layout: NavLayout, a: NDArray, b: NDArray, margin: float) -> bool:
    """Whether the segment a-b (world m) keeps ``margin`` metres from every obstacle surface."""
    steps = max(2, math.ceil(float(np.linalg.norm(b - a)) / (layout.config.resolution / 4)))
    pts = a + np.linspace(0.0, 1.0, steps)[:, None] * (b - a)
    shapes = layout.outer_walls + layout.walls + layout.boxes
    return bool(np.all(clearance_to(pts, shapes, layout.cylinders) >= margin))


def shortcut_path(layout: NavLayout, points: NDArray, margin: float) -> NDArray:
    """String-pull a polyline (``(n, 2)`` world m): from each kept point, jump to the farthest
    following point still in sight (greedy, O(n) sight checks), keeping ``margin`` m clearance."""
    out = [points[0]]
    anchor, last = 0, len(points) - 1
    while anchor < last:
        nxt = anchor + 1
        while nxt < last and line_of_sight(layout, points[anchor], points[nxt + 1], margin):
            nxt += 1
        out.append(points[nxt])
        anchor = nxt
    return np.asarray(out)


def polyline_length(points: NDArray) -> float:
    """Length (m) of a polyline ``(n, 2)``."""
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum()) if len(points) > 1 else 0.0
