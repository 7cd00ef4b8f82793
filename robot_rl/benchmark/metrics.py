"""Benchmark metrics of one navigation episode and the statistics that compare agents.

Per episode:
    * ``spl``: ``S * l / max(p, l)`` (Anderson et al., 2018), ``l`` the geodesic start -> goal,
      ``p`` the driven path length;
    * ``soft_spl``: habitat-lab's SoftSPL, ``max(0, 1 - d_T / d_0) * l / max(p, l)``, where
      ``d_T`` and ``d_0`` are the grid geodesic distances to the goal at the end and at the start
      (the same distance field, so the ratio is consistent; habitat divides by the start's
      geodesic too), i.e. progress toward the goal, weighted by path efficiency, also on failure;
    * ``failure``: ``success``; ``collision`` (the episode was terminated by a contact, with
      ``terminate_on_collision``); ``stopped_short`` (no progress for :data:`STUCK_SECONDS` at
      the end, within :data:`SHORT_RADIUS` of the goal); ``stuck`` (no progress for
      :data:`STUCK_SECONDS` at the end, farther away); ``timeout`` (still making progress when
      the time ran out). "No progress": the closest the agent came to the goal (geodesic
      distance) in the final window is less than :data:`STUCK_PROGRESS` m closer than its best
      before the window, so driving back and forth counts as no progress.

Across episodes, with scipy: a Wilson 95% interval of the success rate; for a pair of agents on
the same episodes, McNemar's exact test on success (a two-sided binomial test on the discordant
pairs) and a paired bootstrap 95% interval (percentile, fixed seed) of the mean SPL difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

STUCK_SECONDS = 5.0  #: length of the final window without progress that counts as stuck (s)
STUCK_PROGRESS = 0.1  #: progress (m of geodesic distance) below which a window has none
SHORT_RADIUS = 1.0  #: "stopped short": stuck within this geodesic distance of the goal (m)
FAILURE_TYPES = ("success", "collision", "stopped_short", "stuck", "timeout")
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def soft_spl(start_distance: float, final_distance: float, geodesic: float, travelled: float) -> float:
    """SoftSPL of one episode (see the module docstring), in [0, 1].

    Args:
        start_distance: Geodesic distance to the goal at the start (m, > 0).
        final_distance: Geodesic distance to the goal at the end (m, >= 0).
        geodesic: Shortest-path length start -> goal (m, > 0), SPL's ``l``.
        travelled: Driven path length (m, >= 0).

    Raises:
        ValueError: non-finite or out-of-range distances.
    """
    for name, value, low in (("start_distance", start_distance, 0.0), ("geodesic", geodesic, 0.0)):
        if not math.isfinite(value) or value <= low:
            raise ValueError(f"{name} must be a finite distance > 0 m, got {value!r}")
    for name, value in (("final_distance", final_distance), ("travelled", travelled)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite distance >= 0 m, got {value!r}")
    progress = max(0.0, 1.0 - final_distance / start_distance)
    return progress * geodesic / max(geodesic, travelled)


def classify(success: bool, terminated: bool, distances: ArrayLike, dt: float) -> str:
    """Failure type of an episode from its per-step geodesic distances to the goal (m).

    Args:
        success: The episode reached the goal.
        terminated: It ended before the time limit (without success: a collision end).
        distances: Geodesic distance to the goal after reset and after every step, ``(steps + 1,)``.
        dt: Control period (s).
    """
    if success:
        return "success"
    if terminated:
        return "collision"
    d = np.asarray(distances, dtype=np.float64)
    window = min(max(1, round(STUCK_SECONDS / dt)), len(d) - 1)
    # progress = a new best distance: oscillating in front of a wall is no progress
    if window < 1 or d[:-window].min() - d[-window:].min() < STUCK_PROGRESS:
        return "stopped_short" if d[-1] <= SHORT_RADIUS else "stuck"
    return "timeout"


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (scipy's ``binomtest(...).proportion_ci``)."""
    from scipy.stats import binomtest

    if n < 1:
        raise ValueError(f"need at least one episode, got n={n}")
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on paired successes.

    Attributes:
        only_a: Episodes A solved and B did not.
        only_b: Episodes B solved and A did not.
        p_value: Two-sided exact p-value (binomial test of ``only_a`` of ``only_a + only_b`` at 1/2);
            1.0 without discordant pairs.
    """

    only_a: int
    only_b: int
    p_value: float


def mcnemar_exact(success_a: Sequence[bool], success_b: Sequence[bool]) -> McNemar:
    """McNemar's exact test of two agents' successes on the same episodes.

    Raises:
        ValueError: sequences of different lengths.
    """
    from scipy.stats import binomtest

    a, b = np.asarray(success_a, bool), np.asarray(success_b, bool)
    if a.shape != b.shape:
        raise ValueError(f"paired results need equal lengths, got {a.shape} and {b.shape}")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return McNemar(0, 0, 1.0)
    return McNemar(only_a, only_b, float(binomtest(only_a, only_a + only_b, 0.5).pvalue))


def paired_bootstrap_ci(
    a: Sequence[float], b: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float, float]:
    """``(mean(a - b), low, high)``: a paired bootstrap 95% percentile interval of the mean difference.

    Episodes are resampled as pairs (``scipy.stats.bootstrap(..., paired=True)``) with a fixed
    seed, so the interval is reproducible. All differences equal: the interval is that value.

    Raises:
        ValueError: sequences of different lengths or fewer than two pairs.
    """
    from scipy.stats import bootstrap

    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(
            f"paired bootstrap needs two equally long sequences of >= 2, got {x.shape}, {y.shape}"
        )
    diff = x - y
    mean = float(diff.mean())
    if np.all(diff == diff[0]):
        return mean, mean, mean

    def mean_diff(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(u - v, axis=axis)

    res = bootstrap(
        (x, y),
        mean_diff,
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return mean, float(res.confidence_interval.low), float(res.confidence_interval.high)
