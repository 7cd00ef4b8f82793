"""Navigation metrics: path length and SPL (Anderson et al., 2018, "On Evaluation of Embodied
Navigation Agents", arXiv:1807.06757).

SPL of one episode is ``S * l / max(p, l)`` where ``S`` is 1 on success and 0 otherwise, ``l`` is
the shortest-path (geodesic) distance from start to goal and ``p`` the length of the path the agent
actually travelled. The benchmark figure is the mean over episodes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def path_length(points: ArrayLike) -> float:
    """Length (m) of the polyline through ``points`` ``(n, d)``; 0 for fewer than two points.

    Raises:
        ValueError: if ``points`` is not a 2-D array of finite numbers.
    """
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or not np.all(np.isfinite(arr)):
        raise ValueError(f"points must be a finite (n, d) array, got shape {arr.shape}")
    if len(arr) < 2:
        return 0.0
    return float(np.linalg.norm(np.diff(arr, axis=0), axis=1).sum())


def spl(success: bool, shortest: float, travelled: float) -> float:
    """SPL of one episode: ``success * shortest / max(travelled, shortest)``, in [0, 1].

    Args:
        success: Whether the episode reached the goal.
        shortest: Geodesic shortest-path length from start to goal (m), > 0.
        travelled: Length of the path driven (m), >= 0.

    Raises:
        ValueError: if ``shortest`` is not a finite number > 0 or ``travelled`` not finite >= 0.
    """
    if not math.isfinite(shortest) or shortest <= 0:
        raise ValueError(f"shortest must be a finite distance > 0 m, got {shortest!r}")
    if not math.isfinite(travelled) or travelled < 0:
        raise ValueError(f"travelled must be a finite distance >= 0 m, got {travelled!r}")
    return float(success) * shortest / max(travelled, shortest)


def mean_spl(successes: Sequence[bool], shortest: Sequence[float], travelled: Sequence[float]) -> float:
    """Mean SPL over episodes (the benchmark number).

    Raises:
        ValueError: if the sequences are empty or of different lengths.
    """
    if not len(successes) == len(shortest) == len(travelled) or not successes:
        raise ValueError(
            "successes, shortest and travelled must be non-empty and equally long, got lengths "
            f"{len(successes)}, {len(shortest)}, {len(travelled)}"
        )
    return float(np.mean([spl(s, g, p) for s, g, p in zip(successes, shortest, travelled, strict=True)]))
