"""SafetyFilter: NaN/Inf, clipping, slew limits, watchdog, e-stop, fault streaks, records."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from robot_rl.deploy.safety import Flag, SafetyConfig, SafetyFilter

DISCRETE: dict[str, Any] = {
    "env": {"id": "x", "control_period_s": 0.1},
    "action": {"type": "discrete", "n": 7, "safe_action": 6},
    "safety": {"watchdog_timeout_s": 0.3, "max_consecutive_faults": 3, "command_hz": 10.0},
}
TICK_S = 0.05


def _vec(value: Any, n: int = 3) -> np.ndarray:
    if isinstance(value, list):
        return np.array([np.nan if v is None else float(v) for v in value])
    return np.full(n, float(value))


def make(**overrides: Any) -> SafetyFilter:
    """A filter for a 3-entry Box action at 20 Hz commands (slew limits are per second)."""
    kw: dict[str, Any] = {"action_low": -1.0, "action_high": 1.0, "safe_action": 0.0,
                          "max_rate_per_s": np.inf, "watchdog_timeout_s": 0.15, "tick_s": TICK_S}  # fmt: skip
    kw.update(overrides)
    vectors = {k: _vec(kw.pop(k)) for k in ("action_low", "action_high", "safe_action", "max_rate_per_s")}
    return SafetyFilter(SafetyConfig(**vectors, **kw))


def step(
    f: SafetyFilter, action: Any, obs: Any = None, age: float = 0.0, now: float = 10.0
) -> tuple[Any, Flag]:
    obs = np.zeros(4) if obs is None else obs
    flags = f.screen(obs, now - age, now)
    out = f.apply(None if flags else action, flags, now)
    return out, Flag(f.records[-1].flags)


def test_clean_action_passes_unchanged() -> None:
    f = make()
    out, flags = step(f, [0.1, -0.2, 0.3])
    assert flags == Flag.NONE and np.allclose(out, [0.1, -0.2, 0.3]) and out.dtype == np.float32


def test_clips_to_tightened_bounds() -> None:
    f = make(action_low=[-0.5, -1, -1], action_high=0.5)
    out, flags = step(f, [2.0, -3.0, 0.2])
    assert np.allclose(out, [0.5, -1.0, 0.2]) and flags & Flag.CLIPPED


def test_slew_limit_per_second_becomes_a_change_per_tick() -> None:
    f = make(max_rate_per_s=[2.0, 10.0, 40.0])  # x 0.05 s = 0.1, 0.5, 2.0 per tick
    out1, flags1 = step(f, [1.0, 1.0, 1.0])
    out2, _ = step(f, [1.0, 1.0, -1.0])
    assert np.allclose(out1, [0.1, 0.5, 1.0]) and flags1 & Flag.SLEW_LIMITED
    assert np.allclose(out2, [0.2, 1.0, -1.0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_obs_gives_safe_action_without_running_policy(bad: float) -> None:
    f = make(safe_action=[0.0, 0.0, 0.5])
    step(f, [0.3, 0.3, 0.3])
    out, flags = step(f, [0.9, 0.9, 0.9], obs=np.array([0.0, bad, 0.0, 0.0]))
    assert flags & Flag.NONFINITE_OBS and np.allclose(out, [0.0, 0.0, 0.5])
    assert f.records[-1].raw_action is None
    out, flags = step(f, [0.3, 0.3, 0.3])  # a single fault does not latch
    assert flags == Flag.NONE and np.allclose(out, [0.3, 0.3, 0.3])


def test_nonfinite_action_and_dict_obs() -> None:
    f = make()
    out, flags = step(f, [np.nan, 0.0, 0.0], obs={"observation": np.zeros(3), "desired_goal": np.ones(2)})
    assert flags & Flag.NONFINITE_ACTION and np.allclose(out, 0.0)
    assert np.isnan(f.records[-1].raw_action[0])
    _, flags = step(
        f, [0.0, 0.0, 0.0], obs={"observation": np.array([np.nan, 0, 0]), "desired_goal": np.ones(2)}
    )
    assert flags & Flag.NONFINITE_OBS


def test_wrong_action_shape_is_a_fault() -> None:
    f = make()
    out, flags = step(f, [0.1, 0.2])
    assert flags & Flag.NONFINITE_ACTION and np.allclose(out, 0.0)


def test_none_entries_of_safe_action_hold_last_output() -> None:
    f = make(safe_action=[0.0, 0.0, None])
    step(f, [0.4, 0.4, -0.7])
    out, _ = step(f, [np.nan, 0, 0])
    assert np.allclose(out, [0.0, 0.0, -0.7])


def test_stale_observation_latches_watchdog_until_reset() -> None:
    f = make(watchdog_timeout_s=0.1)
    _, flags = step(f, [0.5, 0.5, 0.5], age=0.05)
    assert flags == Flag.NONE
    out, flags = step(f, [0.5, 0.5, 0.5], age=0.2)
    assert flags & Flag.STALE_OBS and flags & Flag.WATCHDOG_STOP and np.allclose(out, 0.0)
    out, flags = step(f, [0.5, 0.5, 0.5], age=0.0)  # fresh again, but the stop is latched
    assert flags & Flag.WATCHDOG_STOP and np.allclose(out, 0.0) and f.stopped
    f.reset()
    out, flags = step(f, [0.5, 0.5, 0.5])
    assert flags == Flag.NONE and np.allclose(out, 0.5)


def test_estop_latches_and_resets() -> None:
    f = make()
    f.estop()
    out, flags = step(f, [0.5, 0.5, 0.5])
    assert flags & Flag.ESTOP and np.allclose(out, 0.0)
    out, flags = step(f, [0.5, 0.5, 0.5])
    assert flags & Flag.ESTOP
    f.reset()
    assert step(f, [0.5, 0.5, 0.5])[1] == Flag.NONE


def test_consecutive_faults_latch_a_stop() -> None:
    f = make(max_consecutive_faults=3)
    for _ in range(2):
        step(f, [np.nan] * 3)
    assert not f.stopped
    _, flags = step(f, [np.nan] * 3)
    assert flags & Flag.FAULT_STOP and f.stopped
    assert step(f, [0.1, 0.1, 0.1])[1] & Flag.FAULT_STOP


def test_policy_error_flag_gives_safe_action() -> None:
    f = make()
    out = f.apply(None, Flag.POLICY_ERROR, 1.0)
    assert np.allclose(out, 0.0) and f.records[-1].flags & Flag.POLICY_ERROR
    assert f.fault_counts == {"POLICY_ERROR": 1}


def test_slew_limit_scales_with_the_command_rate() -> None:
    """The same limit per second allows 1/5 of the change per tick at 5x the tick rate."""
    slow, fast = make(max_rate_per_s=2.0, tick_s=0.05), make(max_rate_per_s=2.0, tick_s=0.01)
    assert np.allclose(step(slow, [1.0, 1.0, 1.0])[0], 0.1)
    outs = [step(fast, [1.0, 1.0, 1.0])[0] for _ in range(5)]
    assert np.allclose(outs[0], 0.02) and np.allclose(outs[-1], 0.1)


def test_held_action_ticks_do_not_count_towards_the_fault_limit() -> None:
    f = make(max_consecutive_faults=2)
    f.apply(None, Flag.NONFINITE_OBS, 0.0, policy_step=True)
    for k in range(5):  # the NaN observation persists between policy steps: one fault, not six
        f.apply(None, Flag.NONFINITE_OBS, 0.01 * k, policy_step=False)
    assert not f.stopped
    f.apply(None, Flag.NONFINITE_OBS, 0.1, policy_step=True)
    assert f.latched & Flag.FAULT_STOP


def test_discrete_actions() -> None:
    f = SafetyFilter(SafetyConfig.from_manifest(DISCRETE))
    assert f.apply(3, Flag.NONE) == 3
    assert f.apply(9, Flag.NONE) == 6 and f.records[-1].flags & Flag.NONFINITE_ACTION
    assert f.apply(None, Flag.NONFINITE_OBS) == 6
    f.estop()
    assert f.apply(2, Flag.NONE) == 6


def test_records_hold_raw_safe_and_flags() -> None:
    f = make(record_limit=3)
    for k in range(5):
        step(f, [0.1 * k, 0, 2.0], now=float(k))
    assert len(f.records) == 3
    last = f.records[-1]
    assert last.step == 4 and last.time_s == 4.0
    assert np.allclose(last.raw_action, [0.4, 0, 2.0]) and np.allclose(last.safe_action, [0.4, 0, 1.0])
    assert last.flags == int(Flag.CLIPPED)
    assert f.fault_counts["CLIPPED"] == 5


def test_config_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="needs 3 entries"):
        SafetyFilter(SafetyConfig(_vec(-1), _vec(1), _vec(0), np.ones(2), 0.1, 0.05))
    with pytest.raises(ValueError, match="outside"):
        make(safe_action=[2.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="max_rate_per_s must be > 0"):
        make(max_rate_per_s=0.0)
    with pytest.raises(ValueError, match="watchdog_timeout_s"):
        make(watchdog_timeout_s=0)
    bad = {**DISCRETE, "action": {**DISCRETE["action"], "safe_action": 9}}
    with pytest.raises(ValueError, match="index 9 must be in \\[0, 6\\]"):
        SafetyConfig.from_manifest(bad)
