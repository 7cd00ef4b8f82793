"""ControlLoop: fixed-rate read -> policy -> safety -> write, with deadline scheduling.

The loop ticks at the *command* rate, an integer multiple ``policy_every`` of the policy rate
(the bundle's). Every tick reads the observation, screens it (e-stop, watchdog, NaN) and writes a
filtered action; the policy runs on every ``policy_every``-th tick and its action is held in
between (the safety filter's slew limit, stated per second, works per command tick). With
``policy_every=1`` every tick is a policy tick.

Deadlines are computed from the start time, ``deadline_k = t0 + k * period``, and the loop sleeps
until the next deadline; it never sleeps a fixed period *after* computing (which drifts by the
compute time every tick). A tick whose work ends after its deadline is an overrun: it is counted
and the schedule skips to the next deadline on the original grid (no burst of catch-up ticks, no
phase drift); the policy phase follows the ticks actually run, so a skipped slot delays the next
policy step instead of dropping it. Python's automatic garbage collector is paused while the loop
runs (a collection can take milliseconds inside a tick); instead the loop collects every
``gc_every`` ticks in the idle time before a deadline, when at least half a period is left, so
memory stays flat over hours. Timing figures are kept in fixed-size ring buffers (percentiles over
the most recent :data:`STATS_WINDOW` ticks; the maximum over the whole run).

Sensor pacing: hardware whose ``sensor_paced`` is true (the ROS 2 bridge) provides
``wait_for_sensor(timeout_s) -> target | None``, which the loop calls instead of sleeping. When a
fresh sensor message arrives it returns the time the next policy tick should run (arrival plus a
small margin); the loop then moves its grid so that a command tick lands on that time and makes it
a policy tick (the current policy step's action is held for fewer or more ticks once; with one
tick per policy step, never within half a period of the previous tick). A sensor faster than the
policy rate (the median of its last 9 arrival intervals under 3/4 of a policy period) sets no
phase, nor does an arrival older than one period; one short interval (a late message followed by
one on time) does not stop the lock. So a sensor message waits about the margin for its policy
step instead of up to a policy period, whatever the robot's clock phase, and the lock holds when
the sensor stream drifts or restarts. On exit (duration
reached, :meth:`ControlLoop.stop`, an exception or Ctrl-C) the
loop writes the safety filter's safe action and calls ``hardware.safe_stop()``.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robot_rl.deploy.interface import HardwareInterface
from robot_rl.deploy.safety import Flag, SafetyFilter
from robot_rl.errors import InputError

#: Overrun tick indices kept in :attr:`LoopStats.overrun_ticks` (the count is always exact).
MAX_OVERRUN_TICKS = 10_000
#: Ticks whose timing figures are kept for the percentiles (about 22 minutes at 100 Hz).
STATS_WINDOW = 1 << 17


class Ring:
    """Fixed-size buffer of the most recent floats, and the maximum of all values ever added."""

    def __init__(self, size: int = STATS_WINDOW) -> None:
        self.values = np.zeros(size)
        self.count = 0
        self.max = -math.inf

    def add(self, value: float) -> None:
        self.values[self.count % len(self.values)] = value
        self.count += 1
        if value > self.max:
            self.max = value

    def percentiles(self) -> dict[str, float]:
        """p50/p99 of the window and the all-time max, in microseconds (empty if nothing added)."""
        if not self.count:
            return {}
        arr = self.values[: min(self.count, len(self.values))] * 1e6
        return {
            "p50": float(np.percentile(arr, 50)),
            "p99": float(np.percentile(arr, 99)),
            "max": float(self.max * 1e6),
        }


@dataclass
class LoopStats:
    """What a run of the loop achieved (times in seconds unless the name says otherwise)."""

    rate_hz: float
    policy_every: int = 1
    steps: int = 0
    policy_steps: int = 0
    gc_runs: int = 0
    gc_max_us: float = 0.0
    duration_s: float = 0.0
    overruns: int = 0
    overrun_ticks: list[int] = field(default_factory=list)  # first MAX_OVERRUN_TICKS tick indices
    compute_us: dict[str, float] = field(default_factory=dict)
    start_lateness_us: dict[str, float] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    latched: list[str] = field(default_factory=list)
    stop_reason: str = ""

    @property
    def achieved_hz(self) -> float:
        """Ticks per second of wall time."""
        return self.steps / self.duration_s if self.duration_s > 0 else 0.0


@contextlib.contextmanager
def realtime_priority(priority: int | None) -> Iterator[None]:
    """Run the block under ``SCHED_FIFO`` at ``priority`` (1..99), restoring the old policy after.

    ``None`` does nothing. Needs CAP_SYS_NICE (root, or an rtprio limit in
    /etc/security/limits.conf), as on a robot computer running a real-time loop.

    Raises:
        ValueError: priority out of range, or the OS refused (message says what to grant).
    """
    if priority is None:
        yield
        return
    if not 1 <= priority <= 99:
        raise InputError(f"realtime priority {priority} is not accepted; expected 1..99 (SCHED_FIFO)")
    old_policy, old_param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as exc:
        raise InputError(
            f"cannot switch to SCHED_FIFO ({exc}); run as root or grant an rtprio limit"
        ) from exc
    try:
        yield
    finally:
        os.sched_setscheduler(0, old_policy, old_param)


class ControlLoop:
    """Run ``policy`` on ``hardware`` at ``rate_hz`` through ``safety`` (see module docstring).

    Args:
        policy: ``obs -> raw action`` (e.g. ``PolicyRunner.act``).
        safety: The safety filter (its records and latches persist across runs).
        hardware: A :class:`~robot_rl.deploy.hardware.HardwareInterface`.
        rate_hz: Command rate in Hz (> 0): ``policy_every`` times the policy rate.
        policy_every: Command ticks per policy step (an int >= 1).
        gc_every: Ticks between garbage collections in idle time (0: never).
        clock: Monotonic clock in seconds; ``sleep``: sleeps seconds (both injectable for tests).
        realtime: ``SCHED_FIFO`` priority (1..99) while running, or ``None`` (normal scheduling).
    """

    def __init__(
        self,
        policy: Callable[[Any], Any],
        safety: SafetyFilter,
        hardware: HardwareInterface,
        rate_hz: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        realtime: int | None = None,
        policy_every: int = 1,
        gc_every: int = 100,
    ) -> None:
        if not (isinstance(rate_hz, int | float) and math.isfinite(rate_hz) and rate_hz > 0):
            raise InputError(f"rate_hz={rate_hz!r} is not accepted; expected a finite number > 0")
        if not (isinstance(policy_every, int) and policy_every >= 1):
            raise InputError(f"policy_every={policy_every!r} is not accepted; expected an int >= 1")
        self.policy_every = policy_every
        self.gc_every = int(gc_every)
        self._held: Any = None
        self._tick_count = 0
        self.policy, self.safety, self.hardware = policy, safety, hardware
        self.rate_hz = float(rate_hz)
        self.period = 1.0 / self.rate_hz
        self.clock, self.sleep = clock, sleep
        self._pace = hardware.wait_for_sensor if getattr(hardware, "sensor_paced", False) else None  # type: ignore[attr-defined]
        self._last_target: float | None = None
        self._intervals: deque[float] = deque(maxlen=9)  # between the sensor's recent arrivals
        self._last_tick = -math.inf
        self.phase_shifts = 0  # grid moves of more than 1 ms (sensor pacing)
        self.realtime = realtime
        self._stop = threading.Event()
        self.last_error: BaseException | None = None

    def stop(self) -> None:
        """Ask the loop to finish after the current tick (thread-safe)."""
        self._stop.set()

    def _idle(self, start: float, slot: int) -> float:
        """Wait for tick ``slot``'s deadline; returns the grid's start, moved by sensor pacing."""
        while True:
            remaining = start + slot * self.period - self.clock()
            if self._pace is None:
                self.sleep(max(remaining, 0.0))
                return start
            if remaining <= 0:
                return start
            target = self._pace(remaining)
            if target is None:
                return start
            start = self._align(start, slot, target)

    def _align(self, start: float, slot: int, target: float) -> float:
        """Move the grid so that a tick lands on ``target`` and make it a policy tick.

        With one tick per policy step, ticks never crowd: the tick goes to the first ``target + j *
        period`` (j >= 0) at least half a period after the last tick, so a message that arrives
        just after a tick waits for the next one instead of causing an extra one. With several
        command ticks per policy step the tick runs on the target: a scan that comes just after a
        policy step that had to use the previous scan gets its own policy step at once.
        """
        policy_period = self.policy_every * self.period
        if target < self.clock() - self.period:
            return start  # an arrival from before the loop's last period (e.g. start-up): no phase
        if self._last_target is not None:
            self._intervals.append(target - self._last_target)
        self._last_target = target
        if len(self._intervals) >= 3 and float(np.median(self._intervals)) < 0.75 * policy_period:
            return start  # the sensor is faster than the policy: it sets no phase
        nxt = target  # a target already past runs at once
        earliest = self._last_tick + self.period / 2
        if self.policy_every == 1 and earliest > target:
            nxt = target + math.ceil((earliest - target) / self.period) * self.period
        due = start + slot * self.period
        if abs(nxt - due) > 1e-3:
            self.phase_shifts += 1
        self._tick_count = 0  # the next tick is a policy tick
        return start + (nxt - due)

    def tick(self, now: float) -> Flag:
        """One read -> screen -> (policy) -> filter -> write cycle; returns the tick's flags."""
        obs, obs_time = self.hardware.read_observation()
        flags = self.safety.screen(obs, obs_time, now)
        policy_tick = self._tick_count % self.policy_every == 0
        self._tick_count += 1
        if policy_tick:
            raw = None
            if not flags:
                try:
                    raw = self.policy(obs)
                except Exception as exc:  # a policy failure must end in a safe action, not a crash
                    self.last_error = exc
                    flags |= Flag.POLICY_ERROR
            self._held = raw
        else:
            raw = None if flags else self._held
        self.hardware.write_action(self.safety.apply(raw, flags, now, policy_step=policy_tick))
        return flags

    def run(self, duration_s: float | None = None, max_steps: int | None = None) -> LoopStats:
        """Run until ``duration_s`` of wall time, ``max_steps`` ticks or :meth:`stop`.

        Raises:
            ValueError: neither a duration nor a step limit was given, or one is not positive.
        """
        if duration_s is None and max_steps is None:
            raise InputError("give duration_s (seconds) or max_steps (ticks) so the loop can end")
        if (duration_s is not None and not duration_s > 0) or (max_steps is not None and max_steps <= 0):
            raise InputError(f"duration_s={duration_s} and max_steps={max_steps} must be > 0 when given")
        self._stop.clear()
        gc_was_enabled = gc.isenabled()
        gc.collect()
        gc.disable()  # no collector pauses inside ticks; re-enabled on exit
        stats = LoopStats(self.rate_hz, self.policy_every)
        compute, lateness = Ring(), Ring()
        self._tick_count, self._held = 0, None
        gc.freeze()  # objects alive now are never scanned again: idle-time collections stay short
        start = self.clock()
        try:
            with realtime_priority(self.realtime):
                stats.stop_reason = self._ticks(stats, start, duration_s, max_steps, compute, lateness)
        except KeyboardInterrupt:
            stats.stop_reason = "interrupted"
        finally:
            stats.duration_s = self.clock() - start
            gc.unfreeze()
            if gc_was_enabled:
                gc.enable()
            self._shutdown()
        stats.policy_steps = math.ceil(stats.steps / self.policy_every)
        stats.compute_us = compute.percentiles()
        stats.start_lateness_us = lateness.percentiles()
        stats.faults = dict(self.safety.fault_counts)
        stats.latched = Flag.names(self.safety.latched)
        return stats

    def _ticks(self, stats: LoopStats, start: float, duration_s: float | None, max_steps: int | None,
               compute: Ring, lateness: Ring) -> str:  # fmt: skip
        """The scheduling loop; tick ``slot`` is due at ``start + slot * period``. Returns why it ended."""
        slot, begin = 0, start
        while not self._stop.is_set():
            scheduled = start + slot * self.period
            if duration_s is not None and scheduled - begin >= duration_s - 1e-9:
                return "duration"
            t0 = self._last_tick = self.clock()
            lateness.add(t0 - scheduled)
            self.tick(t0)
            stats.steps += 1
            now = self.clock()
            compute.add(now - t0)
            slot += 1
            if now > start + slot * self.period:  # overrun: skip to the next slot on the grid
                stats.overruns += 1
                if len(stats.overrun_ticks) < MAX_OVERRUN_TICKS:
                    stats.overrun_ticks.append(stats.steps - 1)
                slot = math.ceil((now - start) / self.period)
            if max_steps is not None and stats.steps >= max_steps:
                return "max_steps"
            self._idle_gc(stats, start + slot * self.period)
            start = self._idle(start, slot)
        return "stop requested"

    def _idle_gc(self, stats: LoopStats, deadline: float) -> None:
        """Collect garbage every ``gc_every`` ticks, only when half a period of idle time is left."""
        if not self.gc_every or stats.steps % self.gc_every or deadline - self.clock() < 0.5 * self.period:
            return
        t0 = self.clock()
        gc.collect()
        stats.gc_runs += 1
        stats.gc_max_us = max(stats.gc_max_us, (self.clock() - t0) * 1e6)

    def _shutdown(self) -> None:
        """Safe action, then the hardware's safe stop (both always attempted)."""
        try:
            self.hardware.write_action(self.safety.safe_action())
        finally:
            self.hardware.safe_stop()
