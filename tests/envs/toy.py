"""A toy robot/task on the env core, to test RobotTaskEnv without the real robots."""

from __future__ import annotations

from typing import Any

import numpy as np

from robot_rl.envs.core import EnvSettings, GoalTask, Robot, RobotTaskEnv, Task, TaskStatus
from robot_rl.envs.layout import Field, VectorLayout
from robot_rl.sim.session import PyBulletSession
from robot_rl.sim.timing import SimTiming


class Puck(Robot):
    """A cube on a plane driven by a base velocity of 1 m/s per unit action."""

    action_layout = VectorLayout([Field("vx", 1, "m/s", -1, 1), Field("vy", 1, "m/s", -1, 1)])
    obs_layout = VectorLayout([Field("position", 2, "m", -10, 10)])

    def __init__(self, sim: PyBulletSession, timing: SimTiming) -> None:
        super().__init__(sim, timing)
        sim.load_urdf("plane.urdf")
        self.body = sim.load_urdf("cube_small.urdf", [0, 0, 0.025])
        sim.changeDynamics(self.body, -1, lateralFriction=0.0)
        self.applied: list[np.ndarray] = []

    def reset(self, np_random: np.random.Generator, options: Any = None) -> None:
        x, y = np_random.uniform(-0.5, 0.5, 2)
        self.sim.resetBasePositionAndOrientation(self.body, [x, y, 0.025], [0, 0, 0, 1])
        self.sim.resetBaseVelocity(self.body, [0, 0, 0], [0, 0, 0])
        self.applied = []

    def apply_action(self, action: np.ndarray) -> None:
        self.applied.append(action.copy())
        self.sim.resetBaseVelocity(self.body, [float(action[0]), float(action[1]), 0], [0, 0, 0])

    def observe(self) -> dict[str, np.ndarray]:
        pos = self.sim.getBasePositionAndOrientation(self.body)[0]
        return {"position": np.array(pos[:2], np.float32)}


class ReachOrigin(Task):
    obs_layout = VectorLayout([Field("distance", 1, "m", 0, 20)])

    def reset(self, np_random: np.random.Generator, options: Any = None) -> None:
        pass

    def _distance(self) -> float:
        return float(np.linalg.norm(self.robot.observe()["position"]))

    def observe(self) -> dict[str, np.ndarray]:
        return {"distance": np.array([self._distance()], np.float32)}

    def evaluate(self, action: np.ndarray) -> TaskStatus:
        d = self._distance()
        return TaskStatus(-d, d < 0.05, d < 0.05, {"distance": -d})

    def episode_metrics(self) -> dict[str, float]:
        return {"final_distance": self._distance()}


class ReachGoal(GoalTask, ReachOrigin):
    goal_layout = VectorLayout([Field("xy", 2, "m", -5, 5)])

    def achieved_goal(self) -> np.ndarray:
        return self.robot.observe()["position"]

    def desired_goal(self) -> np.ndarray:
        return np.zeros(2, np.float32)

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        d = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(d > 0.05).astype(np.float32)


class ToyEnv(RobotTaskEnv):
    def __init__(self, goal: bool = False, discrete: bool = False, **kwargs: Any) -> None:
        table = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)) if discrete else None
        settings = EnvSettings(SimTiming(240, 20), discrete_actions=table, **kwargs)
        sim = PyBulletSession(physics_dt=settings.timing.physics_dt)
        robot = Puck(sim, settings.timing)
        task = (ReachGoal if goal else ReachOrigin)(sim, robot)
        super().__init__(robot, task, settings)
