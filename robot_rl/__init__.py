"""robot_rl: PyBullet robot environments, SB3 training and verified policy export.

Importing the package registers the ``robot_rl/...`` Gymnasium ids. It imports neither PyBullet
nor torch, and on a robot-side install without Gymnasium it skips registration, so that
:mod:`robot_rl.deploy.runtime` runs with numpy and onnxruntime alone.
"""

__version__ = "0.1.0"

try:
    from robot_rl.envs.registration import register_all
except ImportError:  # robot-side install: no gymnasium, only the deploy runtime is usable
    pass
else:
    register_all()
