"""SimHardware: the control loop's hardware interface on a simulated env.

A real driver implements :class:`~robot_rl.deploy.interface.HardwareInterface` (three methods).
:class:`SimHardware` implements it on top of a Gymnasium env (the PyBullet envs of robot_rl, or
any env), so the whole deploy stack (runtime, safety filter, control loop) runs end to end in tests and in
``robot-rl deploy --hardware sim``.

Simulated time advances exactly as the loop's time does: each ``write_action`` is one command
tick of ``1 / command_hz`` seconds. At the policy rate (``command_hz`` = 1 / ``env.dt``, the
default) a write is one env step. At ``k`` times the policy rate a write applies the command for
``1/k`` of the control step's physics substeps (rounded to whole physics steps so that ``k``
writes make exactly one control step; robot_rl envs only, through ``apply_command``), and the
env step (reward, success, observation) completes on every ``k``-th write. Each write carries an
action in the policy's units; a *displacement* entry (a move per control step, see the manifest's
``action.semantics``) is applied as ``1/k`` of it per tick, velocities and positions as they are.

Observations are stamped with the time they were produced: the read time when every write is a
control step (the simulation is paused between writes, so its state is current), else the time of
the write that completed the last control step.

Fault injection (:class:`SimFaults`): stale observations (the reported
observation and its timestamp freeze while the robot keeps moving), NaN sensors (NaN in the
observation) and a slow policy/driver (a sleep inside ``read_observation``, i.e. inside the
loop's compute time).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces as gym_spaces
from numpy.typing import NDArray

from robot_rl.deploy.interface import HardwareInterface
from robot_rl.errors import InputError

__all__ = ["HardwareInterface", "SimFaults", "SimHardware"]


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


def _ticks_per_step(env: Any, command_hz: float | None) -> int:
    """Command ticks per control step (1 at the policy rate)."""
    if command_hz is None:
        return 1
    dt = float(env.unwrapped.dt)
    ratio = command_hz * dt
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 1e-6:
        raise InputError(
            f"command_hz={command_hz:g} is not an integer multiple of the env's control rate {1 / dt:g} Hz"
        )
    if k > 1 and not hasattr(env.unwrapped, "apply_command"):
        raise InputError(
            f"a {command_hz:g} Hz command stream needs a robot_rl env (apply_command); "
            f"run {type(env.unwrapped).__name__} at {1 / dt:g} Hz"
        )
    return k


def _command_scale(env: Any, k: int) -> NDArray[np.float32] | None:
    """Per-entry factor of a command tick's share of the action (1/k for displacements)."""
    if k == 1 or not hasattr(env.unwrapped, "action_semantics"):
        return None
    if not isinstance(env.action_space, gym_spaces.Box):
        return None  # discrete indices are held
    scale = [
        1.0 / k if row["kind"] == "displacement" else 1.0
        for row in env.unwrapped.action_semantics()
        for _ in range(_field_size(env, row["name"]))
    ]
    return np.array(scale, np.float32)


def _field_size(env: Any, name: str) -> int:
    s = env.unwrapped.action_layout.slice(name)
    return int(s.stop - s.start)


class SimHardware:
    """:class:`HardwareInterface` on a Gymnasium env (see module docstring).

    Args:
        env: A Gymnasium env (already made); it is reset with ``seed`` and then ``seed + k``.
        seed: Seed of the first episode.
        faults: Faults to inject.
        clock: Monotonic clock in seconds (same as the loop's).
        command_hz: Rate of ``write_action`` calls (default: the env's control rate); an integer
            multiple of the control rate.
        record_limit: Most recent written actions kept in :attr:`actions`.
        sleep: Sleeps seconds (the ``slow`` fault; injectable with ``clock`` for tests).

    Raises:
        ValueError: ``command_hz`` is not a multiple of the control rate, or a faster command
            stream for an env without ``apply_command`` (not a robot_rl env).
    """

    def __init__(
        self,
        env: Any,
        seed: int = 0,
        faults: SimFaults | None = None,
        clock: Callable[[], float] = time.monotonic,
        command_hz: float | None = None,
        record_limit: int = 10_000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.env = env
        self.faults = faults or SimFaults()
        self.clock, self.sleep = clock, sleep
        self.seed = seed
        self.episodes: list[EpisodeOutcome] = []
        self.steps = 0  # command ticks (writes)
        self.stopped = False
        self.actions: deque[Any] = deque(maxlen=record_limit)
        #: (tick index, seconds) of each episode reset done inside a write: simulation work a
        #: real robot does not have, reported apart from the loop's own timing.
        self.resets: deque[tuple[int, float]] = deque(maxlen=record_limit)
        self.ticks_per_step = _ticks_per_step(env, command_hz)
        self._scale = _command_scale(env, self.ticks_per_step)
        self._tick = 0  # command tick within the current control step
        self._episode_seed = seed
        self._obs, _ = env.reset(seed=seed)
        self._stamp = clock()
        self._reported = (self._obs, self._stamp)
        self._ret, self._len = 0.0, 0

    @property
    def latest_observation(self) -> Any:
        """The env's observation after the last completed control step (or reset)."""
        return self._obs

    def read_observation(self) -> tuple[Any, float]:
        k = self.steps
        if k in self.faults.slow_steps:
            self.sleep(self.faults.slow_s)
        if k not in self.faults.stale_steps:
            # At the policy rate the simulation is paused between writes: its state is current now.
            stamp = self.clock() if self.ticks_per_step == 1 else self._stamp
            self._reported = (self._obs, stamp)
        obs, stamp = self._reported
        if k in self.faults.nan_steps:
            obs = _with_nan(obs, self.faults.nan_index)
        return obs, stamp

    def write_action(self, action: Any) -> None:
        if self.stopped:
            raise RuntimeError("write_action after safe_stop(); create a new SimHardware to run again")
        self.actions.append(action)
        self.steps += 1
        if self.ticks_per_step == 1:
            self._finish(*self.env.step(action))
            return
        base, k, i = self.env.unwrapped, self.ticks_per_step, self._tick
        substeps = base.timing.substeps
        physics = substeps * (i + 1) // k - substeps * i // k
        command = action if self._scale is None else np.asarray(action, np.float32) * self._scale
        base.apply_command(command, physics)
        self._tick = (i + 1) % k
        if self._tick == 0:
            self._finish(*base.finish_step(action))

    def _finish(
        self, obs: Any, reward: float, terminated: bool, truncated: bool, info: dict[str, Any]
    ) -> None:
        """Book-keeping after a completed control step (episode end: record it and reset)."""
        self._stamp = self.clock()
        self._ret += float(reward)
        self._len += 1
        if terminated or truncated:
            success = bool(info["is_success"]) if "is_success" in info else None
            self.episodes.append(EpisodeOutcome(self._episode_seed, self._len, self._ret, success))
            self._episode_seed += 1
            t0 = time.perf_counter()
            obs, _ = self.env.reset(seed=self._episode_seed)
            self.resets.append((self.steps - 1, time.perf_counter() - t0))
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
            "reset_ticks": [tick for tick, _ in self.resets],
            "reset_ms": [1e3 * seconds for _, seconds in self.resets],
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
