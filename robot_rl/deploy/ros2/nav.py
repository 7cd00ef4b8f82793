"""ROS 2 messages <-> a MobileNav bundle's observation and command (numpy only).

Each observation field of the bundle's layout (``manifest["observation"]``) is built from named
message fields (REP 103: metres, radians, x forward, yaw counter-clockwise):

==================== =========================================================================
field                source
==================== =========================================================================
``lidar``            ``LaserScan.ranges`` resampled to the trained beam angles (nearest beam;
                     the scan frame is taken as the base frame: a lidar mounted at the base
                     centre, facing forward). REP 117: ``+inf`` = no return -> the trained
                     maximum range; ``-inf`` = too close -> 0; ``NaN`` = invalid -> NaN (the
                     safety filter then sends the safe action). Finite values are clipped to
                     [0, trained max range].
``base_speed``       ``Odometry.twist.twist.linear.x`` (m/s, child frame = base)
``base_yaw_rate``    ``Odometry.twist.twist.angular.z`` (rad/s)
``goal_distance``    distance (m) from ``Odometry.pose.pose`` to ``PoseStamped.pose.position``
``goal_bearing``     (cos, sin) of the goal's bearing in the robot frame (yaw from the odometry
                     quaternion)
``waypoint_*``       the same for the waypoint taken from ``nav_msgs/Path`` (see
                     :class:`~robot_rl.deploy.ros2.config.Ros2Settings` ``plan_lookahead_m``)
``previous_action``  the last command the bridge sent, in action units (0 at a new goal, as at an
                     episode reset in training)
==================== =========================================================================

Goal and plan must be in the odometry frame (``header.frame_id`` equal to the odometry's; no
TF lookup). Every value is clipped to its field's trained range, as the env clips its
observation. The trained beam angles are the env's (``LidarConfig.angles``): ``lidar_beams``
evenly over ``lidar_fov_deg`` (env kwargs in the bundle, default 360 degrees), a full circle
from -pi without repeating its end, otherwise from -fov/2 to +fov/2;
``tests/deploy/ros2/test_ros2_nav.py`` checks them against the env's.

Command: ``linear.x = action[0] * per_unit`` (m/s) and ``angular.z = action[1] * per_unit``
(rad/s), with ``per_unit`` from the bundle's ``action.semantics``. A ``MobileNavDiscrete-v0``
bundle's action is an index into its ``action.discrete_actions`` table (the motion primitives):
the row is the action above, and ``previous_action`` (as in the env).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.config import InputTopic, Ros2Settings
from robot_rl.errors import InputError

FIELDS = (
    "lidar",
    "base_speed",
    "base_yaw_rate",
    "goal_distance",
    "goal_bearing",
    "waypoint_distance",
    "waypoint_bearing",
    "previous_action",
)
DEFAULT_FOV_DEG = 360.0


def trained_angles(beams: int, fov_deg: float) -> NDArray[np.float64]:
    """Beam angles (rad, robot frame) of the env's lidar (same rule as ``LidarConfig.angles``)."""
    fov = math.radians(fov_deg)
    if fov >= 2 * math.pi - 1e-9:
        return np.linspace(-math.pi, math.pi, beams, endpoint=False).astype(np.float32).astype(np.float64)
    if beams == 1:
        return np.zeros(1)
    return np.linspace(-fov / 2, fov / 2, beams).astype(np.float32).astype(np.float64)


def yaw_of(q: Any) -> float:
    """Yaw (rad) of a ``geometry_msgs/Quaternion``."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


class NavAdapter:
    """Builds the observation vector of a MobileNav bundle from ROS 2 messages (module docstring).

    Args:
        manifest: The bundle's manifest.
        settings: The ``ros2`` section (topics, ``plan_lookahead_m``); default: the defaults.

    Raises:
        InputError: the bundle is not a MobileNav bundle with a continuous (linear, angular)
            action, or its layout has a field this adapter has no ROS 2 source for, or a
            map-aware bundle without a ``plan`` topic.
    """

    phase_key = "scan"
    sensors = ("scan", "odom")  # aged by the watchdog; goal and plan are set points

    def __init__(self, manifest: dict[str, Any], settings: Ros2Settings | None = None) -> None:
        settings = settings or Ros2Settings()
        env = manifest["env"]
        if not str(env["id"]).startswith(("robot_rl/MobileNav-", "robot_rl/MobileNavDiscrete-")):
            raise InputError(
                "the ros2 nav adapter runs robot_rl/MobileNav-v0 and MobileNavDiscrete-v0 bundles; this "
                f"bundle is for {env['id']!r}"
            )
        action = manifest["action"]
        names = [s.get("name") for s in action.get("semantics") or []]
        table = action.get("discrete_actions")
        if names != ["linear", "angular"] or not (
            action["type"] == "box" or (action["type"] == "discrete" and table)
        ):
            raise InputError(
                "the ros2 nav adapter needs a (linear, angular) action: continuous, or discrete with its "
                f"motion-primitive table; got {action['type']!r} {names}"
            )
        self.per_unit = np.array([float(s["per_unit"]) for s in action["semantics"]])
        #: discrete bundles: action index -> (linear, angular) in action units (the env's primitives)
        self.table = None if action["type"] == "box" else np.asarray(table, np.float64).reshape(-1, 2)
        inputs = manifest["observation"]["inputs"]
        if len(inputs) != 1:
            raise InputError(f"the ros2 nav adapter needs one flat observation; the bundle has {len(inputs)}")
        self.layout = inputs[0]["layout"]
        unknown = [f["name"] for f in self.layout if f["name"] not in FIELDS]
        if unknown:
            raise InputError(
                f"observation fields {unknown} have no ROS 2 source; the nav adapter builds {FIELDS}"
            )
        self.size = int(inputs[0]["size"])
        self.low = np.concatenate([np.full(f["size"], f["low"], np.float64) for f in self.layout])
        self.high = np.concatenate([np.full(f["size"], f["high"], np.float64) for f in self.layout])
        self.slices = {f["name"]: slice(f["start"], f["stop"]) for f in self.layout}
        lidar = next(f for f in self.layout if f["name"] == "lidar")
        self.max_range = float(lidar["high"])
        self.fov_deg = float(env["kwargs"].get("lidar_fov_deg", DEFAULT_FOV_DEG))
        self.angles = trained_angles(int(lidar["size"]), self.fov_deg)
        self.needs_plan = "waypoint_distance" in self.slices or "waypoint_bearing" in self.slices
        if self.needs_plan and settings.plan is None:
            raise InputError(
                "ros2.plan is null but the bundle's observation has waypoint fields (a map-aware policy): "
                "map a nav_msgs/Path topic, e.g. plan: {topic: /plan}"
            )
        self.plan_lookahead_m = float(settings.plan_lookahead_m)
        self.settings = settings
        types = {"scan": m.LaserScan, "odom": m.Odometry, "goal": m.PoseStamped, "plan": m.Path}
        self.inputs: dict[str, InputTopic] = {k: getattr(settings, k) for k in types if getattr(settings, k)}
        self.input_types: dict[str, type] = {k: types[k] for k in self.inputs}
        out = settings.cmd_vel
        self.outputs = {"cmd_vel": (m.TwistStamped if out.stamped else m.Twist, out.topic, out.qos)}
        self.previous_action = np.zeros(len(self.per_unit))
        self._index_key: tuple[float, float, int] | None = None
        self._index = np.zeros(len(self.angles), np.intp)

    # ------------------------------------------------------------------ start-up checks
    def check_scan(self, scan: Any, topic: str) -> None:
        """Refuse a scan whose beams do not cover the trained field of view (names the field)."""
        n, inc, lo = len(scan.ranges), float(scan.angle_increment), float(scan.angle_min)
        if n < 1 or not inc > 0:
            raise InputError(
                f"{topic} (sensor_msgs/LaserScan): angle_increment={inc:g} rad with {n} ranges; "
                "expected a positive increment (counter-clockwise beams) and at least one range"
            )
        tol = 0.5 * inc + 1e-4
        if self.fov_deg >= 360.0 - 1e-9:
            if n * inc < 2 * math.pi - tol:
                raise InputError(
                    f"{topic} (sensor_msgs/LaserScan): angle_min..angle_max covers "
                    f"{math.degrees(n * inc):.1f} degrees ({n} x {inc:.5f} rad) but the policy was trained "
                    "on a 360 degree scan"
                )
            return
        half = math.radians(self.fov_deg) / 2
        hi = lo + (n - 1) * inc
        if lo > -half + tol or hi < half - tol:
            raise InputError(
                f"{topic} (sensor_msgs/LaserScan): angle_min={lo:.4f}, angle_max={hi:.4f} rad do not cover "
                f"the trained field of view [{-half:.4f}, {half:.4f}] rad ({self.fov_deg:g} degrees)"
            )

    def check_frames(self, odom: Any, goal: Any, plan: Any | None, topics: dict[str, str]) -> None:
        """Refuse a goal or plan that is not in the odometry frame (no TF lookups here)."""
        frame = odom.header.frame_id
        for key, msg in (("goal", goal), ("plan", plan)):
            if msg is not None and msg.header.frame_id != frame:
                raise InputError(
                    f"{topics[key]}: header.frame_id={msg.header.frame_id!r} but {topics['odom']} is in "
                    f"{frame!r}; publish the {key} in the odometry frame"
                )

    # ------------------------------------------------------------------ per tick
    def ranges(self, scan: Any) -> NDArray[np.float64]:
        """The scan resampled to the trained beams (REP 117 handling in the module docstring)."""
        raw = np.asarray(scan.ranges, np.float64)
        key = (float(scan.angle_min), float(scan.angle_increment), len(raw))
        if key != self._index_key:
            lo, inc, n = key
            k = (self.angles - lo) / inc
            if self.fov_deg >= 360.0 - 1e-9:
                self._index = np.rint(k).astype(np.intp) % n
            else:
                self._index = np.clip(np.rint(k).astype(np.intp), 0, n - 1)
            self._index_key = key
        out = raw[self._index]
        out[out == np.inf] = self.max_range
        out[out == -np.inf] = 0.0
        return np.clip(out, 0.0, self.max_range)  # NaN stays NaN

    def waypoint(self, plan: Any, x: float, y: float) -> tuple[float, float] | None:
        """The plan pose the policy steers to (``None`` for an empty plan)."""
        poses = plan.poses
        if not poses:
            return None
        for p in poses:
            px, py = p.pose.position.x, p.pose.position.y
            if math.hypot(px - x, py - y) >= self.plan_lookahead_m:
                return px, py
        last = poses[-1].pose.position
        return last.x, last.y

    def observation(self, scan: Any, odom: Any, goal: Any, plan: Any | None) -> NDArray[np.float32]:
        """The observation vector (float32, the bundle's layout); NaN where an input is missing."""
        out = np.full(self.size, np.nan)
        s = self.slices
        if scan is not None:
            out[s["lidar"]] = self.ranges(scan)
        if odom is not None:
            pose, twist = odom.pose.pose, odom.twist.twist
            if "base_speed" in s:
                out[s["base_speed"]] = twist.linear.x
            if "base_yaw_rate" in s:
                out[s["base_yaw_rate"]] = twist.angular.z
            x, y, yaw = pose.position.x, pose.position.y, yaw_of(pose.orientation)
            if goal is not None:
                self._polar(out, "goal", goal.pose.position.x, goal.pose.position.y, x, y, yaw)
            target = self.waypoint(plan, x, y) if plan is not None else None
            if target is not None:
                self._polar(out, "waypoint", target[0], target[1], x, y, yaw)
        if "previous_action" in s:
            out[s["previous_action"]] = self.previous_action
        return np.clip(out, self.low, self.high).astype(np.float32)

    def _polar(self, out: NDArray[np.float64], name: str, tx: float, ty: float, x: float, y: float,
               yaw: float) -> None:  # fmt: skip
        """Distance and (cos, sin) of the bearing of world point (tx, ty), as the env computes them."""
        if f"{name}_distance" not in self.slices:
            return
        dx, dy = tx - x, ty - y
        c, sn = math.cos(yaw), math.sin(yaw)
        lx, ly = c * dx + sn * dy, -sn * dx + c * dy
        d = math.hypot(lx, ly)
        out[self.slices[f"{name}_distance"]] = d
        out[self.slices[f"{name}_bearing"]] = (lx / d, ly / d) if d > 1e-9 else (1.0, 0.0)

    def command(self, action: Any) -> tuple[float, float]:
        """(linear.x m/s, angular.z rad/s) of an action; remembers it as ``previous_action``."""
        if self.table is not None:
            a = self.table[int(np.asarray(action).reshape(-1)[0])]  # index -> the primitive's units
        else:
            a = np.asarray(action, np.float64).reshape(-1)
        self.previous_action = np.clip(a, -1.0, 1.0)
        v = a * self.per_unit
        return float(v[0]), float(v[1])

    # ------------------------------------------------------------------ the bridge's adapter interface
    def check_inputs(self, latest: dict[str, Any], topics: dict[str, str]) -> None:
        """Start-up checks on the first messages: scan coverage, goal/plan frames."""
        self.check_scan(latest["scan"], topics["scan"])
        self.check_frames(latest["odom"], latest["goal"], latest.get("plan"), topics)

    def on_message(self, key: str, previous: Any, msg: Any) -> None:
        """A goal with another pose starts a new episode (:meth:`new_goal`)."""
        if key == "goal" and previous is not None and msg.pose != previous.pose:
            self.new_goal()

    def observe(self, latest: dict[str, Any]) -> NDArray[np.float32]:
        return self.observation(latest["scan"], latest["odom"], latest["goal"], latest.get("plan"))

    def commands(self, action: Any, stamp_s: float) -> dict[str, Any]:
        """The ``/cmd_vel`` message of an action (Twist, or TwistStamped by config)."""
        vx, wz = self.command(action)
        twist = m.Twist(m.Vector3(vx, 0.0, 0.0), m.Vector3(0.0, 0.0, wz))
        if self.settings.cmd_vel.stamped:
            return {
                "cmd_vel": m.TwistStamped(
                    m.Header(m.stamp_of(stamp_s), self.settings.cmd_vel.frame_id), twist
                )
            }
        return {"cmd_vel": twist}

    def new_goal(self) -> None:
        """A new goal starts a new episode: ``previous_action`` restarts at 0 (as an env reset)."""
        self.previous_action = np.zeros(len(self.per_unit))
