"""A PyBullet robot that speaks ROS 2: the rehearsal partner of ``deploy --hardware ros2``.

MobileNav (below) or PandaGrasp: the arm publishes ``/joint_states`` (finger joints), ``/ee_pose``,
``/ee_twist``, ``/object_pose``, ``/object_twist`` and ``/finger_contacts`` after every 50 ms
control step and applies ``/servo_node/delta_twist_cmds`` (TwistStamped) and
``/gripper_controller/commands`` (Float64MultiArray); ``nan@T`` makes the object pose NaN
(:func:`arm_messages`; the message conventions are :mod:`robot_rl.deploy.ros2.arm`'s).

For MobileNav, the robot runs :class:`~robot_rl.deploy.hardware.SimHardware` (the env, its
episodes and resets) in real time at its command rate (100 Hz by default: the motor controller
applies the latest ``/cmd_vel``, the physics of a control step spread over its ticks exactly as in
``deploy --hardware sim``) and after every control step publishes what the robot's drivers would:

* ``/scan`` ``sensor_msgs/LaserScan`` (frame ``base_scan``; the env's beams, ``+inf`` where
  nothing is hit within the range, REP 117), BEST_EFFORT;
* ``/odom`` ``nav_msgs/Odometry`` (frame ``odom``, child ``base_link``; pose, forward speed and
  yaw rate), RELIABLE;
* ``/goal_pose`` ``geometry_msgs/PoseStamped`` (the episode's goal, odom frame) and ``/plan``
  ``nav_msgs/Path`` (two poses: the env's lookahead waypoint on its shortest path, then the
  goal; so the waypoint is the plan's first pose), RELIABLE.

Ticks follow a fixed wall-clock grid (a late tick is caught up, never skipped), so sensor
messages come every control period in wall time. A command older than ``cmd_timeout_s`` (0.5 s)
is replaced by zero velocity, as base controllers do. The simulation starts with the first
command received: until then the robot publishes its initial state with fresh stamps every control
period, so the deploy side can start up without the episode clock running (and the first sensor
message after the first command comes within a control period and 5 ms). Episode outcomes are
reported as they finish.

Transport faults (:class:`TransportFaults`, ``--inject``): ``drop=P`` drops each sensor message
with probability P, ``delay=S`` publishes sensor messages S seconds after they were stamped,
``stop@T`` silences the sensors T seconds after the start, ``nan@T`` makes every range NaN from T on.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.node import Ros2Node
from robot_rl.deploy.ros2.qos import DEFAULT, SENSOR_DATA
from robot_rl.errors import InputError

CMD_TIMEOUT_S = 0.5


@dataclass
class TransportFaults:
    """Faults of the robot's sensor stream (see module docstring); times in seconds from the start."""

    drop: float = 0.0
    delay: float = 0.0
    stop_at: float | None = None
    nan_at: float | None = None

    @classmethod
    def parse(cls, specs: list[str]) -> TransportFaults:
        """``["drop=0.2,delay=0.05", "stop@3"]`` -> faults (comma-separated or repeated).

        Raises:
            InputError: an unknown kind or a value out of range (what is accepted is named).
        """
        faults = cls()
        for spec in (s.strip() for group in specs for s in group.split(",") if s.strip()):
            kind, sep, value = spec.partition("=") if "=" in spec else spec.partition("@")
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            ok = sep and math.isfinite(number) and number >= 0
            if kind == "drop" and sep == "=" and ok and number <= 1:
                faults.drop = number
            elif kind == "delay" and sep == "=" and ok and number <= 5:
                faults.delay = number
            elif kind in ("stop", "nan") and sep == "@" and ok:
                setattr(faults, f"{kind}_at", number)
            else:
                raise InputError(
                    f"--inject {spec!r} is not accepted; expected drop=P (0..1), delay=S (0..5 s), "
                    "stop@T or nan@T (T seconds after the start), comma-separated"
                )
        return faults


def sensor_messages(env: Any, stamp_s: float, nan_ranges: bool = False) -> dict[str, Any]:
    """The robot's sensor messages of the env's current state (``/scan``, ``/odom``, goal, plan)."""
    base = env.unwrapped
    robot, task = base.robot, base.task
    header = m.Header(m.stamp_of(stamp_s), "odom")
    cfg = robot.lidar
    ranges = np.asarray(robot.ranges, np.float64)
    ranges = np.where(ranges >= cfg.max_range, np.inf, ranges)  # no return within the range: +inf
    if nan_ranges:
        ranges = np.full_like(ranges, np.nan)
    angles = cfg.angles()
    inc = float(angles[1] - angles[0]) if len(angles) > 1 else 0.0
    scan = m.LaserScan(
        m.Header(header.stamp, "base_scan"), float(angles[0]), float(angles[-1]), inc, 0.0,
        float(base.dt), 0.0, float(cfg.max_range), [float(r) for r in ranges], [],
    )  # fmt: skip
    yaw = float(robot.yaw)
    quat = m.Quaternion(0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
    pose = m.Pose(m.Point(float(robot.position[0]), float(robot.position[1]), 0.0), quat)
    twist = m.Twist(
        m.Vector3(float(robot.velocity[0]), 0.0, 0.0), m.Vector3(0.0, 0.0, float(robot.velocity[1]))
    )
    odom = m.Odometry(header, "base_link", m.PoseWithCovariance(pose), m.TwistWithCovariance(twist))
    gx, gy = (float(v) for v in task.episode.goal)
    goal = m.PoseStamped(m.Header(m.Time(), "odom"), m.Pose(m.Point(gx, gy, 0.0)))
    out = {"scan": scan, "odom": odom, "goal": goal}
    if getattr(task.config, "map_aware", False):
        wx, wy = task.waypoint()
        out["plan"] = m.Path(header, [m.PoseStamped(header, m.Pose(m.Point(wx, wy, 0.0))), goal])
    return out


def arm_messages(env: Any, stamp_s: float, nan_object: bool = False) -> dict[str, Any]:
    """The arm's sensor messages of a PandaGrasp env's state (see :mod:`robot_rl.deploy.ros2.arm`).

    ``/joint_states`` carries the two finger joints (half the opening each); ``/ee_pose`` points
    the gripper down with its x axis at the env's ``ee_yaw``; ``nan_object`` makes the object
    pose NaN (a perception failure).
    """
    base = env.unwrapped
    robot, task = base.robot.observe(), base.task.observe()
    stamp = m.stamp_of(stamp_s)

    def h() -> m.Header:  # one header per message, as separate publishers send
        return m.Header(m.Time(stamp.sec, stamp.nanosec), "world")

    half = float(robot["gripper_opening"][0]) / 2
    joints = m.JointState(h(), list(FINGER_JOINTS), [half, half], [], [])
    yaw = float(robot["ee_yaw"][0])
    down = m.Quaternion(math.cos(yaw / 2), math.sin(yaw / 2), 0.0, 0.0)  # Rz(yaw) * Rx(pi)
    ee_pose = m.PoseStamped(h(), m.Pose(m.Point(*map(float, robot["ee_position"])), down))
    ee_twist = m.TwistStamped(h(), m.Twist(m.Vector3(*map(float, robot["ee_velocity"]))))
    position = [math.nan] * 3 if nan_object else [float(v) for v in task["object_position"]]
    q = m.Quaternion(*map(float, task["object_orientation"]))
    obj_pose = m.PoseStamped(h(), m.Pose(m.Point(*position), q))
    linear = m.Vector3(*map(float, task["object_linear_velocity"]))
    obj_twist = m.TwistStamped(h(), m.Twist(linear, m.Vector3(*map(float, task["object_angular_velocity"]))))
    layout = m.MultiArrayLayout([m.MultiArrayDimension("fingers", 2, 2)], 0)
    contacts = m.Float64MultiArray(layout, [float(v) for v in task["finger_contacts"]])
    return {"joint_states": joints, "ee_pose": ee_pose, "ee_twist": ee_twist, "object_pose": obj_pose,
            "object_twist": obj_twist, "finger_contacts": contacts}  # fmt: skip


FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")


def depth_messages(depth_m: Any, camera: dict[str, Any], stamp_s: float) -> dict[str, Any]:
    """A depth image (``(H, W)`` metres, 0 = no measurement) as ``32FC1`` ``sensor_msgs/Image`` plus
    its ``sensor_msgs/CameraInfo`` (the camera contract's intrinsics, no distortion), frame
    ``camera_depth_optical_frame``."""
    depth = np.ascontiguousarray(depth_m, dtype="<f4")
    h, w = depth.shape
    stamp = m.stamp_of(stamp_s)
    frame = "camera_depth_optical_frame"
    fx, fy, cx, cy = (float(camera[k]) for k in ("fx", "fy", "cx", "cy"))
    data: Any = depth.tobytes()  # cyclonedds takes bytes for a uint8 sequence (no list of 16k ints)
    image = m.Image(m.Header(m.Time(stamp.sec, stamp.nanosec), frame), h, w, "32FC1", 0, 4 * w, data)
    k: Any = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]  # fixed-size arrays: lists of 9, 9 and 12
    r: Any = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    p: Any = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info = m.CameraInfo(
        m.Header(m.Time(stamp.sec, stamp.nanosec), frame), h, w, "plumb_bob", [0.0] * 5, k, r, p
    )
    return {"depth_image": image, "camera_info": info}


class NavIO:
    """The nav robot's topics: sensors out, ``/cmd_vel`` in (action = velocity / per unit)."""

    sensors = ("scan", "odom")  # what drop / delay / stop act on; goal and plan are set points

    def __init__(self, node: Ros2Node, env: Any) -> None:
        self.writers = {
            "scan": node.writer("/scan", m.LaserScan, SENSOR_DATA),
            "odom": node.writer("/odom", m.Odometry, DEFAULT),
            "goal": node.writer("/goal_pose", m.PoseStamped, DEFAULT),
            "plan": node.writer("/plan", m.Path, DEFAULT),
        }
        self.reader = node.reader("/cmd_vel", m.Twist, DEFAULT)
        self.per_unit = np.array([float(s["per_unit"]) for s in env.unwrapped.action_semantics()])
        self.idle = np.zeros(2, np.float32)

    def messages(self, env: Any, stamp_s: float, nan: bool, obs: Any = None) -> dict[str, Any]:
        return sensor_messages(env, stamp_s, nan)

    def take(self, node: Ros2Node, held: Any) -> tuple[Any, int]:
        """(the newest command as an action, or ``held``; how many messages arrived)."""
        msgs = node.take_all(self.reader, m.Twist)
        if not msgs:
            return held, 0
        t = msgs[-1]
        return (np.array([t.linear.x, t.angular.z]) / self.per_unit).astype(np.float32), len(msgs)

    def timed_out(self, held: Any) -> Any:
        return self.idle.copy()


class ArmIO:
    """The arm's topics: joint states, poses, twists, contacts out; a MoveIt Servo twist and a
    gripper position command in (action = displacement per control step / per unit, opening)."""

    sensors: tuple[str, ...] = (
        "joint_states", "ee_pose", "ee_twist", "object_pose", "object_twist", "finger_contacts",
    )  # fmt: skip

    def __init__(self, node: Ros2Node, env: Any) -> None:
        self.writers = {
            "joint_states": node.writer("/joint_states", m.JointState, DEFAULT),
            "ee_pose": node.writer("/ee_pose", m.PoseStamped, DEFAULT),
            "ee_twist": node.writer("/ee_twist", m.TwistStamped, DEFAULT),
            "object_pose": node.writer("/object_pose", m.PoseStamped, DEFAULT),
            "object_twist": node.writer("/object_twist", m.TwistStamped, DEFAULT),
            "finger_contacts": node.writer("/finger_contacts", m.Float64MultiArray, DEFAULT),
        }
        self.twist = node.reader("/servo_node/delta_twist_cmds", m.TwistStamped, DEFAULT)
        self.gripper = node.reader("/gripper_controller/commands", m.Float64MultiArray, DEFAULT)
        sem = {s["name"]: s for s in env.unwrapped.action_semantics()}
        self.linear_per_s = float(sem["ee_displacement"]["per_unit_per_s"])
        self.yaw_per_s = float(sem["yaw_rate"]["per_unit_per_s"])
        self.offset, self.per_unit = float(sem["gripper"]["offset"]), float(sem["gripper"]["per_unit"])
        self.idle = np.array([0, 0, 0, 0, 1], np.float32)  # no motion, gripper open
        self.camera = env.unwrapped.camera_contract() if hasattr(env.unwrapped, "camera_contract") else None
        if self.camera is not None:  # obs_mode="depth": the hand camera too
            self.writers["depth_image"] = node.writer("/camera/depth/image_rect_raw", m.Image, SENSOR_DATA)
            self.writers["camera_info"] = node.writer("/camera/depth/camera_info", m.CameraInfo, SENSOR_DATA)
            self.sensors = (*ArmIO.sensors, "depth_image", "camera_info")

    def messages(self, env: Any, stamp_s: float, nan: bool, obs: Any = None) -> dict[str, Any]:
        """The arm's messages; with a depth camera also the observation's image, and ``nan`` then
        makes the grasp-point pose NaN (the depth policy reads no object pose)."""
        msgs = arm_messages(env, stamp_s, nan)
        if self.camera is not None and obs is not None:
            msgs.update(depth_messages(np.asarray(obs["depth"])[0], self.camera, stamp_s))
            if nan:
                msgs["ee_pose"].pose.position = m.Point(math.nan, math.nan, math.nan)
        return msgs

    def take(self, node: Ros2Node, held: Any) -> tuple[Any, int]:
        twists = node.take_all(self.twist, m.TwistStamped)
        grips = node.take_all(self.gripper, m.Float64MultiArray)
        action = np.array(held, np.float32)
        if twists:
            t = twists[-1].twist
            action[:3] = np.array([t.linear.x, t.linear.y, t.linear.z]) / self.linear_per_s
            action[3] = t.angular.z / self.yaw_per_s
        if grips:
            action[4] = (sum(grips[-1].data) - self.offset) / self.per_unit
        return action, len(twists) + len(grips)

    def timed_out(self, held: Any) -> Any:
        out = np.array(held, np.float32)
        out[:4] = 0.0  # stop moving, keep the gripper where it was commanded
        return out


def robot_io(env: Any) -> type:
    """The IO class for an env id (MobileNav or PandaGrasp).

    Raises:
        InputError: another env.
    """
    env_id = str(env.spec.id if env.spec else "")
    if env_id.startswith("robot_rl/MobileNav-"):
        return NavIO
    if env_id.startswith("robot_rl/PandaGrasp-"):
        return ArmIO
    raise InputError(
        f"sim-robot --ros2 drives robot_rl/MobileNav-v0 and robot_rl/PandaGrasp-v0; got {env_id or env!r}"
    )


class SimRobot:
    """The ROS 2 sim robot (see module docstring).

    Args:
        env: A MobileNav or PandaGrasp env (made by the caller).
        seed: Seed of the first episode (then ``seed + 1``, ...).
        episodes: Episodes to run before :meth:`run` returns.
        faults: Sensor stream faults.
        domain_id, interface: DDS domain and network (loopback only by default).
        command_hz: Motor controller rate (an integer multiple of the env's control rate).
        clock / wall_clock / sleep: Monotonic clock, epoch clock and sleep (s), injectable.
        report: Called with each finished episode's outcome.
    """

    def __init__(
        self,
        env: Any,
        seed: int = 0,
        episodes: int = 1,
        faults: TransportFaults | None = None,
        domain_id: int = 0,
        interface: str | None = None,
        command_hz: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        report: Callable[[Any], None] = lambda outcome: None,
    ) -> None:
        from robot_rl.deploy.hardware import SimHardware

        io_class = robot_io(env)
        if not (isinstance(episodes, int) and episodes >= 1):
            raise InputError(f"--episodes {episodes!r} is not accepted; expected an int >= 1")
        self.hardware = SimHardware(env, seed, clock=clock, command_hz=command_hz)
        self.env, self.episodes, self.faults = env, episodes, faults or TransportFaults()
        self.period = 1.0 / command_hz
        self.clock, self.wall_clock, self.sleep, self.report = clock, wall_clock, sleep, report
        self.rng = np.random.default_rng(seed)
        self.node = Ros2Node(domain_id, interface)
        self.io = io_class(self.node, env)
        self.command = self.io.idle.copy()
        self.command_time = -math.inf
        self.commands = 0
        self._queue: deque[tuple[float, str, Any]] = deque()
        self.start = 0.0

    def _take_commands(self, now: float) -> None:
        self.command, n = self.io.take(self.node, self.command)
        if n:
            self.command_time = now
            self.commands += n
        if now - self.command_time > CMD_TIMEOUT_S:
            self.command = self.io.timed_out(self.command)

    def _publish_sensors(self, now: float, started: bool) -> None:
        """Queue this step's messages (faults applied) and send those that are due."""
        f, elapsed = self.faults, now - self.start
        silent = started and f.stop_at is not None and elapsed >= f.stop_at
        nan = started and f.nan_at is not None and elapsed >= f.nan_at
        msgs = self.io.messages(self.env, self.wall_clock(), nan, self.hardware.latest_observation)
        for key, msg in msgs.items():
            sensor = key in self.io.sensors
            if sensor and (silent or (started and f.drop > 0 and self.rng.random() < f.drop)):
                continue
            self._queue.append((now + (f.delay if sensor else 0.0), key, msg))
        while self._queue and self._queue[0][0] <= now + 1e-9:
            _, key, msg = self._queue.popleft()
            self.io.writers[key].write(msg)

    def run(self, max_wait_s: float = 60.0) -> list[Any]:
        """Publish, wait for the first command (at most ``max_wait_s``), then run the episodes.

        Raises:
            InputError: no command arrived within ``max_wait_s``.
        """
        hw = self.hardware
        wait_end = self.clock() + max_wait_s
        control_period = self.period * hw.ticks_per_step
        published = -math.inf
        while self.commands == 0:  # sensors at the control rate; commands looked for every 5 ms
            now = self.clock()
            if now > wait_end:
                raise InputError(
                    f"no command within {max_wait_s:g} s (nav: /cmd_vel; arm: /servo_node/delta_twist_cmds); "
                    "is robot-rl deploy --hardware ros2 running on this domain?"
                )
            if now - published >= control_period:
                self._publish_sensors(now, started=False)
                published = now
            self._take_commands(now)
            if self.commands == 0:
                self.sleep(0.005)
        self.start = self.clock()
        tick, reported = 0, 0
        while len(hw.episodes) < self.episodes:
            deadline = self.start + tick * self.period
            self.sleep(max(deadline - self.clock(), 0.0))
            now = self.clock()
            self._take_commands(now)
            hw.write_action(self.command)
            tick += 1
            if hw.steps % hw.ticks_per_step == 0:  # a control step completed (at an episode end: the reset)
                self._publish_sensors(now, started=True)
            while reported < len(hw.episodes):
                self.report(hw.episodes[reported])
                reported += 1
            # A late tick (an episode reset builds a new layout) is caught up, not skipped: the
            # simulated time and the 10 Hz sensor stream stay on the wall-clock grid, as a real
            # robot's do.
        return hw.episodes[: self.episodes]

    def close(self) -> None:
        self.node.close()
        self.hardware.close()
