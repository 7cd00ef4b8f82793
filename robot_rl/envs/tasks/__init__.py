"""Tasks (scene objects, reward, success) for robot_rl environments.

Each module holds the :class:`robot_rl.envs.core.Task` subclasses of one family; import them from
their module (e.g. ``from robot_rl.envs.tasks.grasp import GraspTask``).
"""
