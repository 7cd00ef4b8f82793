"""robot_rl: PyBullet robot environments, SB3 training and verified policy export.

Importing the package registers the ``robot_rl/...`` Gymnasium ids.
"""

from robot_rl.envs.registration import register_all

__version__ = "0.1.0"

register_all()
