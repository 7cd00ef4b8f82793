"""A scripted (non-learned) grasp controller for ``robot_rl/PandaGrasp-v0``.

It reads only the public observation, through the env's named layout
(``env.unwrapped.obs_layout.unpack(obs)``), and emits actions in [-1, 1]^5: proof that the task
is solvable through the action space, a baseline for learned policies, and a source of
demonstrations. Phases: hover above the object with the gripper open and aligned with the
object's yaw (mod 90 degrees for a cube), descend, close, lift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from robot_rl.envs.layout import VectorLayout
from robot_rl.envs.robots.panda import POSITION_STEP, YAW_STEP, quaternion_yaw

HOVER_HEIGHT = 0.08  # m above the object's base while aligning
XY_TOLERANCE = 0.008  # m of horizontal error accepted before descending
YAW_TOLERANCE = 0.08  # rad of yaw error accepted before descending
GRASP_DEPTH = 0.005  # m below the object's base origin the grasp point is sent to
CLOSE_STEPS = 6  # control steps the gripper closes before lifting
STALL_SPEED = 0.02  # m/s: a descending grasp point slower than this has stopped
LIFT_HEIGHT = 0.2  # m above the table the object is lifted to


class ScriptedGraspController:
    """Hover, align, descend, close, lift; one instance per env, :meth:`reset` per episode.

    Args:
        obs_layout: The env's flat observation layout (``env.unwrapped.obs_layout``).
        symmetry: Yaw symmetry of the object in rad (``pi / 2`` for a cube, ``pi`` otherwise).
    """

    def __init__(self, obs_layout: VectorLayout, symmetry: float = math.pi / 2) -> None:
        self.layout = obs_layout
        self.symmetry = float(symmetry)
        self.reset()

    def reset(self) -> None:
        """Start a new episode in the hover phase."""
        self.phase = "hover"
        self._closing = 0
        self._descending = 0

    def __call__(
        self, observation: NDArray[np.float32] | Mapping[str, NDArray[np.float32]]
    ) -> NDArray[np.float32]:
        """Action for one flat observation (or a Dict obs with a ``"state"``/``"observation"`` key).

        With a goal-env observation (``"desired_goal"`` present) the lift carries the object to the
        goal instead of to :data:`LIFT_HEIGHT`.
        """
        goal = None
        if isinstance(observation, Mapping):
            goal = observation.get("desired_goal")
            observation = observation["observation"] if "observation" in observation else observation["state"]
        obs = self.layout.unpack(observation)
        ee, obj = obs["ee_position"].astype(np.float64), obs["object_position"].astype(np.float64)
        yaw_error = self._yaw_error(float(obs["ee_yaw"][0]), obs["object_orientation"])
        xy_error = float(np.linalg.norm(obj[:2] - ee[:2]))
        target, gripper = obj.copy(), 1.0
        if self.phase == "hover":
            target[2] = obj[2] + HOVER_HEIGHT
            if xy_error < XY_TOLERANCE and abs(yaw_error) < YAW_TOLERANCE and abs(ee[2] - target[2]) < 0.02:
                self.phase = "descend"
        if self.phase == "descend":
            target[2] = obj[2] - GRASP_DEPTH
            self._descending += 1
            # Close when the grasp point arrived, or when it stopped (blocked by the table / the
            # workspace floor, e.g. for a flat object whose base origin sits near its bottom).
            stalled = self._descending > 3 and abs(float(obs["ee_velocity"][2])) < STALL_SPEED
            if ee[2] - target[2] < 0.008 or stalled:
                self.phase = "close"
        if self.phase in ("close", "lift"):
            gripper = -1.0
            self._closing += 1
            target = ee.copy() if self.phase == "close" else target
            if self._closing >= CLOSE_STEPS:
                self.phase = "lift"
        if self.phase == "lift":
            target[2] = LIFT_HEIGHT
            if goal is not None:  # move the grasp point so that the object lands on the goal
                target = ee + (np.asarray(goal, np.float64) - obj)
            yaw_error = 0.0
        move = np.clip((target - ee) / POSITION_STEP, -1.0, 1.0)
        yaw = float(np.clip(yaw_error / YAW_STEP, -1.0, 1.0))
        return np.array([*move, yaw, gripper], dtype=np.float32)

    def _yaw_error(self, ee_yaw: float, quaternion: NDArray[np.float32]) -> float:
        """Smallest yaw change (rad) that aligns the fingers with an object face.

        The fingers close along the gripper's y axis, so the gripper yaw should equal the
        object's yaw modulo its symmetry.
        """
        object_yaw = quaternion_yaw(tuple(float(v) for v in quaternion))
        half = 0.5 * self.symmetry
        return (object_yaw - ee_yaw + half) % self.symmetry - half
