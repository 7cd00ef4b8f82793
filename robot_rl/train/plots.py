"""Learning curves: success rate and return against env steps and wall time (matplotlib, Agg).

Reads ``logs/evaluations.csv`` of each run (one row per evaluation on held-out episodes).
Runs sharing a label (by default the config ``name`` in ``run.json``, i.e. several seeds of one
config) are drawn as their mean with a min-max band, on a common grid of x values.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from robot_rl.errors import InputError, MissingInputError

PANELS = (
    ("num_timesteps", "success_rate", "env steps", "success rate"),
    ("num_timesteps", "return_mean", "env steps", "mean return"),
    ("wall_time_s", "success_rate", "wall time [s]", "success rate"),
    ("wall_time_s", "return_mean", "wall time [s]", "mean return"),
)


def read_evaluations(run: Path) -> dict[str, np.ndarray]:
    """Columns of ``RUN/logs/evaluations.csv`` as float arrays.

    Raises:
        FileNotFoundError: The run has no evaluations (was ``train.eval_freq`` 0?).
    """
    path = run / "logs" / "evaluations.csv"
    if not path.is_file():
        raise MissingInputError(f"{path} not found: {run} has no evaluations (train.eval_freq > 0 needed)")
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise InputError(f"{path} has no rows")
    cols = {
        k: np.array([float(r[k]) for r in rows])
        for k in ("num_timesteps", "wall_time_s", "success_rate", "return_mean")
    }
    order = np.argsort(cols["num_timesteps"], kind="stable")
    return {k: v[order] for k, v in cols.items()}


def run_label(run: Path) -> str:
    """Label of a run: ``name (algo)`` from ``run.json``, else the directory name."""
    try:
        info = json.loads((run / "run.json").read_text())
        return f"{info.get('name', run.name)} ({info.get('algo', '?')})"
    except (OSError, json.JSONDecodeError):
        return run.name


def mean_band(curves: list[tuple[np.ndarray, np.ndarray]], points: int = 100) -> tuple[np.ndarray, ...]:
    """Interpolate curves onto a shared grid (up to the shortest run) -> ``(x, mean, low, high)``."""
    end = min(float(x[-1]) for x, _ in curves)
    start = max(float(x[0]) for x, _ in curves)
    if len(curves) == 1 or end <= start:
        x, y = curves[0]
        return x, y, y, y
    grid = np.linspace(start, end, points)
    ys = np.stack([np.interp(grid, x, y) for x, y in curves])
    return grid, ys.mean(axis=0), ys.min(axis=0), ys.max(axis=0)


def plot_runs(runs: list[Path], out: Path, labels: list[str] | None = None, title: str | None = None) -> Path:
    """Draw the four panels for ``runs`` into ``out`` (PNG/SVG/PDF by suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not runs:
        raise InputError("no runs to plot")
    if labels is not None and len(labels) != len(runs):
        raise InputError(f"--label given {len(labels)} times for {len(runs)} runs")
    groups: dict[str, list[dict[str, np.ndarray]]] = defaultdict(list)
    for i, run in enumerate(runs):
        groups[labels[i] if labels else run_label(run)].append(read_evaluations(run))
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for ax, (xkey, ykey, xlabel, ylabel) in zip(axes.flat, PANELS, strict=True):
        for label, evals in groups.items():
            x, mean, low, high = mean_band([(e[xkey], e[ykey]) for e in evals])
            n = f" (n={len(evals)})" if len(evals) > 1 else ""
            (line,) = ax.plot(x, mean, label=label + n)
            if len(evals) > 1:
                ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
        ax.set_xlabel(xlabel)
        if xkey == "num_timesteps":
            from matplotlib.ticker import EngFormatter

            ax.xaxis.set_major_formatter(EngFormatter())  # 400k instead of 400000
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ykey == "success_rate":
            ax.set_ylim(-0.02, 1.02)
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
