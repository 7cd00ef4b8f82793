"""MobileNavEnv: differential-drive navigation on procedural layouts (robot_rl/MobileNav-v0).

Observation (float32 Box, named by ``env.unwrapped.obs_layout``): ``lidar`` ranges (m),
``base_speed`` (m/s), ``base_yaw_rate`` (rad/s), ``goal_distance`` (m) and ``goal_bearing``
(cos, sin in the robot frame), ``waypoint_distance``/``waypoint_bearing`` (same form, only with
``map_aware=True``), ``previous_action``.
Action: Box [-1, 1]^2 = (linear, angular), 1.0 = 0.5 m/s and 2.0 rad/s; or, with
``action_type="discrete"``, an index into :data:`MOTION_PRIMITIVES`.

Rates: physics 240 Hz, control 10 Hz (24 substeps): the base moves at most 5 cm per decision,
finer control is not needed to hit a 0.3 m goal radius, and fewer decisions per episode make
credit assignment easier. Episodes last at most ``max_episode_seconds`` (25 s by default: the
5 m upper geodesic at 0.5 m/s takes 10 s, the rest is slack for turns and detours).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.envs.core import EnvSettings, RobotTaskEnv, check_choice, check_range
from robot_rl.envs.nav_episodes import EpisodeSequence, check_record
from robot_rl.envs.nav_layout import SPLIT_SEEDS, LayoutConfig, clearance_to
from robot_rl.envs.nav_map import NavMap, load_world
from robot_rl.envs.robots.diff_drive import DiffDriveRobot, DiffDriveSpec, LidarConfig
from robot_rl.envs.tasks.navigate import NavigateConfig, NavigateTask
from robot_rl.errors import InputError
from robot_rl.sim.session import PyBulletSession
from robot_rl.sim.timing import SimTiming

#: Discrete motion primitives (linear, angular) in action units, for DQN.
MOTION_PRIMITIVES = np.array(
    [
        [1.0, 0.0],  # 0 forward, 0.5 m/s
        [0.6, 0.5],  # 1 forward-left, 0.3 m/s and 1 rad/s
        [0.6, -0.5],  # 2 forward-right
        [0.0, 0.75],  # 3 turn left in place, 1.5 rad/s
        [0.0, -0.75],  # 4 turn right in place
        [-0.5, 0.0],  # 5 back, 0.25 m/s
        [0.0, 0.0],  # 6 stop
    ],
    dtype=np.float32,
)

#: Solver iterations of the navigation envs: about 1.5x the env steps/s of PyBullet's 50, and the
#: planner's success and SPL on the test and hard splits unchanged (``robot-rl bench fidelity
#: --candidate 10``; figures in docs/training.md). A wheeled base on a flat floor has few contacts.
NAV_SOLVER_ITERATIONS = 10

#: Minimum detour ratio (geodesic / straight line) per difficulty.
DIFFICULTIES = {"standard": 1.0, "hard": 1.25}

RESET_OPTIONS = ("layout_seed", "episode")

#: MOTION_PRIMITIVES as the env settings' action table (the same float32 values).
_DISCRETE_TABLE = tuple(tuple(row) for row in MOTION_PRIMITIVES.tolist())


class MobileNavEnv(RobotTaskEnv):
    """Point-goal navigation of a TurtleBot-like base through rooms, doorways and obstacles.

    Args:
        render_mode: ``None`` or ``"rgb_array"`` (top-down image drawn with numpy, no OpenGL).
        action_type: ``"continuous"`` (Box) or ``"discrete"`` (motion primitives).
        split: ``"train"``, ``"val"`` or ``"test"`` layout seed range.
        difficulty: ``"standard"`` or ``"hard"`` (rejects near-straight start/goal pairs).
        map_aware: Include the ``waypoint`` field; ``False`` gives the pure lidar + goal variant.
        lidar_beams, lidar_fov_deg, lidar_range, lidar_noise_std, lidar_dropout: see
            :class:`~robot_rl.envs.robots.diff_drive.LidarConfig` (field of view in degrees).
        geodesic_range: (min, max) start -> goal shortest-path distance, m.
        control_hz, physics_hz: Rates (Hz); physics/control must be a whole number.
        solver_iterations: Constraint-solver iterations per physics step (default
            :data:`NAV_SOLVER_ITERATIONS`; PyBullet's own is 50).
        max_episode_seconds: Time limit (s of simulated time).
        terminate_on_collision: End the episode at the first contact.
        obs_noise_std, action_latency_steps: see :class:`~robot_rl.envs.core.EnvSettings`.
        render_size: Side of the ``rgb_array`` image, px.
        map: A ROS map_server map (YAML path, or a shipped map's name such as ``"office"``) to
            navigate instead of procedural layouts; see :mod:`robot_rl.envs.nav_map`.
        episodes: A frozen episode set (JSON path, or a shipped set's name such as ``"test"``;
            :mod:`robot_rl.envs.nav_episodes`) to replay: every ``reset`` without
            ``options["episode"]`` replays the set's next episode in file order, bit for bit as
            ``reset(seed=record["seed"], options={"episode": record})``; a ``seed`` passed to such a
            reset is ignored (the record's seed is used). After the last episode it wraps around to
            the first (``env.unwrapped.episode_sequence.passes`` counts the passes). The set's
            episode kwargs (``split``, ``difficulty``, ``geodesic_range``, ``map``,
            ``max_episode_seconds``, ``terminate_on_collision``) must equal this env's, or
            construction fails naming the kwarg; an edited file fails its digest check.
    """

    # Only the numpy top-down view: a PyBullet GUI ("human") blocks on machines without a display,
    # which would also hang Gymnasium's checker that opens every declared render mode.
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012 (Gymnasium API)
    robot: DiffDriveRobot
    task: NavigateTask

    def __init__(
        self,
        render_mode: str | None = None,
        action_type: str = "continuous",
        split: str = "train",
        difficulty: str = "standard",
        map_aware: bool = True,
        lidar_beams: int = 24,
        lidar_fov_deg: float = 360.0,
        lidar_range: float = 3.0,
        lidar_noise_std: float = 0.0,
        lidar_dropout: float = 0.0,
        geodesic_range: tuple[float, float] = (1.5, 5.0),
        control_hz: float = 10.0,
        physics_hz: float = 240.0,
        max_episode_seconds: float = 25.0,
        terminate_on_collision: bool = False,
        obs_noise_std: float = 0.0,
        action_latency_steps: int = 0,
        render_size: int = 256,
        map: str | None = None,
        episodes: str | None = None,
        solver_iterations: int = NAV_SOLVER_ITERATIONS,
    ) -> None:
        check_choice("action_type", action_type, ["continuous", "discrete"])
        check_choice("split", split, list(SPLIT_SEEDS))
        check_choice("difficulty", difficulty, list(DIFFICULTIES))
        check_choice("map_aware", map_aware, [True, False])
        check_choice("terminate_on_collision", terminate_on_collision, [True, False])
        check_range("lidar_fov_deg", lidar_fov_deg, low=1.0, high=360.0)
        if not isinstance(render_size, int) or not 32 <= render_size <= 2048:
            raise InputError(f"render_size={render_size!r} is not accepted; expected an int in [32, 2048] px")
        lo, hi = _checked_range(geodesic_range)
        timing = SimTiming(physics_hz=physics_hz, control_hz=control_hz)
        lidar = LidarConfig(
            lidar_beams, math.radians(lidar_fov_deg), lidar_range, lidar_noise_std, lidar_dropout
        )
        check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        settings = EnvSettings(
            timing=timing,
            max_episode_seconds=max_episode_seconds,
            render_mode=render_mode,
            discrete_actions=_DISCRETE_TABLE if action_type == "discrete" else None,
            obs_noise_std=obs_noise_std,
            action_latency_steps=action_latency_steps,
        )
        config = NavigateConfig(
            split=split,
            geodesic_range=(lo, hi),
            min_detour_ratio=DIFFICULTIES[difficulty],
            map_aware=map_aware,
            terminate_on_collision=terminate_on_collision,
        )
        world = load_world(map, DiffDriveSpec().radius, (lo, hi)) if map is not None else None
        self.world: NavMap | None = world
        defining: dict[str, Any] = {"split": split, "difficulty": difficulty, "geodesic_range": (lo, hi)}
        defining |= {"map": map, "max_episode_seconds": max_episode_seconds}
        defining["terminate_on_collision"] = terminate_on_collision
        sha = world.sha256 if world is not None else None
        self.episode_sequence = EpisodeSequence(episodes, defining, sha) if episodes is not None else None
        sim = PyBulletSession("direct", physics_dt=timing.physics_dt, solver_iterations=solver_iterations)
        try:
            robot = DiffDriveRobot(sim, timing, DiffDriveSpec(), lidar)
            task = NavigateTask(sim, robot, config, LayoutConfig(), world=world)
            super().__init__(robot, task, settings)
        except Exception:
            sim.close()  # a rejected argument must not leave a physics client behind
            raise
        self.render_size = render_size
        self._background: tuple[int, NDArray[np.uint8]] | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset; ``options={"layout_seed": s}`` pins the layout (``s`` must be in the split's range),
        ``options={"episode": record}`` replays a frozen episode (:mod:`robot_rl.envs.nav_episodes`);
        made with ``episodes=FILE``, a reset without ``options["episode"]`` replays the set's next one.

        ``info`` holds ``layout_seed`` (the map: :func:`~robot_rl.envs.nav_layout.generate_layout`
        rebuilds it; -1 on a map), ``geodesic_distance`` (m), ``start`` / ``goal`` (world x, y in m),
        ``start_yaw`` (rad), ``map`` / ``map_sha256`` (``None`` without a map) and ``episode_id`` (the
        replayed record's ``id``, ``None`` for a sampled episode).
        """
        options = options or {}
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise InputError(f"unknown reset options {unknown}; accepted: {list(RESET_OPTIONS)}")
        if self.episode_sequence is not None and options.get("episode") is None:
            if "layout_seed" in options:
                raise InputError(
                    f"options['layout_seed'] cannot pick a layout: this env replays the episodes of "
                    f"episodes={self.episode_sequence.name!r}; pass options={{'episode': record}} instead"
                )
            record = self.episode_sequence.next()
            seed, options = int(record["seed"]), {**options, "episode": record}
        if "layout_seed" in options:
            lo, hi = SPLIT_SEEDS[self.task.config.split]
            s = options["layout_seed"]
            if not isinstance(s, int | np.integer) or not lo <= s < hi:
                raise InputError(
                    f"layout_seed={s!r} is outside the {self.task.config.split!r} split [{lo}, {hi})"
                )
        if options.get("episode") is not None:
            sha = self.world.sha256 if self.world is not None else None
            check_record(options["episode"], sha, SPLIT_SEEDS[self.task.config.split])
        obs, info = super().reset(seed=seed, options=options)
        assert self.task.layout is not None and self.task.episode is not None
        info["layout_seed"] = self.task.layout.seed
        info["geodesic_distance"] = self.task.episode.geodesic
        info["start"] = self.task.episode.start.copy()
        info["goal"] = self.task.episode.goal.copy()
        info["start_yaw"] = self.task.start_yaw
        info["map"] = self.world.name if self.world is not None else None
        info["map_sha256"] = self.world.sha256 if self.world is not None else None
        info["episode_id"] = options["episode"]["id"] if options.get("episode") is not None else None
        return obs, info

    # ------------------------------------------------------------------ rendering
    def render_rgb(self) -> NDArray[np.uint8]:
        """Top-down view (HxWx3 uint8): walls/obstacles grey, shortest path light blue, driven path
        blue, lidar hits red, goal green (ring = success radius), robot dark with a heading tick."""
        task, robot = self.task, self.robot
        if task.layout is None or task.episode is None:
            raise RuntimeError("render() needs a reset() first")
        size = self.render_size
        extent = task.layout_config.arena_size / 2 + 2 * task.layout_config.wall_thickness
        scale = size / (2 * extent)

        def px(points: NDArray) -> NDArray[np.intp]:
            pts = np.atleast_2d(points)
            cols = (pts[:, 0] + extent) * scale
            rows = (extent - pts[:, 1]) * scale
            return np.clip(np.stack([rows, cols], 1).astype(np.intp), 0, size - 1)

        img = self._background_for(extent, scale).copy()
        _polyline(img, px(task.episode.path), (170, 210, 250))
        _polyline(img, px(np.asarray(task.path)), (30, 80, 220))
        _disc(img, px(task.episode.goal)[0], task.config.success_radius * scale, (40, 180, 60), ring=True)
        _disc(img, px(task.episode.goal)[0], 0.06 * scale, (40, 180, 60))
        hits = px(robot.hit_points()[robot.ranges < robot.lidar.max_range])
        for dr in (0, 1):
            for dc in (0, 1):
                img[np.minimum(hits[:, 0] + dr, size - 1), np.minimum(hits[:, 1] + dc, size - 1)] = (
                    220,
                    30,
                    30,
                )
        centre = px(robot.position)[0]
        _disc(img, centre, robot.spec.radius * scale, (60, 60, 70))
        nose = robot.position + robot.spec.radius * np.array([math.cos(robot.yaw), math.sin(robot.yaw)])
        _polyline(img, px(np.stack([robot.position, nose])), (250, 250, 250))
        return img

    def _background_for(self, extent: float, scale: float) -> NDArray[np.uint8]:
        layout = self.task.layout
        assert layout is not None
        if self._background is None or self._background[0] != layout.seed:
            size = self.render_size
            axis = -extent + (np.arange(size) + 0.5) / scale
            xs, ys = np.meshgrid(axis, -axis)
            d = clearance_to(
                np.stack([xs, ys], -1), layout.outer_walls + layout.walls + layout.boxes, layout.cylinders
            )
            img = np.full((size, size, 3), 245, np.uint8)
            img[d <= 0] = (110, 110, 120)
            self._background = (layout.seed, img)
        return self._background[1]


def _checked_range(value: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"geodesic_range must be a (min, max) pair in m, got {value!r}") from None
    if not (0.5 <= lo < hi <= 8.0):
        raise InputError(f"geodesic_range={value!r} is not accepted; expected 0.5 <= min < max <= 8.0 m")
    return lo, hi


def _disc(img: NDArray, centre: NDArray, radius: float, colour: tuple, ring: bool = False) -> None:
    r = max(1.0, radius)
    lo_r, lo_c = int(max(centre[0] - r - 1, 0)), int(max(centre[1] - r - 1, 0))
    hi_r, hi_c = min(int(centre[0] + r + 2), img.shape[0]), min(int(centre[1] + r + 2), img.shape[1])
    rows, cols = np.ogrid[lo_r:hi_r, lo_c:hi_c]
    dist = np.hypot(rows - centre[0], cols - centre[1])
    mask = (np.abs(dist - r) <= 1.0) if ring else (dist <= r)
    img[lo_r : lo_r + mask.shape[0], lo_c : lo_c + mask.shape[1]][mask] = colour


def _polyline(img: NDArray, pixels: NDArray, colour: tuple) -> None:
    for a, b in itertools.pairwise(pixels):
        n = int(np.abs(b - a).max()) + 1
        t = np.linspace(0.0, 1.0, n)[:, None]
        pts = np.rint(a + t * (b - a)).astype(np.intp)
        img[pts[:, 0], pts[:, 1]] = colour
