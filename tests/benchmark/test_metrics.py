"""Benchmark metrics on hand-made numbers; statistics against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robot_rl.benchmark.metrics import classify, mcnemar_exact, paired_bootstrap_ci, soft_spl, wilson
from robot_rl.benchmark.report import dumps_strict
from robot_rl.jsonio import loads_strict, strict
from robot_rl.train.evaluate import wilson_interval

DT = 0.1


def test_soft_spl_is_progress_times_path_efficiency() -> None:
    # halfway there (4 -> 2 m), drove 3 m on a 2.5 m geodesic: 0.5 * 2.5 / 3
    assert soft_spl(4.0, 2.0, 2.5, 3.0) == pytest.approx(0.5 * 2.5 / 3.0)
    assert soft_spl(4.0, 0.0, 2.5, 2.0) == 1.0  # reached, shorter than the geodesic: capped at 1
    assert soft_spl(4.0, 5.0, 2.5, 3.0) == 0.0  # ended farther away than it started: no credit
    assert soft_spl(2.0, 0.3, 2.0, 4.0) == pytest.approx(0.85 * 0.5)
    with pytest.raises(ValueError, match="start_distance must be a finite distance > 0"):
        soft_spl(0.0, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="travelled must be"):
        soft_spl(1.0, 0.0, 1.0, math.nan)


def test_failure_types_from_hand_made_distance_traces() -> None:
    steady = np.linspace(4.0, 1.5, 251)  # 0.01 m per step until the end: still progressing
    assert classify(False, False, steady, DT) == "timeout"
    assert classify(True, True, steady, DT) == "success"
    assert classify(False, True, steady[:30], DT) == "collision"
    stuck = np.concatenate([np.linspace(4.0, 3.0, 100), np.full(151, 3.0)])  # no progress for 15 s
    assert classify(False, False, stuck, DT) == "stuck"
    short = np.concatenate([np.linspace(4.0, 0.6, 100), np.full(151, 0.6)])  # parked 0.6 m away
    assert classify(False, False, short, DT) == "stopped_short"
    # 5 s window: 0.05 m of progress in the last 50 steps is "none", 0.2 m is progress
    wiggle = np.concatenate([np.linspace(4.0, 2.0, 200), np.linspace(2.0, 1.95, 51)[1:]])
    assert classify(False, False, wiggle, DT) == "stuck"
    moving = np.concatenate([np.linspace(4.0, 2.0, 200), np.linspace(2.0, 1.8, 51)[1:]])
    assert classify(False, False, moving, DT) == "timeout"
    # back and forth between 2.0 and 2.4 m: ends 0.4 m closer than 5 s ago, but never beats its best
    swing = np.concatenate(
        [np.linspace(4.0, 2.0, 150), 2.2 + 0.2 * np.cos(np.linspace(np.pi, 3 * np.pi, 101))]
    )
    assert swing[-51] - swing[-1] > 0.3 and classify(False, False, swing, DT) == "stuck"


def test_mcnemar_exact_matches_the_binomial_tail() -> None:
    a = [True] * 1 + [False] * 9 + [True] * 40 + [False] * 5
    b = [False] * 1 + [True] * 9 + [True] * 40 + [False] * 5
    test = mcnemar_exact(a, b)
    assert (test.only_a, test.only_b) == (1, 9)
    assert test.p_value == pytest.approx(2 * (1 + 10) / 2**10)  # 0.021484375
    assert mcnemar_exact(b, a).p_value == test.p_value
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0
    # 0 vs 6 discordant pairs: p = 2 / 2**6
    assert mcnemar_exact([False] * 6, [True] * 6).p_value == pytest.approx(2 / 64)
    with pytest.raises(ValueError, match="equal lengths"):
        mcnemar_exact([True], [True, False])


def test_wilson_from_scipy_matches_the_closed_form() -> None:
    for k, n in ((189, 200), (0, 10), (10, 10), (37, 50)):
        np.testing.assert_allclose(wilson(k, n), wilson_interval(k, n), atol=1e-8)


def test_paired_bootstrap_interval() -> None:
    a = np.array([1.0, 0.8, 0.9, 0.7])
    assert paired_bootstrap_ci(a, a - 0.2) == pytest.approx((0.2, 0.2, 0.2))  # constant difference
    rng = np.random.default_rng(1)
    x = rng.random(400)
    y = x - 0.1 + rng.normal(0.0, 0.2, 400)
    diff = x - y
    mean, low, high = paired_bootstrap_ci(x, y)
    assert mean == pytest.approx(diff.mean())
    half = 1.959964 * diff.std(ddof=1) / math.sqrt(400)  # the normal approximation's half width
    assert low == pytest.approx(mean - half, abs=0.004) and high == pytest.approx(mean + half, abs=0.004)
    assert paired_bootstrap_ci(x, y) == (mean, low, high)  # fixed seed: reproducible
    # pairing matters: the same marginals unpaired would give a much wider interval
    assert high - low < 0.6 * 2 * 1.959964 * math.sqrt(x.var(ddof=1) / 400 + y.var(ddof=1) / 400)


def test_strict_json_turns_non_finite_numbers_into_null() -> None:
    data = {"a": math.nan, "b": [1.0, math.inf, np.float32(2.5)], "c": {"d": -math.inf, "e": np.int64(3)}}
    assert strict(data) == {"a": None, "b": [1.0, None, 2.5], "c": {"d": None, "e": 3}}
    text = dumps_strict(data)
    assert "NaN" not in text and "Infinity" not in text
    assert loads_strict(text) == {"a": None, "b": [1.0, None, 2.5], "c": {"d": None, "e": 3}}
    with pytest.raises(ValueError, match="not strict JSON: NaN"):
        loads_strict('{"a": NaN}')
