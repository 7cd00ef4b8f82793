"""Differential-drive mobile base with a 2-D lidar (the project's TurtleBot-like URDF).

Action (float32, [-1, 1]^2): ``[linear, angular]``; 1.0 means ``max_linear`` m/s forward and
``max_angular`` rad/s counter-clockwise (yaw rate). The pair is turned into left/right wheel speeds
``(v -/+ w * wheel_base / 2) / wheel_radius`` and, when one exceeds ``max_wheel_speed``, both are
scaled down together (the turning radius is kept). Wheels are PyBullet velocity motors with a
torque limit; the base is never teleported during an episode (only :meth:`place` at reset).

The Husky of ``pybullet_data`` is deliberately not offered: its 0.99 m x 0.67 m footprint does
not fit through the 0.9-1.2 m doorways of the procedural layouts with any clearance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_rl.envs.core import FloatArray, Robot, check_range
from robot_rl.envs.layout import Field, VectorLayout
from robot_rl.errors import InputError
from robot_rl.resources import asset_path
from robot_rl.sim.session import PyBulletSession
from robot_rl.sim.timing import SimTiming

#: Observation bounds of the base velocity: the wheel limit allows 0.7 m/s and 6.1 rad/s.
MAX_SPEED, MAX_YAW_RATE = 1.0, 8.0

#: The project's URDF (see its header comment for geometry and limits), under the package's assets
#: (the repository's ``assets/``; :func:`robot_rl.resources.asset_path` finds the installed file).
DIFF_DRIVE_URDF = "diff_drive/diff_drive.urdf"


@dataclass(frozen=True)
class DiffDriveSpec:
    """Geometry and limits of the base (SI units; must agree with the URDF header).

    Attributes:
        radius: Body radius (m); the footprint used for planning clearance.
        wheel_radius: Driven wheel radius (m); also the spawn height of ``base_link``.
        wheel_base: Distance between the two wheels (m).
        max_wheel_speed: Wheel speed limit (rad/s).
        max_wheel_torque: Wheel motor torque limit (N m).
        max_linear: Forward speed commanded by action 1.0 (m/s).
        max_angular: Yaw rate commanded by action 1.0 (rad/s).
        lidar_height: Height of the lidar plane above the floor (m).
        mass: Total mass (kg), for documentation.
    """

    radius: float = 0.17
    wheel_radius: float = 0.035
    wheel_base: float = 0.23
    max_wheel_speed: float = 20.0
    max_wheel_torque: float = 0.5
    max_linear: float = 0.5
    max_angular: float = 2.0
    lidar_height: float = 0.15
    mass: float = 2.6


@dataclass(frozen=True)
class LidarConfig:
    """2-D lidar in the robot's horizontal plane, ranges measured from the base centre.

    Attributes:
        beams: Number of rays (>= 1).
        fov: Field of view (rad) in (0, 2*pi]; beams are spread evenly, a full circle without
            repeating its end, otherwise from -fov/2 (right) to +fov/2 (left); 0 rad is forward.
        max_range: Range reported when nothing is hit (m).
        noise_std: Standard deviation of Gaussian range noise (m); results clipped to [0, max_range].
        dropout: Probability that a beam returns ``max_range`` (a missed echo), in [0, 1].
    """

    beams: int = 24
    fov: float = 2 * math.pi
    max_range: float = 3.0
    noise_std: float = 0.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.beams, int | np.integer) or not 1 <= self.beams <= 1024:
            raise InputError(f"lidar beams={self.beams!r} is not accepted; expected an int in [1, 1024]")
        check_range("lidar fov", self.fov, low=1e-3, high=2 * math.pi)
        check_range("lidar max_range", self.max_range, low=0.2, high=100.0)
        check_range("lidar noise_std", self.noise_std, low=0.0)
        check_range("lidar dropout", self.dropout, low=0.0, high=1.0)

    def angles(self) -> FloatArray:
        """Beam angles (rad) in the robot frame, shape ``(beams,)``."""
        if self.fov >= 2 * math.pi - 1e-9:
            return np.linspace(-math.pi, math.pi, self.beams, endpoint=False).astype(np.float32)
        if self.beams == 1:
            return np.zeros(1, np.float32)
        return np.linspace(-self.fov / 2, self.fov / 2, self.beams).astype(np.float32)


class DiffDriveRobot(Robot):
    """The diff-drive base: wheel velocity motors, pose/velocity readout and one lidar sweep.

    Observation fields:
        ``lidar`` (beams, m): ranges from the base centre, beam order of :meth:`LidarConfig.angles`.
        ``base_speed`` (m/s): forward speed in the robot frame, clipped to +-1 m/s.
        ``base_yaw_rate`` (rad/s): yaw rate, clipped to +-8 rad/s.

    :meth:`refresh` reads pose, velocity and the lidar once per control step (the task calls it
    after the physics); :meth:`observe` returns the cached values.
    """

    def __init__(
        self,
        sim: PyBulletSession,
        timing: SimTiming,
        spec: DiffDriveSpec | None = None,
        lidar: LidarConfig | None = None,
    ) -> None:
        super().__init__(sim, timing)
        self.spec = spec or DiffDriveSpec()
        self.lidar = lidar or LidarConfig()
        self.body = sim.load_urdf(str(asset_path(DIFF_DRIVE_URDF)), [0, 0, self.spec.wheel_radius])
        names = {sim.getJointInfo(self.body, j)[1].decode(): j for j in range(sim.getNumJoints(self.body))}
        self.wheels = [names["left_wheel_joint"], names["right_wheel_joint"]]
        sim.changeDynamics(self.body, -1, lateralFriction=0.0, rollingFriction=0.0, spinningFriction=0.0)
        # Bullet's sleep timer is not reset by re-posing; a base that may doze off at rest would
        # make an episode depend on the previous one.
        sim.changeDynamics(self.body, -1, activationState=sim.ACTIVATION_STATE_DISABLE_SLEEPING)
        for j in self.wheels:
            sim.changeDynamics(self.body, j, lateralFriction=1.0, rollingFriction=0.0, spinningFriction=0.0)
        self._angles = self.lidar.angles().astype(np.float64)
        # Ray end points, reused every cast: the lidar plane's height is set once.
        self._ray_from = np.full((self.lidar.beams, 3), self.spec.lidar_height)
        self._ray_to = np.full((self.lidar.beams, 3), self.spec.lidar_height)
        self._ray_angles = np.empty(self.lidar.beams)
        self._forces = [self.spec.max_wheel_torque] * 2
        self.action_layout = VectorLayout(
            [
                Field("linear", 1, "1", -1.0, 1.0, f"forward speed; 1.0 = {self.spec.max_linear} m/s"),
                Field("angular", 1, "1", -1.0, 1.0, f"yaw rate (ccw); 1.0 = {self.spec.max_angular} rad/s"),
            ]
        )
        self.obs_layout = VectorLayout(
            [
                Field("lidar", self.lidar.beams, "m", 0.0, self.lidar.max_range, "ranges from base centre"),
                Field("base_speed", 1, "m/s", -MAX_SPEED, MAX_SPEED, "forward speed, robot frame (clipped)"),
                Field("base_yaw_rate", 1, "rad/s", -MAX_YAW_RATE, MAX_YAW_RATE, "ccw yaw rate (clipped)"),
            ]
        )
        self._rng = np.random.default_rng(0)
        self.position = np.zeros(2)
        self.yaw = 0.0
        self.ranges = np.full(self.lidar.beams, self.lidar.max_range, np.float32)
        self.velocity = np.zeros(2, np.float32)

    # ------------------------------------------------------------------ Robot API
    def safe_action(self) -> list[float | None]:
        """Zero forward speed and zero yaw rate: the wheels stop."""
        return [0.0, 0.0]

    def action_semantics(self, dt: float) -> list[dict[str, Any]]:
        """Both entries are velocities held for the control period (REP 103: x forward, ccw yaw)."""
        s = self.spec
        return [
            {"name": "linear", "kind": "velocity", "per_unit": s.max_linear, "unit": "m/s",
             "per_unit_per_s": s.max_linear, "frame": "base_link x (forward)"},
            {"name": "angular", "kind": "velocity", "per_unit": s.max_angular, "unit": "rad/s",
             "per_unit_per_s": s.max_angular, "frame": "about base_link z (counter-clockwise)"},
        ]  # fmt: skip

    def reset(self, np_random: np.random.Generator) -> None:
        """Keep the generator for lidar noise and stop the wheels (the task then calls :meth:`place`)."""
        self._rng = np_random
        self.apply_action(np.zeros(2, np.float32))

    def place(self, x: float, y: float, yaw: float) -> None:
        """Put the base at rest at (x, y) m facing ``yaw`` rad (reset only), then :meth:`refresh`.

        The base is first lifted clear of everything and collision detection is run, so Bullet
        drops the contact points (and their warm-start impulses) of the previous episode: the
        episode then starts from the same solver state whatever ran before.
        """
        sim = self.sim
        sim.resetBasePositionAndOrientation(self.body, [x, y, 5.0], (0.0, 0.0, 0.0, 1.0))
        sim.performCollisionDetection()
        quat = (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
        sim.resetBasePositionAndOrientation(self.body, [x, y, self.spec.wheel_radius], quat)
        sim.resetBaseVelocity(self.body, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
        for j in self.wheels:
            sim.resetJointState(self.body, j, 0.0, 0.0)
        sim.performCollisionDetection()
        self.refresh()

    def wheel_targets(self, action: FloatArray) -> tuple[float, float]:
        """Left/right wheel speeds (rad/s) for a clipped action, scaled into the wheel limit."""
        s = self.spec
        v, w = float(action[0]) * s.max_linear, float(action[1]) * s.max_angular
        left = (v - w * s.wheel_base / 2) / s.wheel_radius
        right = (v + w * s.wheel_base / 2) / s.wheel_radius
        scale = max(abs(left), abs(right)) / s.max_wheel_speed
        if scale > 1.0:
            left, right = left / scale, right / scale
        return left, right

    def apply_action(self, action: FloatArray) -> None:
        self.sim.setJointMotorControlArray(
            self.body,
            self.wheels,
            self.sim.VELOCITY_CONTROL,
            targetVelocities=self.wheel_targets(action),
            forces=self._forces,
        )

    def refresh(self) -> None:
        """Read pose and velocity, and cast the lidar (one ``rayTestBatch``)."""
        sim = self.sim
        pos, quat = sim.getBasePositionAndOrientation(self.body)
        lin, ang = sim.getBaseVelocity(self.body)
        qx, qy, qz, qw = quat
        yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
        self.position[0], self.position[1], self.yaw = pos[0], pos[1], yaw
        c, s = math.cos(yaw), math.sin(yaw)
        self.velocity[0] = min(max(c * lin[0] + s * lin[1], -MAX_SPEED), MAX_SPEED)
        self.velocity[1] = min(max(ang[2], -MAX_YAW_RATE), MAX_YAW_RATE)
        self.ranges = self._cast(pos[0], pos[1], yaw)

    def _cast(self, x: float, y: float, yaw: float) -> FloatArray:
        cfg = self.lidar
        angles = np.add(self._angles, yaw, out=self._ray_angles)
        self._ray_from[:, 0], self._ray_from[:, 1] = x, y
        self._ray_to[:, 0] = x + cfg.max_range * np.cos(angles)
        self._ray_to[:, 1] = y + cfg.max_range * np.sin(angles)
        hits = self.sim.rayTestBatch(self._ray_from, self._ray_to, numThreads=1)
        ranges = np.fromiter((h[2] for h in hits), np.float32, cfg.beams) * np.float32(cfg.max_range)
        if cfg.noise_std > 0:
            ranges += self._rng.normal(0.0, cfg.noise_std, cfg.beams).astype(np.float32)
        if cfg.dropout > 0:
            ranges[self._rng.random(cfg.beams) < cfg.dropout] = cfg.max_range
        if cfg.noise_std > 0:
            np.clip(ranges, 0.0, cfg.max_range, out=ranges)
        return ranges

    def hit_points(self) -> FloatArray:
        """World (x, y) of the current lidar returns, shape ``(beams, 2)`` (max range where no hit)."""
        angles = self._angles + self.yaw
        r = self.ranges.astype(np.float64)
        return np.stack([self.position[0] + r * np.cos(angles), self.position[1] + r * np.sin(angles)], 1)

    def in_contact_with_other_than(self, floor: int) -> bool:
        """Whether the base or a wheel touches any body but ``floor`` (after the last physics step)."""
        return any(c[2] != floor for c in self.sim.getContactPoints(bodyA=self.body))

    def observe(self) -> dict[str, FloatArray]:
        return {"lidar": self.ranges, "base_speed": self.velocity[:1], "base_yaw_rate": self.velocity[1:]}
