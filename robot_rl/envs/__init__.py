"""robot_rl environments (Gymnasium)."""

from robot_rl.envs.core import GoalTask, Robot, RobotTaskEnv, Task, TaskStatus
from robot_rl.envs.layout import Field, VectorLayout

__all__ = ["Field", "GoalTask", "Robot", "RobotTaskEnv", "Task", "TaskStatus", "VectorLayout"]
