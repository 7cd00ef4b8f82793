"""Grasp-and-lift tasks for the Panda: a dense staged reward and a goal-conditioned variant.

:class:`GraspTask` (``robot_rl/PandaGrasp-v0``): pick the object up.

* Success: both fingers touch the object and its base is lifted at least :data:`LIFT_HEIGHT`
  above its resting height, for :data:`HOLD_SECONDS` in a row (a thrown or pushed object never
  counts: it is not between the fingers). The episode terminates on success.
* Failure: the object leaves the table (falls below its top or beyond its edges); terminates.
* ``reward_type="dense"``: every step ``time + reach + grasp + lift`` in [-1, 0], with
  ``time = -1``, ``reach = 0.3 (1 - tanh(10 d))`` (d: grasp point to object, m),
  ``grasp = 0.2`` while both fingers touch it, ``lift = 0.5 min(1, h / 0.1 m)`` while grasped
  (h: lift height, m); plus ``success = +1`` on the success step. ``reward_type="sparse"``:
  ``-1`` per step, ``0`` on success. In both, leaving the table adds ``dropped = -(steps left)``,
  what staying at -1 until the time limit would have cost, so that throwing the object away
  never pays. Components are reported as ``info["reward_<name>"]``.

:class:`GraspGoalTask` (``robot_rl/PandaGraspGoal-v0``): bring the object to a goal point
:data:`LIFT_HEIGHT` to ``2 * LIFT_HEIGHT`` above its resting position (so reaching it means lifting
it). achieved_goal = object position, reward ``-1`` / ``0`` (within :data:`GOAL_THRESHOLD`), and
``is_success`` is that same test. Episodes end only at the time limit (as in Fetch and
panda-gym): a sparse 0/-1 reward cannot price a termination, so ending on a drop would reward
throwing the object away, and HER relabels transitions whose stored ``done`` must not depend on
the original goal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.envs.core import FloatArray, GoalTask, Task, TaskStatus
from robot_rl.envs.layout import Field, VectorLayout
from robot_rl.envs.objects import ActiveObject, ObjectSet
from robot_rl.envs.robots.panda import (
    ANGULAR_SPEED_BOUND,
    FINGER_JOINTS,
    POSITION_BOUND,
    SPEED_BOUND,
    PandaRobot,
)
from robot_rl.errors import InputError
from robot_rl.sim.session import PyBulletSession

#: Lift (m) of the object's base above its resting height that counts as lifted.
LIFT_HEIGHT = 0.10
#: Seconds the object must stay grasped and lifted for success.
HOLD_SECONDS = 0.25
#: Goal variant: success distance (m) between object and goal.
GOAL_THRESHOLD = 0.05
REWARD_TYPES = ("dense", "sparse")

#: Object position field: in the observation and, for the goal env, the goal layout.
OBJECT_POSITION = Field(
    "object_position", 3, "m", -POSITION_BOUND, POSITION_BOUND, "object base position, world x y z"
)


class GraspTask(Task):
    """Pick up one object of an :class:`ObjectSet` from the table.

    Args:
        sim: The env's session.
        robot: The Panda.
        objects: Where this episode's object comes from.
        spawn_center: (x, y) centre (m, world) of the spawn square.
        spawn_half_width: Half-width (m) of the spawn square; the yaw is uniform in [-pi, pi).
        table_bounds: ((x_min, y_min), (x_max, y_max)) of the table top (m).
        table_z: Height of the table top (m).
        hold_steps: Control steps the grasp-and-lift must last for success.
        max_episode_steps: The env's episode limit in control steps (a drop costs the steps left).
        reward_type: ``"dense"`` or ``"sparse"``.
    """

    obs_layout = VectorLayout(
        [
            Field("finger_contacts", 2, "1", 0.0, 1.0, "left, right finger touches the object (0/1)"),
            OBJECT_POSITION,
            Field("object_orientation", 4, "1", -1.0, 1.0, "object quaternion x y z w, world frame"),
            Field("object_linear_velocity", 3, "m/s", -SPEED_BOUND, SPEED_BOUND, "world x y z"),
            Field(
                "object_angular_velocity",
                3,
                "rad/s",
                -ANGULAR_SPEED_BOUND,
                ANGULAR_SPEED_BOUND,
                "world x y z",
            ),
            Field(
                "object_relative_position",
                3,
                "m",
                -2 * POSITION_BOUND,
                2 * POSITION_BOUND,
                "object minus grasp point, world x y z",
            ),
        ]
    )
    robot: PandaRobot

    def __init__(
        self,
        sim: PyBulletSession,
        robot: PandaRobot,
        *,
        objects: ObjectSet,
        spawn_center: tuple[float, float],
        spawn_half_width: float,
        table_bounds: tuple[tuple[float, float], tuple[float, float]],
        table_z: float,
        hold_steps: int,
        max_episode_steps: int,
        reward_type: str = "dense",
    ) -> None:
        super().__init__(sim, robot)
        if reward_type not in REWARD_TYPES:
            raise InputError(
                f"reward_type={reward_type!r} is not accepted; choose one of {list(REWARD_TYPES)}"
            )
        self.objects = objects
        self.spawn_center = np.array(spawn_center, np.float64)
        self.spawn_half_width = float(spawn_half_width)
        self.table_low = np.array(table_bounds[0])
        self.table_high = np.array(table_bounds[1])
        self.table_z = float(table_z)
        self.hold_steps = int(hold_steps)
        self.reward_type = reward_type
        self.max_episode_steps = int(max_episode_steps)  # the env's time limit (dropping costs the rest)
        self.object: ActiveObject | None = None
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._steps = 0
        self._held_steps = 0
        self._max_lift = 0.0
        self._succeeded = False
        self._rest_z = 0.0

    # ------------------------------------------------------------------ episode
    def reset(self, np_random: np.random.Generator, options: Mapping[str, Any] | None = None) -> None:
        """Draw the object, put it upright at a random spot and yaw in the spawn square."""
        self.object = self.objects.activate(np_random)
        xy = self.spawn_center + np_random.uniform(-self.spawn_half_width, self.spawn_half_width, 2)
        yaw = float(np_random.uniform(-math.pi, math.pi))
        self._reset_counters()
        self._rest_z = self.table_z + self.object.rest_height
        orientation = [0.0, 0.0, math.sin(0.5 * yaw), math.cos(0.5 * yaw)]
        self.objects.place(self.object.body, [xy[0], xy[1], self._rest_z], orientation)
        self._read_state()

    def _read_state(self) -> None:
        body = self._body
        position, orientation = self.sim.getBasePositionAndOrientation(body)
        linear, angular = self.sim.getBaseVelocity(body)
        self._xyz: tuple[float, ...] = position
        self._position = np.array(position)
        self._orientation, self._linear, self._angular = (
            orientation,
            linear,
            angular,
        )  # tuples: pack() takes them
        left = right = 0.0
        for contact in self.sim.getContactPoints(self.robot.body, body):
            if contact[3] == FINGER_JOINTS[0]:
                left = 1.0
            elif contact[3] == FINGER_JOINTS[1]:
                right = 1.0
        self._contacts = (left, right)

    @property
    def _body(self) -> int:
        if self.object is None:
            raise RuntimeError("the grasp task has no object before reset()")
        return self.object.body

    # ------------------------------------------------------------------ step
    @property
    def grasped(self) -> bool:
        """Whether both fingers touch the object now."""
        return bool(self._contacts[0] > 0 and self._contacts[1] > 0)

    @property
    def lift(self) -> float:
        """Height (m) of the object's base above its resting height."""
        return self._xyz[2] - self._rest_z

    def off_table(self) -> bool:
        """Whether the object fell below the table top or left its footprint."""
        x, y, z = self._xyz
        low, high = self.table_low, self.table_high
        return bool(z < self.table_z - 0.02 or not (low[0] <= x <= high[0] and low[1] <= y <= high[1]))

    def evaluate(self, action: FloatArray) -> TaskStatus:
        """Dense/sparse staged reward, success after a held lift, termination (see module doc)."""
        self._read_state()
        self._steps += 1
        lift, grasped = self.lift, self.grasped
        self._max_lift = max(self._max_lift, lift)
        self._held_steps = self._held_steps + 1 if grasped and lift >= LIFT_HEIGHT else 0
        success = self._held_steps >= self.hold_steps
        self._succeeded = self._succeeded or success
        dropped = self.off_table()
        if self.reward_type == "dense":
            distance = math.dist(self._xyz, self.robot.state.ee_xyz)  # tuples: no numpy iteration
            components = {
                "time": -1.0,
                "reach": 0.3 * (1.0 - math.tanh(10.0 * distance)),
                "grasp": 0.2 if grasped else 0.0,
                "lift": 0.5 * min(1.0, max(0.0, lift) / LIFT_HEIGHT) if grasped else 0.0,
                "success": 1.0 if success else 0.0,
            }
        else:
            components = {"time": 0.0 if success else -1.0}
        components["dropped"] = -float(max(0, self.max_episode_steps - self._steps)) if dropped else 0.0
        return TaskStatus(sum(components.values()), success, success or dropped, components)

    def observe(self) -> dict[str, FloatArray]:
        """Object state, finger contacts and object position relative to the grasp point."""
        values: dict[str, Any] = {
            "finger_contacts": self._contacts,
            "object_position": self._position,
            "object_orientation": self._orientation,
            "object_linear_velocity": self._linear,
            "object_angular_velocity": self._angular,
            "object_relative_position": self._position - self.robot.ee_position,
        }
        return values

    def episode_metrics(self) -> dict[str, float]:
        """success (0/1), max_lift_m, final_distance_m (object to grasp point)."""
        distance = float(np.linalg.norm(self._position - self.robot.ee_position))
        return {"success": float(self._succeeded), "max_lift_m": self._max_lift, "final_distance_m": distance}


class GraspGoalTask(GraspTask, GoalTask):
    """Lift the object to a goal point above its resting position (sparse reward, HER-ready)."""

    goal_layout = VectorLayout([OBJECT_POSITION])

    def __init__(self, sim: PyBulletSession, robot: PandaRobot, **kwargs: Any) -> None:
        kwargs.setdefault("reward_type", "sparse")
        if kwargs["reward_type"] != "sparse":
            got = kwargs["reward_type"]
            raise InputError(f"reward_type={got!r} is not accepted by the goal env; choose one of ['sparse']")
        super().__init__(sim, robot, **kwargs)
        self._goal = np.zeros(3)

    def reset(self, np_random: np.random.Generator, options: Mapping[str, Any] | None = None) -> None:
        """Place the object, then draw a goal 0.10-0.20 m above a point within 5 cm of it."""
        super().reset(np_random)
        offset = np_random.uniform(-0.05, 0.05, 2)
        height = np_random.uniform(LIFT_HEIGHT, 2 * LIFT_HEIGHT)
        self._goal = self._position + np.array([offset[0], offset[1], height])

    def evaluate(self, action: FloatArray) -> TaskStatus:
        """Sparse reward from :meth:`compute_reward`; never terminates (time limit only)."""
        self._read_state()
        self._steps += 1
        self._max_lift = max(self._max_lift, self.lift)
        reward = float(self.compute_reward(self._position, self._goal, {}))
        success = reward == 0.0
        self._succeeded = self._succeeded or success
        return TaskStatus(reward, success, False, {"sparse": reward})

    def achieved_goal(self) -> FloatArray:
        """Object base position (m, world), shape (3,)."""
        return self._position.astype(np.float32)

    def desired_goal(self) -> FloatArray:
        """Goal position (m, world), shape (3,)."""
        return self._goal.astype(np.float32)

    def compute_reward(
        self, achieved_goal: NDArray[Any], desired_goal: NDArray[Any], info: Any
    ) -> NDArray[np.float32] | float:
        """0 where ``||achieved - desired|| < GOAL_THRESHOLD`` else -1; shape = batch shape."""
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        reward = (distance < GOAL_THRESHOLD).astype(np.float32) - np.float32(1.0)  # 0 / -1, never -0
        return float(reward) if reward.ndim == 0 else reward

    def episode_metrics(self) -> dict[str, float]:
        """success (0/1 at any step), max_lift_m, final_goal_distance_m."""
        return {
            "success": float(self._succeeded),
            "max_lift_m": self._max_lift,
            "final_goal_distance_m": float(np.linalg.norm(self._position - self._goal)),
        }
