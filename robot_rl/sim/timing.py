"""Validated physics/control rate pair.

Every environment states its rates once, here, and derives everything else (the control period
``dt``, the number of physics substeps per control step, episode limits in steps) from it, so that
no module re-derives a step count from a hard-coded number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robot_rl.errors import InputError

#: Lowest physics rate accepted, in Hz. PyBullet's contact solver is tuned for 240 Hz; coarser
#: physics makes grasps slip and wheels tunnel, so speed must come from doing less work per step.
MIN_PHYSICS_HZ = 240.0


@dataclass(frozen=True)
class SimTiming:
    """A physics rate and a control rate whose ratio is a whole number of substeps.

    Attributes:
        physics_hz: Rate of ``stepSimulation`` calls, in Hz (>= 240).
        control_hz: Rate at which the agent acts, in Hz; must divide ``physics_hz`` exactly.
    """

    physics_hz: float = 240.0
    control_hz: float = 20.0

    def __post_init__(self) -> None:
        for name in ("physics_hz", "control_hz"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise InputError(f"{name} must be a finite positive number of Hz, got {value!r}")
        if self.physics_hz < MIN_PHYSICS_HZ:
            raise InputError(
                f"physics_hz={self.physics_hz} is below the accepted minimum of "
                f"{MIN_PHYSICS_HZ:g} Hz; use 240 Hz or finer"
            )
        if self.control_hz > self.physics_hz:
            raise InputError(
                f"control_hz={self.control_hz} exceeds physics_hz={self.physics_hz}; "
                "the control rate must be at most the physics rate"
            )
        ratio = self.physics_hz / self.control_hz
        if abs(ratio - round(ratio)) > 1e-9:
            raise InputError(
                f"physics_hz / control_hz = {self.physics_hz}/{self.control_hz} = {ratio:.6g} is "
                "not a whole number; choose rates whose ratio is an integer number of substeps "
                "(e.g. 240/20 = 12)"
            )

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return round(self.physics_hz / self.control_hz)

    @property
    def physics_dt(self) -> float:
        """Physics time step, in seconds."""
        return 1.0 / self.physics_hz

    @property
    def dt(self) -> float:
        """Control period, in seconds (what ``env.unwrapped.dt`` reports)."""
        return self.substeps / self.physics_hz

    def steps_for(self, seconds: float) -> int:
        """Number of control steps that cover ``seconds`` of simulated time (rounded up, >= 1).

        Raises:
            ValueError: if ``seconds`` is not a finite positive number.
        """
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds <= 0:
            raise InputError(f"a duration must be a finite positive number of seconds, got {seconds!r}")
        return max(1, math.ceil(seconds / self.dt - 1e-9))
