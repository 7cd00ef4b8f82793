"""ControlLoop (deadline scheduling, overruns, safe shutdown) and SimHardware fault injection."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from robot_rl.deploy.commands_deploy import deploy_sim
from robot_rl.deploy.hardware import HardwareInterface, SimFaults, SimHardware
from robot_rl.deploy.loop import ControlLoop
from robot_rl.deploy.runtime import PolicyRunner
from robot_rl.deploy.safety import Flag, SafetyConfig, SafetyFilter


def make_filter(watchdog_s: float = 1.0, faults: int = 5, tick_s: float = 0.01, n: int = 1) -> SafetyFilter:
    """A filter for an ``n``-entry action in [-1, 1], safe action 0, no slew limit."""
    low, high, zero, rate = -np.ones(n), np.ones(n), np.zeros(n), np.full(n, np.inf)
    return SafetyFilter(SafetyConfig(low, high, zero, rate, watchdog_s, tick_s, faults))


class FakeClock:
    """Simulated time: sleep advances it; work advances it by what the test says."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.t += seconds


class FakeHardware:
    def __init__(self, clock: FakeClock, fail_at: int | None = None) -> None:
        self.clock, self.fail_at = clock, fail_at
        self.reads: list[float] = []
        self.writes: list[Any] = []
        self.stopped = False

    def read_observation(self) -> tuple[Any, float]:
        self.reads.append(self.clock())
        return np.zeros(2, np.float32), self.clock()

    def write_action(self, action: Any) -> None:
        if self.fail_at is not None and len(self.writes) == self.fail_at:
            raise OSError("bus error")
        self.writes.append(np.array(action))

    def safe_stop(self) -> None:
        self.stopped = True


def make_loop(
    compute: Callable[[int], float], fail_at: int | None = None
) -> tuple[ControlLoop, FakeHardware, FakeClock]:
    clock = FakeClock()
    hw = FakeHardware(clock, fail_at)
    calls = {"n": 0}

    def policy(obs: Any) -> Any:
        clock.t += compute(calls["n"])
        calls["n"] += 1
        return np.array([0.5], np.float32)

    safety = make_filter()
    return ControlLoop(policy, safety, hw, 100.0, clock=clock, sleep=clock.sleep), hw, clock


def test_sim_hardware_is_a_hardware_interface() -> None:
    env = gym.make("Pendulum-v1")
    assert isinstance(SimHardware(env), HardwareInterface)
    env.close()


def test_deadline_scheduling_does_not_drift() -> None:
    loop, hw, _ = make_loop(lambda k: 0.003)  # 3 ms of compute in a 10 ms period
    stats = loop.run(duration_s=1.0)
    starts = np.array(hw.reads) - hw.reads[0]
    assert stats.steps == 100 and stats.overruns == 0 and stats.stop_reason == "duration"
    assert np.allclose(starts, np.arange(100) * 0.01, atol=1e-9)  # sleep-after-compute would end at 1.3 s
    assert stats.duration_s == pytest.approx(1.0) and stats.achieved_hz == pytest.approx(100.0)
    assert stats.compute_us["p50"] == pytest.approx(3000.0)


def test_overrun_is_counted_and_schedule_stays_on_grid() -> None:
    loop, hw, _ = make_loop(lambda k: 0.025 if k == 5 else 0.001)
    stats = loop.run(max_steps=20)
    starts = (np.array(hw.reads) - hw.reads[0]) / 0.01
    assert stats.overruns == 1 and stats.steps == 20 and stats.overrun_ticks == [5]
    assert np.allclose(starts, np.round(starts), atol=1e-6)  # every tick starts on the 10 ms grid
    assert starts[6] == pytest.approx(8.0)  # tick 5 ran 5..7.6 periods: the next slot is 8


def test_shutdown_writes_safe_action_and_stops() -> None:
    loop, hw, _ = make_loop(lambda k: 0.001)
    loop.run(max_steps=5)
    assert len(hw.writes) == 6 and np.allclose(hw.writes[-1], 0.0) and hw.stopped
    assert np.allclose(hw.writes[0], 0.5)


def test_hardware_failure_still_ends_in_safe_stop() -> None:
    loop, hw, _ = make_loop(lambda k: 0.001, fail_at=3)
    with pytest.raises(OSError, match="bus error"):
        loop.run(max_steps=10)
    assert hw.stopped


def test_policy_exception_gives_safe_action_and_flag() -> None:
    clock = FakeClock()
    hw = FakeHardware(clock)

    def broken(obs: Any) -> Any:
        raise RuntimeError("onnxruntime failed")

    safety = make_filter(faults=100)
    loop = ControlLoop(broken, safety, hw, 100.0, clock=clock, sleep=clock.sleep)
    stats = loop.run(max_steps=3)
    assert stats.faults == {"POLICY_ERROR": 3} and all(np.allclose(w, 0.0) for w in hw.writes)
    assert isinstance(loop.last_error, RuntimeError) and hw.stopped


def test_run_arguments_are_checked() -> None:
    loop, _, _ = make_loop(lambda k: 0.0)
    with pytest.raises(ValueError, match="duration_s"):
        loop.run()
    with pytest.raises(ValueError, match="must be > 0"):
        loop.run(duration_s=-1)
    with pytest.raises(ValueError, match="rate_hz"):
        ControlLoop(lambda o: o, loop.safety, loop.hardware, 0.0)


def _sim_loop(bundle: Path, faults: SimFaults, seconds: float) -> tuple[Any, SimHardware, SafetyFilter]:
    """The loop at 100 Hz on simulated time: ticks take no time unless a fault sleeps."""
    runner = PolicyRunner(bundle)
    env = gym.make(runner.manifest["env"]["id"])
    clock = FakeClock()
    hw = SimHardware(env, seed=3, faults=faults, clock=clock, sleep=clock.sleep)
    filt = make_filter(watchdog_s=0.05)
    try:
        loop = ControlLoop(runner.act, filt, hw, 100.0, clock=clock, sleep=clock.sleep)
        stats = loop.run(duration_s=seconds)
    finally:
        hw.close()
    return stats, hw, filt


def test_sim_nan_sensor_is_caught(make_bundle: Callable[[str], Path]) -> None:
    stats, hw, filt = _sim_loop(make_bundle("ppo_norm"), SimFaults(nan_steps={5, 6}), 0.3)
    assert stats.faults.get("NONFINITE_OBS") == 2 and not stats.latched
    assert [r.step for r in filt.records if r.raw_action is None] == [5, 6]
    assert all(np.all(np.isfinite(a)) for a in hw.actions)
    assert hw.stopped and stats.steps == 30


def test_sim_stale_observations_latch_the_watchdog(make_bundle: Callable[[str], Path]) -> None:
    stats, hw, filt = _sim_loop(make_bundle("ppo_norm"), SimFaults(stale_steps=set(range(10, 30))), 0.4)
    assert stats.latched == ["WATCHDOG_STOP"] and stats.faults["STALE_OBS"] >= 1
    stopped = [r.step for r in filt.records if r.flags & Flag.WATCHDOG_STOP]
    assert stopped[0] == 15  # from tick 10 on the stamp stays at tick 9's 0.09 s: 0.06 s > 0.05 s at tick 15
    assert stopped == list(range(stopped[0], len(filt.records)))  # latched to the end
    assert all(np.allclose(hw.actions[k], 0.0) for k in stopped)


def test_sim_slow_policy_causes_counted_overruns(make_bundle: Callable[[str], Path]) -> None:
    stats, _, _ = _sim_loop(make_bundle("ppo_norm"), SimFaults(slow_steps={5, 15}, slow_s=0.03), 0.4)
    assert stats.overruns == 2 and stats.overrun_ticks == [5, 15]  # the ticks that slept 30 ms
    assert stats.compute_us["max"] == pytest.approx(30_000)


def test_deploy_grasp_runs_at_the_policy_rate_with_the_bundles_limits(
    make_bundle: Callable[[str], Path],
) -> None:
    """The whole stack on the PyBullet grasp env: 20 Hz (the policy's rate), deploy_grasp.yaml's limits."""
    clock = FakeClock()
    stats, summary, settings = deploy_sim(make_bundle("grasp_ppo_norm"), 1.0, clock=clock, sleep=clock.sleep)
    assert settings["command_hz"] == 20.0 and settings["source"] == "deploy_grasp.yaml"
    assert stats.steps == 20 and stats.policy_every == 1 and stats.overruns == 0
    assert summary["steps"] == stats.steps + 1  # + the safe action written on shutdown
    assert set(stats.faults) <= {"CLIPPED", "SLEW_LIMITED"}


def test_grasp_limits_reach_the_env(make_bundle: Callable[[str], Path]) -> None:
    runner = PolicyRunner(make_bundle("grasp_ppo_norm"))
    filt = SafetyFilter(SafetyConfig.from_manifest(runner.manifest))
    hw = SimHardware(gym.make("robot_rl/PandaGrasp-v0"), seed=1)

    def wild(obs: Any) -> Any:  # a policy gone mad: full-scale alternating commands
        return np.where(len(hw.actions) % 2, 1.0, -1.0) * np.ones(5, np.float32)

    clock = FakeClock()
    try:
        ControlLoop(wild, filt, hw, 20.0, clock=clock, sleep=clock.sleep).run(max_steps=20)
    finally:
        hw.close()
    actions = np.array(list(hw.actions)[:-1])
    assert np.all(np.abs(actions[:, :3]) <= 0.8 + 1e-6)
    assert np.all(np.abs(np.diff(actions, axis=0))[:, :4] <= 10.0 * 0.05 + 1e-6)  # 10 /s at 20 Hz
    assert filt.fault_counts["SLEW_LIMITED"] >= 19


def test_realtime_priority_is_validated_and_restored() -> None:
    import os

    from robot_rl.deploy.loop import realtime_priority

    with pytest.raises(ValueError, match=r"1\.\.99"), realtime_priority(0):
        pass
    before = os.sched_getscheduler(0)
    try:
        with realtime_priority(10):
            assert os.sched_getscheduler(0) == os.SCHED_FIFO
    except ValueError as exc:  # no CAP_SYS_NICE here: the message says what to grant
        assert "rtprio" in str(exc)
    assert os.sched_getscheduler(0) == before


def test_overruns_in_simulator_reset_ticks_are_told_apart() -> None:
    from robot_rl.deploy.commands_deploy import overruns_outside_resets
    from robot_rl.deploy.loop import LoopStats

    stats = LoopStats(100.0, overruns=3, overrun_ticks=[10, 250, 400])
    assert overruns_outside_resets(stats, {"reset_ticks": [10, 400]}) == 1
    assert overruns_outside_resets(stats, {}) == 3
    truncated = LoopStats(100.0, overruns=5, overrun_ticks=[10])  # indices not all recorded: count all
    assert overruns_outside_resets(truncated, {"reset_ticks": [10]}) == 5


def test_sim_hardware_records_episode_resets() -> None:
    env = gym.make("Pendulum-v1", max_episode_steps=5)
    hw = SimHardware(env, seed=0)
    for _ in range(12):
        hw.write_action(np.zeros(1, np.float32))
    summary = hw.summary()
    assert summary["reset_ticks"] == [4, 9] and len(summary["reset_ms"]) == 2
    assert all(ms >= 0 for ms in summary["reset_ms"])
    hw.close()


class PacedHardware(FakeHardware):
    """Hardware with a sensor stream (arrivals at ``phase + k * period``, from ``restart`` on at
    ``phase2``) that the loop waits on between ticks (``sensor_paced``)."""

    sensor_paced = True

    def __init__(self, clock: FakeClock, period: float, phase: float, offset: float = 0.001) -> None:
        super().__init__(clock)
        self.period, self.phase, self.offset = period, phase, offset
        self.restart: float | None = None
        self.phase2 = 0.0
        self.arrivals: list[float] = []

    def _next_arrival(self, after: float) -> float:
        phase = self.phase2 if self.restart is not None and after >= self.restart else self.phase
        return phase + self.period * (np.floor((after - phase) / self.period + 1e-6) + 1)

    report_delay = 0.0  # the bridge takes the message this long after it arrived

    def wait_for_sensor(self, timeout_s: float) -> float | None:
        arrival = self._next_arrival(self.clock.t)
        if arrival > self.clock.t + timeout_s:
            self.clock.t += timeout_s
            return None
        self.clock.t = arrival + self.report_delay
        self.arrivals.append(arrival)
        return arrival + self.offset


def paced_loop(rate_hz: float, policy_every: int, hw_period: float, phase: float) -> tuple[Any, Any, Any]:
    clock = FakeClock()
    hw = PacedHardware(clock, hw_period, clock.t + phase)
    safety = make_filter(tick_s=1 / rate_hz)
    loop = ControlLoop(
        lambda obs: np.array([0.5], np.float32), safety, hw, rate_hz, clock=clock, sleep=clock.sleep,
        policy_every=policy_every,
    )  # fmt: skip
    return loop, hw, safety


def policy_tick_times(safety: SafetyFilter) -> np.ndarray:
    return np.array([r.time_s for r in safety.records if r.policy_step])


@pytest.mark.parametrize("phase", [0.0004, 0.0237, 0.0499, 0.0731])
def test_sensor_paced_policy_ticks_follow_the_sensor_whatever_its_phase(phase: float) -> None:
    # nav: 100 Hz commands, a policy step every 10 ticks, scans at 10 Hz with an arbitrary phase
    loop, hw, safety = paced_loop(100.0, 10, 0.1, phase)
    stats = loop.run(duration_s=2.0)
    ticks = policy_tick_times(safety)
    # the first scan may come too soon after the start's policy step (no crowding): locked from the 2nd
    locked = ticks[ticks > hw.arrivals[1]]
    lag = locked[:, None] - np.array(hw.arrivals)[None, :]
    assert np.allclose(np.min(np.where(lag >= 0, lag, np.inf), axis=1), 0.001, atol=1e-9)
    assert np.allclose(np.diff(locked), 0.1, atol=1e-9)  # one policy step per scan
    times = np.array([r.time_s for r in safety.records])
    later = times[times > hw.arrivals[1]]
    assert np.allclose(np.diff(later), 0.01, atol=1e-9)  # command ticks stay 10 ms apart once locked
    assert stats.overruns == 0 and loop.phase_shifts <= 1


def test_sensor_paced_loop_relocks_when_the_sensor_restarts_with_another_phase() -> None:
    loop, hw, safety = paced_loop(20.0, 1, 0.05, 0.013)  # the arm: 20 Hz, joint states at 20 Hz
    hw.restart, hw.phase2 = hw.clock.t + 1.0, hw.clock.t + 0.031
    loop.run(duration_s=2.0)
    ticks = policy_tick_times(safety)
    before = ticks[(ticks > hw.clock.t - 2.0 + 0.06) & (ticks < hw.restart)]
    after = ticks[ticks > hw.restart + 0.1]  # the first new arrival is too close to the last old one

    def off_grid(t: np.ndarray, phase: float) -> np.ndarray:  # distance to phase + 1 ms + k * 50 ms
        return (t - phase - 0.001 + 0.025) % 0.05 - 0.025

    assert len(before) > 10 and np.allclose(off_grid(before, hw.phase), 0.0, atol=1e-9)
    assert len(after) > 10 and np.allclose(off_grid(after, hw.phase2), 0.0, atol=1e-9)
    assert loop.phase_shifts == 2


def test_a_sensor_faster_than_the_policy_sets_no_phase() -> None:
    loop, hw, safety = paced_loop(100.0, 10, 0.025, 0.004)  # 40 Hz scans, 10 Hz policy
    start = hw.clock.t
    loop.run(duration_s=1.0)
    times = np.array([r.time_s for r in safety.records])
    assert np.allclose(np.diff(times)[10:], 0.01, atol=1e-9)  # free-running once the rate is known
    assert loop.phase_shifts <= 3  # only the first arrivals (before 3 intervals are known) set the phase
    assert len(hw.arrivals) >= 30 and times[0] == pytest.approx(start)


@pytest.mark.parametrize("sensor_period", [0.0503, 0.0497])
def test_sensor_paced_loop_follows_a_drifting_sensor_without_crowding_ticks(sensor_period: float) -> None:
    # the robot's clock runs 0.6 % slow or fast: every arrival moves a little against the loop's grid
    loop, hw, safety = paced_loop(20.0, 1, sensor_period, 0.02)
    stats = loop.run(duration_s=3.0)
    times = np.array([r.time_s for r in safety.records])
    assert np.diff(times).min() >= 0.025 - 1e-9  # never two ticks within half a period
    locked = times[times > hw.arrivals[1]]
    lag = locked[:, None] - np.array(hw.arrivals)[None, :]
    assert np.allclose(np.min(np.where(lag >= 0, lag, np.inf), axis=1), 0.001, atol=1e-9)
    assert stats.overruns == 0 and abs(len(times) - 3.0 / sensor_period) <= 2


def test_a_target_already_past_when_reported_runs_at_once_not_a_period_later() -> None:
    # the bridge reports each arrival 0.3 ms after its 0.1 ms margin: the target is in the past
    loop, hw, safety = paced_loop(20.0, 1, 0.05, 0.02)
    hw.offset, hw.report_delay = 0.0001, 0.0004
    stats = loop.run(duration_s=2.0)
    times = np.array([r.time_s for r in safety.records])
    assert stats.steps >= 40 and np.diff(times)[1:].max() < 0.05 + 1e-3  # once locked, no tick put off
    locked = times[times > hw.arrivals[0]]
    lag = locked[:, None] - np.array(hw.arrivals)[None, :]
    assert np.allclose(np.min(np.where(lag >= 0, lag, np.inf), axis=1), 0.0004, atol=1e-9)


def test_a_jittery_scan_gets_its_policy_step_at_once_even_just_after_a_command_tick() -> None:
    # nav: 100 Hz commands, 10 Hz policy; scans jitter by up to +-4 ms around their 100 ms grid, so
    # some arrive a few ms after a command tick: the policy step still runs 1 ms after each one
    loop, hw, safety = paced_loop(100.0, 10, 0.1, 0.03)
    rng = np.random.default_rng(5)
    grid = hw.phase + 0.1 * np.arange(40) + rng.uniform(-0.004, 0.004, 40)

    def next_arrival(after: float) -> float:
        later = grid[grid > after + 1e-9]
        return float(later[0]) if len(later) else math.inf

    hw._next_arrival = next_arrival  # type: ignore[method-assign]
    loop.run(duration_s=3.5)
    ticks = policy_tick_times(safety)
    arrivals = np.array(hw.arrivals[1:])
    assert len(arrivals) >= 30
    # every scan gets a policy step 1 ms after it (a scan that comes just after a scheduled policy
    # step, which had to use the previous scan, gets its own at once instead of 100 ms later)
    assert np.abs(ticks[None, :] - (arrivals[:, None] + 0.001)).min(axis=1).max() < 1e-9


def test_an_arrival_older_than_a_period_sets_no_phase_and_causes_no_overrun() -> None:
    # the bridge may hold an arrival from start-up (before the loop ran): it must not drag the grid back
    loop, hw, _ = paced_loop(100.0, 10, 0.1, 0.05)
    stale = [hw.clock.t - 0.035]
    real = hw.wait_for_sensor

    def wait(timeout_s: float) -> float | None:
        return stale.pop() + hw.offset if stale else real(timeout_s)

    loop._pace = wait  # the loop took hw.wait_for_sensor when it was built
    stats = loop.run(duration_s=1.0)
    assert stats.overruns == 0 and stats.start_lateness_us["max"] < 1.0
