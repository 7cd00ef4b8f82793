"""A PyBullet MobileNav robot that speaks ROS 2: the rehearsal partner of ``deploy --hardware ros2``.

The robot runs :class:`~robot_rl.deploy.hardware.SimHardware` (the env, its episodes and resets)
in real time at its command rate (100 Hz by default: the motor controller applies the latest
``/cmd_vel``, the physics of a control step spread over its ticks exactly as in
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
command received: until then the robot publishes its initial state with fresh stamps, so the
deploy side can start up without the episode clock running. Episode outcomes are reported as
they finish.

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


class SimRobot:
    """The ROS 2 sim robot (see module docstring).

    Args:
        env: A MobileNav env (made by the caller).
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

        if not str(env.spec.id if env.spec else "").startswith("robot_rl/MobileNav-"):
            raise InputError(
                f"sim-robot --ros2 drives robot_rl/MobileNav-v0; got {env.spec.id if env.spec else env!r}"
            )
        if not (isinstance(episodes, int) and episodes >= 1):
            raise InputError(f"--episodes {episodes!r} is not accepted; expected an int >= 1")
        self.hardware = SimHardware(env, seed, clock=clock, command_hz=command_hz)
        self.env, self.episodes, self.faults = env, episodes, faults or TransportFaults()
        self.period = 1.0 / command_hz
        self.clock, self.wall_clock, self.sleep, self.report = clock, wall_clock, sleep, report
        self.rng = np.random.default_rng(seed)
        self.node = Ros2Node(domain_id, interface)
        self.writers = {
            "scan": self.node.writer("/scan", m.LaserScan, SENSOR_DATA),
            "odom": self.node.writer("/odom", m.Odometry, DEFAULT),
            "goal": self.node.writer("/goal_pose", m.PoseStamped, DEFAULT),
            "plan": self.node.writer("/plan", m.Path, DEFAULT),
        }
        self.cmd_reader = self.node.reader("/cmd_vel", m.Twist, DEFAULT)
        semantics = env.unwrapped.action_semantics()
        self.per_unit = np.array([float(s["per_unit"]) for s in semantics])
        self.command = np.zeros(2, np.float32)
        self.command_time = -math.inf
        self.commands = 0
        self._queue: deque[tuple[float, str, Any]] = deque()
        self.start = 0.0

    def _take_commands(self, now: float) -> None:
        msgs = self.node.take_all(self.cmd_reader, m.Twist)
        if msgs:
            t = msgs[-1]
            self.command = (np.array([t.linear.x, t.angular.z]) / self.per_unit).astype(np.float32)
            self.command_time = now
            self.commands += len(msgs)
        if now - self.command_time > CMD_TIMEOUT_S:
            self.command = np.zeros(2, np.float32)

    def _publish_sensors(self, now: float, started: bool) -> None:
        """Queue this step's messages (faults applied) and send those that are due."""
        f, elapsed = self.faults, now - self.start
        silent = started and f.stop_at is not None and elapsed >= f.stop_at
        nan = started and f.nan_at is not None and elapsed >= f.nan_at
        for key, msg in sensor_messages(self.env, self.wall_clock(), nan).items():
            sensor = key in ("scan", "odom")
            if sensor and (silent or (started and f.drop > 0 and self.rng.random() < f.drop)):
                continue
            self._queue.append((now + (f.delay if sensor else 0.0), key, msg))
        while self._queue and self._queue[0][0] <= now + 1e-9:
            _, key, msg = self._queue.popleft()
            self.writers[key].write(msg)

    def run(self, max_wait_s: float = 60.0) -> list[Any]:
        """Publish, wait for the first command (at most ``max_wait_s``), then run the episodes.

        Raises:
            InputError: no command arrived within ``max_wait_s``.
        """
        hw = self.hardware
        wait_end = self.clock() + max_wait_s
        while self.commands == 0:
            now = self.clock()
            if now > wait_end:
                raise InputError(
                    f"no geometry_msgs/msg/Twist on /cmd_vel within {max_wait_s:g} s; is deploy running?"
                )
            self._publish_sensors(now, started=False)
            self._take_commands(now)
            self.sleep(0.1)
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
