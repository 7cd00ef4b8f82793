"""Real floor plans for MobileNav: ROS ``map_server`` occupancy-grid maps (YAML + PGM/PNG image).

``MobileNav-v0(map="floor.yaml")`` (or a shipped map by name, ``map="office"``: see
:func:`shipped_maps`) navigates on a fixed map instead of procedural layouts. The YAML keys are
those of ROS ``map_server`` / Nav2:

* ``image``: the image file, relative to the YAML file (PGM, PNG, anything Pillow reads);
* ``resolution``: metres per pixel;
* ``origin``: ``[x, y, yaw]`` of the lower-left pixel in the map frame (``yaw`` must be 0);
* ``negate``: 0 -> white is free, black occupied; 1 -> the reverse (not used by ``raw``);
* ``occupied_thresh`` / ``free_thresh``: occupancy probability ``p`` above which a pixel is occupied
  and below which it is free (``0 <= free_thresh < occupied_thresh <= 1``);
* ``mode`` (default ``trinary``): ``trinary`` and ``scale`` compute ``p = (255 - v) / 255`` from the
  grey value ``v`` (the channel mean; ``negate: 1`` gives ``p = v / 255``), ``scale`` also marks
  transparent pixels unknown; ``raw`` takes the pixel value as the occupancy in percent (0-100,
  anything above 100 unknown).

For the robot only *free* is free: occupied, in-between (``scale``) and unknown pixels are all
obstacles, since a robot cannot plan through space it has never seen. The obstacle cells are merged
into few axis-aligned boxes (greedy maximal rectangles), which become the static bodies of the
scene, and the map becomes a :class:`~robot_rl.envs.nav_layout.NavLayout` (its clearance grid is
exact for those boxes), so start/goal sampling, geodesics, the reward's distance field, the
waypoint and the scripted planner work on it unchanged.

Frames: the env's world frame puts the centre of the (square-padded) map at (0, 0); a point's map
frame coordinates are its env coordinates plus :attr:`NavMap.frame_offset`. Every position robot_rl
reports (``info["start"]``, episode files, plots) is in the env frame.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.configfile import parse_yaml
from robot_rl.envs.nav_layout import LayoutConfig, NavLayout, Rect, cell_centres, clearance_to
from robot_rl.errors import InputError, MissingInputError
from robot_rl.resources import assets_dir
from robot_rl.sim.session import PyBulletSession

#: ``mode`` values of a ROS map YAML.
MODES = ("trinary", "scale", "raw")
#: Directory of the shipped maps inside the assets.
MAPS_DIR = "maps"
#: The layout seed reported for a map world (there is no generator seed).
MAP_LAYOUT_SEED = -1
WALL_RGBA = (0.55, 0.55, 0.6, 1.0)


@dataclass(frozen=True)
class NavMap:
    """A loaded map.

    Attributes:
        name: What the user passed (a shipped name or the YAML path as given).
        yaml_path: The YAML file.
        sha256: SHA-256 of the YAML bytes, a NUL byte and the image bytes.
        resolution: Metres per cell.
        free: ``(rows, cols)`` bool, row 0 at the bottom (min y), before padding.
        layout: The map as a layout (square-padded; obstacles are merged boxes).
        frame_offset: Map frame = env frame + this (x, y), m.
    """

    name: str
    yaml_path: Path
    sha256: str
    resolution: float
    free: NDArray[np.bool_]
    layout: NavLayout
    frame_offset: tuple[float, float]

    @property
    def boxes(self) -> list[Rect]:
        """The merged obstacle boxes (env frame)."""
        return self.layout.boxes


def shipped_maps() -> dict[str, Path]:
    """Shipped maps by name (``office`` -> ``.../maps/office.yaml``)."""
    root = assets_dir() / MAPS_DIR
    return {p.stem: p for p in sorted(root.glob("*.yaml"))} if root.is_dir() else {}


def resolve_map(arg: str | Path) -> tuple[str, Path]:
    """``(name, yaml path)`` of a map argument: an existing YAML path, or a shipped map's name.

    Raises:
        MissingInputError: neither a file nor a shipped name (the message lists the names).
    """
    text = str(arg)
    path = Path(text)
    if path.is_file():
        return text, path
    shipped = shipped_maps()
    if text in shipped:
        return text, shipped[text]
    names = ", ".join(shipped) or "none"
    raise MissingInputError(f"map {text!r} is neither a YAML file nor a shipped map (shipped maps: {names})")


def map_sha256(yaml_path: Path) -> str:
    """SHA-256 of a map: its YAML bytes, a NUL byte, then its image's bytes."""
    spec = _read_yaml(yaml_path)
    image = _image_path(yaml_path, spec)
    return hashlib.sha256(yaml_path.read_bytes() + b"\0" + image.read_bytes()).hexdigest()


def load_map(arg: str | Path) -> NavMap:
    """Load a map by path or shipped name (cached per resolved path and content).

    Raises:
        MissingInputError: no such map, or its image is missing.
        InputError: a malformed YAML, an unknown mode, thresholds out of order, a yaw != 0, an
            unreadable image, or a map without free space.
    """
    name, path = resolve_map(arg)
    digest = map_sha256(path)
    return _load(name, str(path.resolve()), digest)


@lru_cache(maxsize=16)
def _load(name: str, resolved: str, digest: str) -> NavMap:
    path = Path(resolved)
    spec = _read_yaml(path)
    free = occupancy_free(spec, _read_image(_image_path(path, spec), spec["mode"]))
    if not free.any():
        raise InputError(f"map {name!r} ({path}) has no free cell; check negate and the thresholds")
    res = float(spec["resolution"])
    rows, cols = free.shape
    side = max(rows, cols) + 2  # one ring of obstacle cells around the whole map
    pad_r, pad_c = (side - rows) // 2, (side - cols) // 2
    grid = np.zeros((side, side), bool)
    grid[pad_r : pad_r + rows, pad_c : pad_c + cols] = free
    config = LayoutConfig(
        arena_size=side * res, resolution=res, obstacle_count=(0, 0), room_wall_probs=(1.0, 0.0, 0.0)
    )
    half = config.arena_size / 2
    boxes = [
        Rect(
            -half + (c0 + c1) * res / 2, -half + (r0 + r1) * res / 2, (c1 - c0) * res / 2, (r1 - r0) * res / 2
        )
        for r0, r1, c0, c1 in merge_boxes(~grid)
    ]
    t = config.wall_thickness
    outer = [
        Rect(0.0, half + t / 2, half + t, t / 2),
        Rect(0.0, -half - t / 2, half + t, t / 2),
        Rect(half + t / 2, 0.0, t / 2, half + t),
        Rect(-half - t / 2, 0.0, t / 2, half + t),
    ]
    clearance = clearance_to(cell_centres(config), outer + boxes, []).astype(np.float32)
    layout = NavLayout(MAP_LAYOUT_SEED, config, outer, [], np.zeros((0, 2)), boxes, [], clearance)
    ox, oy = float(spec["origin"][0]), float(spec["origin"][1])
    offset = (ox - pad_c * res + half, oy - pad_r * res + half)
    return NavMap(name, path, digest, res, free, layout, offset)


# ---------------------------------------------------------------------- YAML and image
def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MissingInputError(f"map YAML {path} does not exist")
    # the project's one YAML reader (robot_rl.configfile): YAML 1.2 numbers such as 5e-2
    spec = parse_yaml(path.read_text(encoding="utf-8"), f"map YAML {path}")
    if not isinstance(spec, dict):
        raise InputError(f"map YAML {path} must be a mapping with image, resolution, origin, ...")
    missing = [k for k in ("image", "resolution", "origin") if k not in spec]
    if missing:
        raise InputError(f"map YAML {path} lacks {missing}; a ROS map needs image, resolution and origin")
    spec = {"negate": 0, "occupied_thresh": 0.65, "free_thresh": 0.196, "mode": "trinary", **spec}
    if spec["mode"] not in MODES:
        raise InputError(f"map YAML {path}: mode {spec['mode']!r} is unknown; choose one of {list(MODES)}")
    try:
        res = float(spec["resolution"])
        occ, fre = float(spec["occupied_thresh"]), float(spec["free_thresh"])
        origin = [float(v) for v in spec["origin"]]
    except (TypeError, ValueError):
        raise InputError(
            f"map YAML {path}: resolution, thresholds and origin must be numbers, got "
            f"resolution={spec['resolution']!r}, origin={spec['origin']!r}"
        ) from None
    if not (math.isfinite(res) and res > 0):
        raise InputError(f"map YAML {path}: resolution must be > 0 m/pixel, got {spec['resolution']!r}")
    if not 0.0 <= fre < occ <= 1.0:
        raise InputError(
            f"map YAML {path}: thresholds out of order: need 0 <= free_thresh < occupied_thresh <= 1, "
            f"got free_thresh={fre}, occupied_thresh={occ}"
        )
    if len(origin) != 3 or not all(math.isfinite(v) for v in origin):
        raise InputError(f"map YAML {path}: origin must be [x, y, yaw], got {spec['origin']!r}")
    if origin[2] != 0.0:
        raise InputError(
            f"map YAML {path}: origin yaw {origin[2]} is not supported; rotate the image instead"
        )
    if spec["negate"] not in (0, 1, True, False):
        raise InputError(f"map YAML {path}: negate must be 0 or 1, got {spec['negate']!r}")
    return spec


def _image_path(yaml_path: Path, spec: dict[str, Any]) -> Path:
    image = Path(str(spec["image"]))
    image = image if image.is_absolute() else yaml_path.parent / image
    if not image.is_file():
        raise MissingInputError(
            f"map YAML {yaml_path}: image {spec['image']!r} not found (looked at {image})"
        )
    return image


def _read_image(path: Path, mode: str) -> NDArray[np.float64]:
    """Pixels as float ``(rows, cols, 2)``: grey value 0-255 and alpha 0-255, row 0 at the top."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I", "I;16", "F"):
                grey = np.asarray(img, np.float64)
                alpha = np.full(grey.shape, 255.0)
            else:
                rgba = np.asarray(img.convert("RGBA"), np.float64)
                grey = rgba[..., :3].mean(axis=-1) if mode != "raw" else rgba[..., 0]
                alpha = rgba[..., 3]
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"map image {path} cannot be read: {exc}") from None
    if grey.ndim != 2 or grey.size == 0:
        raise InputError(f"map image {path} is empty or not 2-D")
    return np.stack([grey, alpha], axis=-1)


def occupancy_free(spec: dict[str, Any], pixels: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Free cells (bool, row 0 = bottom of the map) from image pixels (``(rows, cols, 2)``: grey,
    alpha; row 0 at the top), following map_server's modes; only confidently free pixels are free."""
    grey, alpha = pixels[..., 0], pixels[..., 1]
    fre = float(spec["free_thresh"])
    if spec["mode"] == "raw":
        free = (grey <= 100) & (grey / 100.0 < fre)
    else:
        p = grey / 255.0 if spec["negate"] else (255.0 - grey) / 255.0
        free = p < fre
        if spec["mode"] == "scale":
            free &= alpha >= 255
    return np.flipud(free).copy()


def merge_boxes(occupied: NDArray[np.bool_]) -> list[tuple[int, int, int, int]]:
    """Cover the ``True`` cells exactly by disjoint rectangles ``(row0, row1, col0, col1)``
    (half-open): greedy, row by row, each run as wide as it goes, then as tall as the run stays
    occupied. Few boxes for drawn floor plans (walls are long runs)."""
    todo = occupied.copy()
    rows, cols = todo.shape
    out: list[tuple[int, int, int, int]] = []
    for r in range(rows):
        c = 0
        while c < cols:
            if not todo[r, c]:
                c += 1
                continue
            c1 = c
            while c1 < cols and todo[r, c1]:
                c1 += 1
            r1 = r + 1
            while r1 < rows and todo[r1, c:c1].all():
                r1 += 1
            todo[r:r1, c:c1] = False
            out.append((r, r1, c, c1))
            c = c1
    return out


def check_base_fits(nav_map: NavMap, robot_radius: float) -> None:
    """Refuse a map whose cells are wider than the base (it would squeeze through single cells).

    Raises:
        InputError: ``resolution > 2 * robot_radius``.
    """
    if nav_map.resolution > 2 * robot_radius:
        raise InputError(
            f"map {nav_map.name!r}: resolution {nav_map.resolution} m/cell makes the base "
            f"({2 * robot_radius:.3f} m wide) thinner than one cell; "
            f"use a finer map (<= {2 * robot_radius:.3f} m/cell)"
        )


# ---------------------------------------------------------------------- PyBullet bodies
class MapScene:
    """Floor and one static box per merged obstacle box of a map, built once (the map never changes).

    The same interface as :class:`~robot_rl.envs.nav_scene.NavScene`: ``floor`` and ``apply``.
    """

    def __init__(self, sim: PyBulletSession, nav_map: NavMap) -> None:
        self.sim = sim
        self.layout = nav_map.layout
        self.floor = sim.load_static_urdf("plane.urdf", [0.0, 0.0, 0.0])
        h = self.layout.config.height
        self.bodies: list[int] = []
        for b in self.layout.outer_walls + self.layout.boxes:
            half = (b.hx, b.hy, h / 2)
            shape = sim.createCollisionShape(sim.GEOM_BOX, halfExtents=half)
            visual = sim.createVisualShape(sim.GEOM_BOX, halfExtents=half, rgbaColor=WALL_RGBA)
            self.bodies += sim.create_static_bodies(shape, visual, [[b.cx, b.cy, h / 2]])

    def apply(self, layout: NavLayout) -> None:
        """Nothing to move: the bodies are the map's.

        Raises:
            RuntimeError: ``layout`` is not this scene's map.
        """
        if layout is not self.layout:
            raise RuntimeError("a map scene shows its own map only")


def check_reachable(
    nav_map: NavMap,
    robot_radius: float,
    geodesic_range: tuple[float, float],
    spawn_margin: float = 0.1,
    path_margin: float = 0.03,
    tries: int = 30,
) -> None:
    """Refuse a map on which no start/goal pair can be sampled (the env's constructor calls this).

    Tries up to ``tries`` start cells (a fixed generator): one with a spawnable goal at a grid
    geodesic distance within ``geodesic_range`` is enough.

    Raises:
        InputError: no free space wide enough for the base, or no pair in the range.
    """
    from robot_rl.envs.nav_layout import distance_field

    layout = nav_map.layout
    spawn = np.argwhere(layout.free(robot_radius + spawn_margin))
    if len(spawn) == 0:
        raise InputError(
            f"map {nav_map.name!r} has no free cell with {robot_radius + spawn_margin:.2f} m clearance "
            "for the base; its free space is too narrow"
        )
    trav = layout.free(robot_radius + path_margin)
    rng = np.random.default_rng(0)
    lo, hi = geodesic_range
    for index in rng.permutation(len(spawn))[:tries]:
        start = (int(spawn[index][0]), int(spawn[index][1]))
        d = distance_field(trav, start, layout.config.resolution)[spawn[:, 0], spawn[:, 1]]
        if np.any((d >= lo) & (d <= hi)):
            return
    raise InputError(
        f"map {nav_map.name!r} has no reachable start/goal pair {lo}-{hi} m apart with clearance for "
        f"the base (tried {min(tries, len(spawn))} start cells); check the map or geodesic_range"
    )


def load_world(arg: str | Path, robot_radius: float, geodesic_range: tuple[float, float]) -> NavMap:
    """:func:`load_map`, then refuse maps the base cannot use (:func:`check_base_fits`,
    :func:`check_reachable`): what ``MobileNav-v0(map=...)`` calls."""
    nav_map = load_map(arg)
    check_base_fits(nav_map, robot_radius)
    check_reachable(nav_map, robot_radius, geodesic_range)
    return nav_map
