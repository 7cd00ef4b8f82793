"""Robots (bodies the agent moves) for robot_rl environments.

Each module holds one :class:`robot_rl.envs.core.Robot` subclass; import it from its module
(e.g. ``from robot_rl.envs.robots.panda import PandaRobot``) so that importing one robot never
loads another robot's assets.
"""
