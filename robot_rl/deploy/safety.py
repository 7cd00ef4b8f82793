"""SafetyFilter: the last gate between a policy and the actuators (numpy only).

The loop calls :meth:`SafetyFilter.screen` on each command tick's observation and
:meth:`SafetyFilter.apply` on the action to send (the policy's new action on a policy tick, the
held one in between). Rules, in priority order:

1. e-stop latched (:meth:`estop`, safe from any thread) or watchdog stop latched -> safe action,
   until :meth:`reset`;
2. stale observation (``now - obs_time > watchdog_timeout_s``) -> safe action, and the
   watchdog stop latches (a robot that lost its sensors must not resume by itself);
3. NaN/Inf in the observation, or in the action, or a policy exception -> safe action and a
   fault flag; ``max_consecutive_faults`` such *policy steps* in a row latch the stop;
4. otherwise the action is clipped to ``[action_low, action_high]`` and each entry's change
   from the previous output is limited to ``max_rate_per_s * tick_s`` (slew limit stated per
   second, applied per command tick of ``tick_s`` seconds).

The safe action is the env's own (carried by the bundle); ``nan`` entries mean "hold the last
output value" (e.g. keep the gripper closed on an object). It is applied immediately, without
slew limiting: a stop command must not be delayed. For discrete actions the safe action is an
index (navigation: the stop primitive).

Every step appends a :class:`StepRecord` (raw action, safe action, flags) to :attr:`records`, a
:class:`RecordRing` of the most recent ``record_limit`` steps in arrays allocated once.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.errors import InputError


class Flag(enum.IntFlag):
    """Why the filter intervened in a step (bit flags, combined per step)."""

    NONE = 0
    NONFINITE_OBS = 1
    NONFINITE_ACTION = 2
    POLICY_ERROR = 4
    CLIPPED = 8
    SLEW_LIMITED = 16
    STALE_OBS = 32
    WATCHDOG_STOP = 64
    FAULT_STOP = 128
    ESTOP = 256

    @classmethod
    def names(cls, value: int) -> list[str]:
        """Names of the bits set in ``value``."""
        return [f.name for f in cls if f.value and value & f.value and f.name]


#: Flags after which the raw action is replaced by the safe action.
STOPPING = Flag.NONFINITE_OBS | Flag.NONFINITE_ACTION | Flag.POLICY_ERROR | Flag.STALE_OBS
LATCHED = Flag.WATCHDOG_STOP | Flag.FAULT_STOP | Flag.ESTOP


@dataclass
class StepRecord:
    """One control step as the filter saw it (``raw_action`` is None when the policy was skipped)."""

    step: int
    time_s: float
    raw_action: Any
    safe_action: Any
    flags: int
    policy_step: bool = True


class RecordRing:
    """The most recent ``size`` step records, in arrays allocated once.

    Why not a ``deque`` of :class:`StepRecord`: at 100 Hz a deque of objects grows by tens of
    megabytes before it reaches its limit, and every record is an object the garbage collector
    must scan (a full collection took 32 ms after 10 minutes). Here memory is fixed from the start
    and nothing is allocated per tick. Indexing and iteration return :class:`StepRecord` views
    (oldest first); a raw action of the wrong shape is recorded as NaN.
    """

    def __init__(self, size: int, n: int, discrete: bool) -> None:
        if size < 1:
            raise InputError(f"record_limit must be >= 1, got {size}")
        self.size, self.discrete, self.count = size, discrete, 0
        self.step = np.zeros(size, np.int64)
        self.time_s = np.zeros(size)
        self.raw = np.full((size, n), np.nan, np.float32)
        self.has_raw = np.zeros(size, bool)
        self.safe = np.zeros((size, n), np.float32)
        self.flags = np.zeros(size, np.int64)
        self.policy_step = np.zeros(size, bool)

    def append(
        self, step: int, time_s: float, raw: Any, safe: Any, flags: int, policy_step: bool = True
    ) -> None:
        k = self.count % self.size
        self.step[k], self.time_s[k], self.flags[k] = step, time_s, flags
        self.policy_step[k] = policy_step
        self.has_raw[k] = raw is not None
        if raw is not None:
            value = np.asarray(raw, np.float32).reshape(-1)
            self.raw[k] = value if value.shape == self.raw[k].shape else np.nan
        self.safe[k] = safe
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, self.size)

    def __getitem__(self, index: int) -> StepRecord:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"record {index} out of range ({n} kept)")
        k = (self.count - n + index % n) % self.size
        raw: Any = None
        if self.has_raw[k]:
            raw = int(self.raw[k, 0]) if self.discrete and np.isfinite(self.raw[k, 0]) else self.raw[k].copy()
        safe: Any = int(self.safe[k, 0]) if self.discrete else self.safe[k].copy()
        return StepRecord(
            int(self.step[k]), float(self.time_s[k]), raw, safe, int(self.flags[k]), bool(self.policy_step[k])
        )

    def __iter__(self) -> Iterator[StepRecord]:
        return (self[i] for i in range(len(self)))


@dataclass
class SafetyConfig:
    """Limits of the filter (see module docstring for the rules).

    Attributes:
        action_low: Lower bound per action entry (env action units), float ``(n,)``.
        action_high: Upper bound per action entry, float ``(n,)``.
        safe_action: Safe action per entry (``nan`` = hold last output); for discrete actions a
            one-element array holding the index.
        max_rate_per_s: Slew limit per entry in action units per second (``inf`` = none), ``(n,)``.
        watchdog_timeout_s: Maximum observation age in seconds before the watchdog stop.
        tick_s: Command period in seconds (the slew limit per tick is ``max_rate_per_s * tick_s``).
        max_consecutive_faults: Policy steps in a row with a fault (NaN obs/action, policy error)
            that latch a stop.
        discrete: Whether actions are discrete indices.
        n_actions: Number of discrete actions (discrete only).
        record_limit: Most recent step records kept.
    """

    action_low: NDArray[np.float64]
    action_high: NDArray[np.float64]
    safe_action: NDArray[np.float64]
    max_rate_per_s: NDArray[np.float64]
    watchdog_timeout_s: float
    tick_s: float
    max_consecutive_faults: int = 5
    discrete: bool = False
    n_actions: int = 0
    record_limit: int = 100_000

    def __post_init__(self) -> None:
        n = len(self.action_low)
        for name in ("action_high", "safe_action", "max_rate_per_s"):
            if len(getattr(self, name)) != n:
                raise InputError(
                    f"safety {name} needs {n} entries (one per action entry), got {len(getattr(self, name))}"
                )
        if not np.all(self.action_low <= self.action_high):
            raise InputError(f"safety action_low {self.action_low} must be <= action_high {self.action_high}")
        if np.any(self.max_rate_per_s <= 0):
            raise InputError(f"safety max_rate_per_s must be > 0 (units/s), got {self.max_rate_per_s}")
        if not self.watchdog_timeout_s > 0 or not self.tick_s > 0:
            raise InputError(
                f"safety watchdog_timeout_s ({self.watchdog_timeout_s}) and tick_s ({self.tick_s}) "
                "must be > 0 s"
            )
        if self.max_consecutive_faults < 1:
            raise InputError(f"max_consecutive_faults must be >= 1, got {self.max_consecutive_faults}")
        if self.discrete and not 0 <= self.safe_action[0] < self.n_actions:
            index = self.safe_action[0]
            raise InputError(f"safe_action index {index:g} must be in [0, {self.n_actions - 1}]")
        held = ~np.isfinite(self.safe_action)
        finite, lo, hi = self.safe_action[~held], self.action_low[~held], self.action_high[~held]
        if np.any(finite < lo) or np.any(finite > hi):
            raise InputError(
                f"safe_action {self.safe_action} lies outside [{self.action_low}, {self.action_high}]"
            )

    @property
    def max_delta(self) -> NDArray[np.float64]:
        """Largest change per command tick, per entry (action units)."""
        return self.max_rate_per_s * self.tick_s

    @classmethod
    def from_manifest(
        cls, manifest: Mapping[str, Any], settings: Mapping[str, Any] | None = None
    ) -> SafetyConfig:
        """The filter for a bundle: its safe action and its ``safety`` limits (or tightened ``settings``).

        Args:
            manifest: The bundle's manifest (schema 2: ``action.safe_action`` and ``safety``).
            settings: Effective limits from :func:`robot_rl.deploy.deploy_config.effective_settings`
                (default: the manifest's own ``safety``).
        """
        s = dict(settings or manifest["safety"])
        action = manifest["action"]
        common: dict[str, Any] = {
            "watchdog_timeout_s": float(s["watchdog_timeout_s"]),
            "tick_s": 1.0 / float(s["command_hz"]),
            "max_consecutive_faults": int(s["max_consecutive_faults"]),
        }
        if action["type"] == "discrete":
            safe = np.array([float(action["safe_action"])])
            return cls(np.zeros(1), np.full(1, action["n"] - 1.0), safe, np.full(1, np.inf), discrete=True,
                       n_actions=int(action["n"]), **common)  # fmt: skip
        low = np.array(s["action_low"], np.float64)
        high = np.array(s["action_high"], np.float64)
        safe = np.array([np.nan if v is None else float(v) for v in action["safe_action"]])
        rate = np.array([np.inf if r is None else float(r) for r in s["max_rate_per_s"]])
        return cls(low, high, safe, rate, **common)


class SafetyFilter:
    """Applies :class:`SafetyConfig` step by step (see module docstring)."""

    def __init__(self, config: SafetyConfig) -> None:
        self.config = config
        self.records = RecordRing(config.record_limit, len(config.action_low), config.discrete)
        self._latched = Flag.NONE
        self._estop = threading.Event()  # set from any thread; read by the loop every tick
        self._lock = threading.Lock()  # guards _latched against reset() from another thread
        self.fault_counts: dict[str, int] = {}
        self._last = np.where(np.isfinite(config.safe_action), config.safe_action, 0.0)
        self._consecutive = 0
        self._step = 0

    # ---------------------------------------------------------------- latches
    def estop(self) -> None:
        """Latch the emergency stop: safe action from the next tick on, until :meth:`reset`.

        Safe to call from any thread (a signal handler, a button callback, a network thread):
        it only sets a :class:`threading.Event`, which the loop reads on every tick.
        """
        self._estop.set()

    def reset(self) -> None:
        """Clear every latch (e-stop, watchdog, fault stop) and the fault streak."""
        with self._lock:
            self._estop.clear()
            self._latched = Flag.NONE
            self._consecutive = 0

    @property
    def latched(self) -> Flag:
        """The latched stops (e-stop, watchdog, fault stop)."""
        return self._latched | (Flag.ESTOP if self._estop.is_set() else Flag.NONE)

    def _latch(self, flag: Flag) -> None:
        with self._lock:
            self._latched |= flag

    @property
    def stopped(self) -> bool:
        """Whether a stop is latched."""
        return bool(self.latched)

    # ---------------------------------------------------------------- per step
    def screen(self, obs: Any, obs_time_s: float, now_s: float) -> Flag:
        """Flags of the observation; non-zero means: do not run the policy, use the safe action."""
        flags = Flag(self.latched)
        if now_s - obs_time_s > self.config.watchdog_timeout_s:
            flags |= Flag.STALE_OBS
            self._latch(Flag.WATCHDOG_STOP)
        values = obs.values() if isinstance(obs, Mapping) else [obs]
        if not all(np.all(np.isfinite(np.asarray(v, np.float64))) for v in values):
            flags |= Flag.NONFINITE_OBS
        return flags

    def safe_action(self) -> Any:
        """The safe action now (``None`` entries resolved to the last output)."""
        if self.config.discrete:
            return int(self.config.safe_action[0])
        safe = self.config.safe_action
        return np.where(np.isfinite(safe), safe, self._last).astype(np.float32)

    def apply(
        self, raw_action: Any, flags: Flag = Flag.NONE, now_s: float = 0.0, policy_step: bool = True
    ) -> Any:
        """The action to send: ``raw_action`` made safe, given the ``screen`` flags of this tick.

        Args:
            raw_action: Policy output, or ``None`` if the policy was skipped or raised.
            flags: Flags from :meth:`screen` (plus ``POLICY_ERROR`` if the policy raised).
            now_s: Time of the tick (seconds, for the record).
            policy_step: Whether the policy ran this tick (only those count towards
                ``max_consecutive_faults``; in between, the held action is filtered again).
        """
        flags = Flag(flags) | self.latched
        if raw_action is not None and not self.config.discrete:
            raw_action = np.asarray(raw_action, np.float64).reshape(-1)
            if raw_action.shape != self.config.action_low.shape or not np.all(np.isfinite(raw_action)):
                flags |= Flag.NONFINITE_ACTION
        elif raw_action is not None and not 0 <= int(raw_action) < self.config.n_actions:
            flags |= Flag.NONFINITE_ACTION
        flags = self._update_fault_streak(flags) if policy_step else flags | self.latched
        if raw_action is None or flags & (STOPPING | LATCHED):
            out = self.safe_action()
        elif self.config.discrete:
            out = int(raw_action)
        else:
            out, flags = self._limit(raw_action, flags)
        if not self.config.discrete:
            self._last = np.asarray(out, np.float64)
        self._record(raw_action, out, flags, now_s, policy_step)
        return out

    def _update_fault_streak(self, flags: Flag) -> Flag:
        if flags & (Flag.NONFINITE_OBS | Flag.NONFINITE_ACTION | Flag.POLICY_ERROR):
            self._consecutive += 1
            if self._consecutive >= self.config.max_consecutive_faults:
                self._latch(Flag.FAULT_STOP)
                flags |= Flag.FAULT_STOP
        else:
            self._consecutive = 0
        return flags | self.latched

    def _limit(self, raw: NDArray[np.float64], flags: Flag) -> tuple[NDArray[np.float32], Flag]:
        clipped = np.clip(raw, self.config.action_low, self.config.action_high)
        if np.any(clipped != raw):
            flags |= Flag.CLIPPED
        delta = self.config.max_delta
        limited = np.clip(clipped, self._last - delta, self._last + delta)
        if np.any(limited != clipped):
            flags |= Flag.SLEW_LIMITED
        limited = np.clip(limited, self.config.action_low, self.config.action_high)  # bounds always win
        return limited.astype(np.float32), flags

    def _record(self, raw: Any, out: Any, flags: Flag, now_s: float, policy_step: bool) -> None:
        for name in Flag.names(flags):
            self.fault_counts[name] = self.fault_counts.get(name, 0) + 1
        self.records.append(self._step, now_s, raw, out, int(flags), policy_step)
        self._step += 1
