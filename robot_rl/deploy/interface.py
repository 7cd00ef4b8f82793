"""The robot side of the control loop: what :class:`~robot_rl.deploy.loop.ControlLoop` needs from a driver.

A real driver implements these three methods; :class:`robot_rl.deploy.hardware.SimHardware`
implements them on a simulated env. This module imports nothing but the standard library, so the
loop runs on a robot without the simulation stack (an import contract checks it).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class HardwareInterface(Protocol):
    """What the control loop needs from a robot driver."""

    def read_observation(self) -> tuple[Any, float]:
        """Latest observation (array or dict of arrays, manifest layout) and its capture time.

        The timestamp is in seconds on the same monotonic clock the loop uses
        (``time.monotonic`` by default); the watchdog compares it with "now".
        """
        ...

    def write_action(self, action: Any) -> None:
        """Send one (already safety-filtered) action to the actuators."""
        ...

    def safe_stop(self) -> None:
        """Bring the robot to a safe state (brakes, zero torque, ...); called on shutdown."""
        ...
