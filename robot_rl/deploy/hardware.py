"""The robot side of the control loop: a small Protocol and a simulated implementation.

A real driver implements :class:`HardwareInterface` (three methods). :class:`SimHardware`
implements it on top of a Gymnasium env (the PyBullet envs of robot_rl, or any env), so the whole
deploy stack (runtime, safety filter, control loop) runs end to end in tests and in
``robot-rl deploy --hardware sim``. Each ``write_action`` advances the env one control step, so
in sim mode simulated time runs at ``env.dt`` per loop tick, whatever the loop rate.

Observations are stamped with the read time (the simulation is paused between writes, so its
state is current). Fault injection (:class:`SimFaults`): stale observations (the reported
observation and its timestamp freeze while the robot keeps moving), NaN sensors (NaN in the
observation) and a slow policy/driver (a sleep inside ``read_observation``, i.e. inside the
loop's compute time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


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


@dataclass
class SimFaults:
    """Faults :class:`SimHardware` injects, by control step index (0-based writes).

    Attributes:
        stale_steps: Steps at which the observation is NOT refreshed (old obs, old timestamp).
        nan_steps: Steps whose observation has NaN in entry ``nan_index``.
        nan_index: Flat index of the NaN entry (first input).
        slow_steps: Steps at which ``read_observation`` sleeps ``slow_s`` (a slow policy/driver).
        slow_s: Extra compute time in seconds.
    """

    stale_steps: set[int] = field(default_factory=set)
    nan_steps: set[int] = field(default_factory=set)
    nan_index: int = 0
    slow_steps: set[int] = field(default_factory=set)
    slow_s: float = 0.0


@dataclass
class EpisodeOutcome:
    """One finished simulated episode."""

    seed: int
    steps: int
    ret: float
    success: bool | None


class SimHardware:
    """:class:`HardwareInterface` on a Gymnasium env (see module docstring).

    Args:
        env: A Gymnasium env (already made); it is reset with ``seed`` and then ``seed + k``.
        seed: Seed of the first episode.
        faults: Faults to inject.
        clock: Monotonic clock in seconds (same as the loop's).
    """

    def __init__(
        self,
        env: Any,
        seed: int = 0,
        faults: SimFaults | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.env = env
        self.faults = faults or SimFaults()
        self.clock = clock
        self.seed = seed
        self.episodes: list[EpisodeOutcome] = []
        self.steps = 0
        self.stopped = False
        self.actions: list[Any] = []
        self._episode_seed = seed
        self._obs, _ = env.reset(seed=seed)
        self._reported = (self._obs, clock())
        self._ret, self._len = 0.0, 0

    def read_observation(self) -> tuple[Any, float]:
        k = self.steps
        if k in self.faults.slow_steps:
            time.sleep(self.faults.slow_s)
        if k not in self.faults.stale_steps:
            # The simulation is paused between writes, so its state is current at read time.
            self._reported = (self._obs, self.clock())
        obs, stamp = self._reported
        if k in self.faults.nan_steps:
            obs = _with_nan(obs, self.faults.nan_index)
        return obs, stamp

    def write_action(self, action: Any) -> None:
        if self.stopped:
            raise RuntimeError("write_action after safe_stop(); create a new SimHardware to run again")
        self.actions.append(action)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        self._ret += float(reward)
        self._len += 1
        if terminated or truncated:
            success = bool(info["is_success"]) if "is_success" in info else None
            self.episodes.append(EpisodeOutcome(self._episode_seed, self._len, self._ret, success))
            self._episode_seed += 1
            obs, _ = self.env.reset(seed=self._episode_seed)
            self._ret, self._len = 0.0, 0
        self._obs = obs

    def safe_stop(self) -> None:
        self.stopped = True

    def summary(self) -> dict[str, Any]:
        """Finished episodes, successes and mean return (task outcome of a deploy run)."""
        done = self.episodes
        successes = [e.success for e in done if e.success is not None]
        return {
            "episodes": len(done),
            "successes": int(sum(successes)),
            "success_rate": float(np.mean(successes)) if successes else None,
            "return_mean": float(np.mean([e.ret for e in done])) if done else None,
            "steps": self.steps,
            "unfinished_episode_steps": self._len,
        }

    def close(self) -> None:
        self.env.close()


def _with_nan(obs: Any, index: int) -> Any:
    if isinstance(obs, dict):
        first = next(iter(obs))
        out = {k: np.array(v, np.float32) for k, v in obs.items()}
        out[first].reshape(-1)[index % out[first].size] = np.nan
        return out
    arr = np.array(obs, np.float32)
    arr.reshape(-1)[index % arr.size] = np.nan
    return arr
