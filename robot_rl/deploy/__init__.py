"""Export trained policies to robots and run them safely.

Import-light on purpose: ``robot_rl.deploy.runtime`` must work where only numpy and onnxruntime
are installed, so nothing here imports torch, SB3 or PyBullet. Names are resolved lazily.

* :func:`export_policy` (``robot_rl.deploy.export``): run dir -> bundle (ONNX, TorchScript, C).
* :func:`verify_bundle` (``robot_rl.deploy.verify``): parity, closed loop, latency report.
* :class:`PolicyRunner` (``robot_rl.deploy.runtime``): numpy + onnxruntime policy execution.
* :class:`SafetyFilter`, :class:`ControlLoop`, :class:`SimHardware`: the robot-side loop.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "export_policy": "robot_rl.deploy.export",
    "verify_bundle": "robot_rl.deploy.verify",
    "VerifyReport": "robot_rl.deploy.verify",
    "PolicyRunner": "robot_rl.deploy.runtime",
    "SafetyFilter": "robot_rl.deploy.safety",
    "SafetyConfig": "robot_rl.deploy.safety",
    "ControlLoop": "robot_rl.deploy.loop",
    "HardwareInterface": "robot_rl.deploy.hardware",
    "SimHardware": "robot_rl.deploy.hardware",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'robot_rl.deploy' has no attribute {name!r}")
