"""Franka Emika Panda with its two-finger gripper, driven by end-effector displacements.

The agent commands a Cartesian displacement of the grasp point (the point midway between the
fingertips, the stock URDF's link ``panda_grasptarget``: a fixed frame of ``panda_link7`` in the
wrist-merged model, :mod:`robot_rl.envs.robots.panda_model`), a yaw rate and a gripper opening.
Each control step the robot integrates the command into an end-effector *target* (clipped to a
workspace box, and never more than :data:`MAX_LEAD` ahead of the measured grasp point, so the
target cannot wind up when the arm is blocked), takes one damped-least-squares IK step from the
measured joints (:meth:`PandaRobot._ik_step`, with a null-space pull to the start pose that keeps
the elbow tidy) and sends the joint targets to the motors in ``POSITION_CONTROL`` with the URDF
force limits (fingers: 40 N). Links are never teleported during an episode; ``reset`` re-poses
the joints with ``resetJointState`` (start pose solved once with PyBullet's iterative IK).

Frames: world frame, z up; the robot base sits on the table top at the origin. Yaw 0 means the
gripper points straight down with the fingers closing along world y.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.envs.core import FloatArray, Robot
from robot_rl.envs.layout import Field, VectorLayout
from robot_rl.envs.robots.panda_model import FINGER_JOINTS, LOAD_FLAGS, WRIST_LINK, Pose, panda_model
from robot_rl.sim.session import PyBulletSession
from robot_rl.sim.timing import SimTiming

#: Metres of grasp-point travel per control step for an action entry of 1.0.
POSITION_STEP = 0.02
#: Radians of yaw per control step for an action entry of 1.0.
YAW_STEP = 0.1
#: Yaw targets are clipped to [-YAW_LIMIT, YAW_LIMIT] rad (a parallel gripper is symmetric under pi).
YAW_LIMIT = math.pi / 2
#: Largest distance (m) the end-effector target may lead the measured grasp point.
MAX_LEAD = 0.04
#: Damping (m) of the damped-least-squares IK step, and gain of the null-space pull to the rest pose.
IK_DAMPING = 0.01
NULL_SPACE_GAIN = 0.2
#: Finger travel per finger (m); the opening between the fingers is twice this.
FINGER_TRAVEL = 0.04
MAX_OPENING = 2 * FINGER_TRAVEL
#: Observation bounds (the env clips observations into them): positions (m), speeds (m/s),
#: angular speeds (rad/s). Generous: the Panda reaches 0.86 m, the floor is 0.625 m below the table.
POSITION_BOUND = 5.0
SPEED_BOUND = 10.0
ANGULAR_SPEED_BOUND = 100.0

#: Joint indices in the wrist-merged model (:mod:`robot_rl.envs.robots.panda_model`); the grasp
#: point and the hand are fixed frames of link :data:`WRIST_LINK` (``panda_link7``).
ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
MOTOR_JOINTS = (*ARM_JOINTS, *FINGER_JOINTS)
#: Motor force limits: N·m for the arm (URDF efforts), N per finger (a choice: the URDF says 20 N,
#: the real Franka Hand holds 70 N continuously).
MOTOR_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0, 40.0, 40.0)
_LOWER = (-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671, 0.0, 0.0)
_UPPER = (2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671, FINGER_TRAVEL, FINGER_TRAVEL)
_RANGES = tuple(u - lo for u, lo in zip(_UPPER, _LOWER, strict=True))
_LOWER_ARM, _UPPER_ARM = np.array(_LOWER[:7]), np.array(_UPPER[:7])
_DAMPING = IK_DAMPING * IK_DAMPING * np.eye(6)
_ZEROS = (0.0,) * len(MOTOR_JOINTS)
_SEED_POSE = (0.0, -0.2, 0.0, -2.4, 0.0, 2.2, 0.785, FINGER_TRAVEL, FINGER_TRAVEL)


def _solve_gufunc() -> Any:
    """``np.linalg.solve`` for one float64 system without its per-call wrapper.

    ``np.linalg.solve`` checks and converts its arguments and enters an ``errstate`` context
    before calling the LAPACK gufunc (``gesv``): ~6 us, four times the solve itself for the IK's
    6x6 system. Calling the same gufunc directly gives the same bits (``tests/envs`` checks it);
    the system is ``J J^T + d^2 I``, never singular. Falls back to ``np.linalg.solve`` where
    numpy does not expose the gufunc.
    """
    try:
        from numpy.linalg import _umath_linalg  # type: ignore[attr-defined]

        return functools.partial(_umath_linalg.solve1, signature="dd->d")
    except (ImportError, AttributeError):
        return np.linalg.solve


#: ``solve(a, b)`` for a float64 (n, n) matrix and (n,) vector: see :func:`_solve_gufunc`.
solve_linear = _solve_gufunc()


@dataclass(frozen=True)
class Workspace:
    """Axis-aligned box (world frame, m) that bounds the grasp-point target."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class PandaState:
    """The arm as measured at one physics step: one ``getLinkState`` and one ``getJointStates``.

    :attr:`PandaRobot.state` reads it at most once per physics step; nothing else caches
    measurements, so there is no flag to keep in step with the physics.

    Attributes:
        physics_step: ``sim.physics_steps`` when it was read (the snapshot is current while the
            session's count is unchanged).
        joints: Motor joint positions, ``MOTOR_JOINTS`` order (rad for the arm, m per finger).
        ee_xyz: Grasp-point position (m, world) as plain floats (for the IK), from the wrist link's
            pose and the grasp offset.
        ee_position: The same as a read-only float64 array, shape (3,).
        ee_quaternion: Grasp-frame orientation (x, y, z, w), world frame.
        ee_velocity: Grasp-point linear velocity (m/s, world).
        ee_yaw: Gripper yaw about world z (rad).
        opening: Distance between the fingers (m), clipped to [0, MAX_OPENING].
    """

    physics_step: int
    joints: tuple[float, ...]
    ee_xyz: tuple[float, ...]
    ee_position: NDArray[np.float64]
    ee_quaternion: tuple[float, ...]
    ee_velocity: tuple[float, ...]
    ee_yaw: float
    opening: float

    @classmethod
    def read(cls, sim: PyBulletSession, body: int, grasp: Pose) -> PandaState:
        """Measure the Panda ``body`` now; ``grasp`` is the grasp point in the wrist link's frame."""
        link = sim.getLinkState(body, WRIST_LINK, computeLinkVelocity=1, computeForwardKinematics=1)
        joints = tuple(state[0] for state in sim.getJointStates(body, MOTOR_JOINTS))
        quaternion = quaternion_multiply(link[5], grasp.quaternion)
        ox, oy, oz = rotate(link[5], grasp.position)
        (lx, ly, lz), (cx, cy, cz) = link[4], link[0]
        xyz = (lx + ox, ly + oy, lz + oz)
        # the link's linear velocity is its centre of mass's: v + w x (point - com)
        (vx, vy, vz), (wx, wy, wz) = link[6], link[7]
        rx, ry, rz = xyz[0] - cx, xyz[1] - cy, xyz[2] - cz
        velocity = (vx + wy * rz - wz * ry, vy + wz * rx - wx * rz, vz + wx * ry - wy * rx)
        position = np.array(xyz)
        position.flags.writeable = False
        return cls(
            physics_step=sim.physics_steps,
            joints=joints,
            ee_xyz=xyz,
            ee_position=position,
            ee_quaternion=quaternion,
            ee_velocity=velocity,
            ee_yaw=quaternion_yaw(quaternion),
            opening=min(MAX_OPENING, max(0.0, joints[7] + joints[8])),
        )


def quaternion_multiply(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float, float]:
    """Hamilton product ``a * b`` of quaternions (x, y, z, w): rotation ``b`` then ``a``."""
    x1, y1, z1, w1 = a
    x2, y2, z2, w2 = b
    return (
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
    )


def inverse_quaternion(q: Sequence[float]) -> tuple[float, float, float, float]:
    """The inverse of a unit quaternion (x, y, z, w)."""
    x, y, z, w = q
    return (-x, -y, -z, w)


def rotate(q: Sequence[float], v: Sequence[float]) -> tuple[float, float, float]:
    """Vector ``v`` rotated by quaternion ``q`` (x, y, z, w): ``v + 2w (u x v) + 2 u x (u x v)``."""
    x, y, z, w = q
    vx, vy, vz = v
    tx, ty, tz = 2.0 * (y * vz - z * vy), 2.0 * (z * vx - x * vz), 2.0 * (x * vy - y * vx)
    return (
        vx + w * tx + y * tz - z * ty,
        vy + w * ty + z * tx - x * tz,
        vz + w * tz + x * ty - y * tx,
    )


def down_quaternion(yaw: float) -> list[float]:
    """Quaternion (x, y, z, w) of a gripper pointing down (roll pi) with the given yaw (rad)."""
    return [math.cos(0.5 * yaw), math.sin(0.5 * yaw), 0.0, 0.0]


def orientation_error(desired: list[float], current: tuple[float, ...]) -> tuple[float, float, float]:
    """Rotation vector (rad, world frame) that turns orientation ``current`` into ``desired``.

    Both are quaternions (x, y, z, w); uses ``desired * conj(current)`` on the short way round.
    """
    x, y, z, w = quaternion_multiply(desired, inverse_quaternion(current))
    norm = math.sqrt(x * x + y * y + z * z)
    if norm < 1e-12:
        return (0.0, 0.0, 0.0)
    angle = 2.0 * math.atan2(norm, abs(w))
    scale = (angle if w >= 0 else -angle) / norm
    return (x * scale, y * scale, z * scale)


def quaternion_yaw(q: tuple[float, ...] | FloatArray) -> float:
    """Heading (rad) of a frame's x axis projected on the world xy plane; ``q`` is (x, y, z, w)."""
    x, y, z, w = q
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


class PandaRobot(Robot):
    """The Panda arm plus gripper.

    Args:
        sim: The env's session.
        timing: Control/physics rates.
        workspace: Box the grasp-point target is clipped to.
        start_position: Grasp-point position (m, world) at the start of an episode.
        pose_jitter: Half-width (m) of the uniform jitter added to ``start_position`` on reset
            (yaw is jittered by ``5 * pose_jitter`` rad); 0 disables it.
        lowpoly_visuals: Draw the links with their collision meshes (see
            :func:`~robot_rl.envs.robots.panda_model.stock_urdf_text`): 30x fewer triangles for
            TinyRenderer images.
    """

    action_layout = VectorLayout(
        [
            Field(
                "ee_displacement",
                3,
                "1",
                -1.0,
                1.0,
                f"grasp-point target move, world x y z; 1.0 = {POSITION_STEP} m per control step",
            ),
            Field(
                "yaw_rate", 1, "1", -1.0, 1.0, f"gripper yaw change; 1.0 = {YAW_STEP} rad per control step"
            ),
            Field(
                "gripper",
                1,
                "1",
                -1.0,
                1.0,
                f"target finger opening: -1 closed (0 m), +1 open ({MAX_OPENING} m), linear",
            ),
        ]
    )
    obs_layout = VectorLayout(
        [
            Field(
                "ee_position",
                3,
                "m",
                -POSITION_BOUND,
                POSITION_BOUND,
                "grasp point (between fingertips), world x y z",
            ),
            Field(
                "ee_velocity", 3, "m/s", -SPEED_BOUND, SPEED_BOUND, "grasp-point linear velocity, world x y z"
            ),
            Field(
                "ee_yaw", 1, "rad", -math.pi, math.pi, "gripper yaw about world z (0: fingers close along y)"
            ),
            Field("gripper_opening", 1, "m", 0.0, MAX_OPENING, "distance between the fingers"),
        ]
    )

    def __init__(
        self,
        sim: PyBulletSession,
        timing: SimTiming,
        *,
        workspace: Workspace,
        start_position: tuple[float, float, float],
        pose_jitter: float = 0.0,
        lowpoly_visuals: bool = False,
    ) -> None:
        super().__init__(sim, timing)
        model = panda_model(lowpoly_visuals)
        self.body = sim.load_urdf(model.urdf, [0, 0, 0], useFixedBase=True, flags=LOAD_FLAGS)
        self._grasp, self._hand = model.grasp, model.hand
        # The merged wrist's inertial frame is turned to its principal axes, and two PyBullet calls
        # see that frame: calculateJacobian takes the point in its axes (measured from the link
        # frame's origin), calculateInverseKinematics aims its orientation (and the link frame's
        # position). tests/envs/test_panda_model.py checks both against the stock URDF.
        self._inertial_axes = sim.getDynamicsInfo(self.body, WRIST_LINK)[4]
        self._grasp_local = rotate(inverse_quaternion(self._inertial_axes), self._grasp.position)
        for link in FINGER_JOINTS:
            sim.changeDynamics(self.body, link, lateralFriction=1.0, spinningFriction=0.001)
        # Bullet's sleeping keeps hidden per-body timers that re-posing does not reset; an RL
        # episode is short and always moving, so sleeping only buys nondeterminism risk.
        sim.changeDynamics(self.body, -1, activationState=sim.ACTIVATION_STATE_DISABLE_SLEEPING)
        self.workspace_low = np.array(workspace.low, np.float64)
        self.workspace_high = np.array(workspace.high, np.float64)
        self.start_position = np.array(start_position, np.float64)
        self.pose_jitter = float(pose_jitter)
        self._low, self._high = tuple(workspace.low), tuple(workspace.high)
        # What the robot commands (integrated from the actions); what it measures is `state`.
        self._target: list[float] = self.start_position.tolist()
        self._yaw = 0.0
        self._state: PandaState | None = None
        self.rest_pose = self._solve_pose(self.start_position, 0.0, _SEED_POSE)
        self._rest_arm = np.array(self.rest_pose[:7])

    # ------------------------------------------------------------------ episode
    def reset(self, np_random: np.random.Generator) -> None:
        """Put the gripper (open, pointing down) at the start position, motors holding it."""
        target = self.start_position.copy()
        yaw = 0.0
        if self.pose_jitter > 0:
            target += np_random.uniform(-self.pose_jitter, self.pose_jitter, 3)
            yaw = float(np_random.uniform(-5 * self.pose_jitter, 5 * self.pose_jitter))
            pose = self._solve_pose(target, yaw, self.rest_pose)
        else:
            pose = self.rest_pose
        self._set_joints(pose)
        self._target = np.clip(target, self.workspace_low, self.workspace_high).tolist()
        self._yaw = yaw

    def _solve_pose(
        self, position: NDArray[np.float64], yaw: float, seed: tuple[float, ...]
    ) -> tuple[float, ...]:
        """Joint angles that put the grasp point at ``position`` with ``yaw`` (iterated IK)."""
        # the wrist link's frame: the grasp pose times the inverse grasp offset
        orientation = quaternion_multiply(
            tuple(down_quaternion(yaw)), inverse_quaternion(self._grasp.quaternion)
        )
        ox, oy, oz = rotate(orientation, self._grasp.position)
        wrist = [float(position[0]) - ox, float(position[1]) - oy, float(position[2]) - oz]
        aim = list(quaternion_multiply(orientation, self._inertial_axes))  # see __init__
        pose = seed
        for _ in range(10):
            self._set_joints(pose)
            solution = self.sim.calculateInverseKinematics(
                self.body, WRIST_LINK, wrist, aim,
                lowerLimits=_LOWER, upperLimits=_UPPER, jointRanges=_RANGES, restPoses=_SEED_POSE,
                maxNumIterations=100, residualThreshold=1e-6,
            )  # fmt: skip
            pose = (*solution[:7], FINGER_TRAVEL, FINGER_TRAVEL)
        return tuple(float(v) for v in pose)

    def _set_joints(self, pose: tuple[float, ...]) -> None:
        """Teleport the joints to ``pose`` (reset only) and hold them there with the motors."""
        self._state = None  # the one change of the arm that is not a physics step
        reset = self.sim.resetJointState
        for joint, angle in zip(MOTOR_JOINTS, pose, strict=True):
            reset(self.body, joint, angle, 0.0)
        self.sim.setJointMotorControlArray(
            self.body, MOTOR_JOINTS, self.sim.POSITION_CONTROL, targetPositions=pose, forces=MOTOR_FORCES
        )

    # ------------------------------------------------------------------ control
    def safe_action(self) -> list[float | None]:
        """No Cartesian move, no yaw, gripper held where it was last commanded (an object stays held)."""
        return [0.0, 0.0, 0.0, 0.0, None]

    def action_semantics(self, dt: float) -> list[dict[str, Any]]:
        """Displacements per control step (m, rad) and the absolute finger opening (m)."""
        return [
            {"name": "ee_displacement", "kind": "displacement", "per_unit": POSITION_STEP, "unit": "m",
             "per_unit_per_s": POSITION_STEP / dt, "frame": "world x y z"},
            {"name": "yaw_rate", "kind": "displacement", "per_unit": YAW_STEP, "unit": "rad",
             "per_unit_per_s": YAW_STEP / dt, "frame": "about world z"},
            {"name": "gripper", "kind": "position", "per_unit": FINGER_TRAVEL, "unit": "m",
             "offset": FINGER_TRAVEL, "frame": "finger opening = offset + per_unit * a (0 m at -1)"},
        ]  # fmt: skip

    def apply_action(self, action: FloatArray) -> None:
        """Integrate the command into the end-effector target and send IK joint targets."""
        state = self.state
        dx, dy, dz, dyaw, grip = action.tolist()  # 3-vectors: plain floats beat numpy's call overhead
        target = []
        for old, delta, ee, low, high in zip(
            self._target, (dx, dy, dz), state.ee_xyz, self._low, self._high, strict=True
        ):
            led = min(ee + MAX_LEAD, max(ee - MAX_LEAD, old + POSITION_STEP * delta))
            target.append(min(high, max(low, led)))
        self._target = target
        self._yaw = min(YAW_LIMIT, max(-YAW_LIMIT, self._yaw + YAW_STEP * dyaw))
        finger = 0.5 * (grip + 1.0) * FINGER_TRAVEL
        joints = self._ik_step(state, target, self._yaw)
        self.sim.setJointMotorControlArray(
            self.body,
            MOTOR_JOINTS,
            self.sim.POSITION_CONTROL,
            targetPositions=(*joints.tolist(), finger, finger),
            forces=MOTOR_FORCES,
        )

    def _ik_step(self, state: PandaState, position: list[float], yaw: float) -> NDArray[np.float64]:
        """Arm joint targets (rad, shape (7,)) for a grasp-point pose: one damped-least-squares step
        from the measured ``state``.

        Why not ``calculateInverseKinematics``: with null-space limits PyBullet's solver needs its
        default 20 iterations (~115 us) to track a 2 cm/step target, and still lags by millimetres;
        one Gauss-Newton step from the measured joints (Jacobian from ``calculateJacobian``, ~30 us
        in total) is exact to second order for the <= 4 cm the target leads, and the next control
        step closes the rest. The null-space term pulls the elbow towards the start pose.
        """
        linear, angular = self.sim.calculateJacobian(
            self.body, WRIST_LINK, self._grasp_local, state.joints, _ZEROS, _ZEROS
        )
        jacobian = np.array(linear + angular)[:, :7]
        (x, y, z), (ex, ey, ez) = position, state.ee_xyz
        error = np.array(
            (x - ex, y - ey, z - ez, *orientation_error(down_quaternion(yaw), state.ee_quaternion))
        )
        q = np.array(state.joints[:7])
        pull = NULL_SPACE_GAIN * (self._rest_arm - q)
        # J+ e + (I - J+ J) pull  ==  J^T (J J^T + d^2 I)^-1 (e - J pull) + pull: one 6x6 solve.
        step = jacobian.T @ solve_linear(jacobian @ jacobian.T + _DAMPING, error - jacobian @ pull) + pull
        return np.minimum(np.maximum(q + step, _LOWER_ARM), _UPPER_ARM)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> PandaState:
        """The arm measured at the current physics step (read on the first query after a step)."""
        state = self._state
        if state is None or state.physics_step != self.sim.physics_steps:
            state = self._state = PandaState.read(self.sim, self.body, self._grasp)
        return state

    def hand_pose(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """World position (m) and quaternion (x, y, z, w) of the ``panda_hand`` frame now."""
        link = self.sim.getLinkState(self.body, WRIST_LINK, computeForwardKinematics=1)
        ox, oy, oz = rotate(link[5], self._hand.position)
        (x, y, z) = link[4]
        return (x + ox, y + oy, z + oz), quaternion_multiply(link[5], self._hand.quaternion)

    @property
    def ee_position(self) -> NDArray[np.float64]:
        """Grasp-point position (m, world frame), shape (3,), read-only."""
        return self.state.ee_position

    @property
    def target_position(self) -> NDArray[np.float64]:
        """Current grasp-point target (m, world frame), shape (3,)."""
        return np.array(self._target)

    def observe(self) -> dict[str, FloatArray]:
        """Grasp-point position/velocity, gripper yaw and finger opening (see ``obs_layout``)."""
        state = self.state
        values: dict[str, Any] = {  # tuples are fine: pack() takes any array-like
            "ee_position": state.ee_position,
            "ee_velocity": state.ee_velocity,
            "ee_yaw": (state.ee_yaw,),
            "gripper_opening": (state.opening,),
        }
        return values
