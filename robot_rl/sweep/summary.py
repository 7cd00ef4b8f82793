"""The end of a sweep: the trial table, the configurations ranked, the best one as a launch file, a plot.

Everything is read back from the trial run directories (``sweep_trial.json``, ``run.json``,
``logs/evaluations.csv``), so ``robot-rl sweep --report DIR`` rebuilds it at any time, even
for a sweep that is still running or was interrupted.

A trial's metric is its *last* evaluation (what the search algorithm and the schedulers saw);
its best evaluation is shown beside it. A configuration's score is the mean of its trials'
metrics over seeds, with the spread; the best configuration is written as ``best.yaml``, an
ordinary training config (``robot-rl train SWEEP/best.yaml``).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from robot_rl import runs as rd
from robot_rl.errors import InputError
from robot_rl.sweep.config import SweepConfig
from robot_rl.sweep.trial import TRIAL_JSON, TRIALS


@dataclass
class TrialRow:
    """One trial, as its run directory tells it."""

    trial_id: str
    params: dict[str, Any]
    seed: int
    status: str
    metric: float  # last evaluation (nan: never evaluated)
    best: float  # best evaluation
    num_timesteps: int
    wall_time_s: float
    evaluations: int
    retries: int
    run_dir: Path


@dataclass
class ConfigRow:
    """One configuration over its seeds."""

    params: dict[str, Any]
    mean: float
    std: float
    n: int  # trials with a metric
    trials: list[str]


def metric_column(metric: str) -> str:
    """Column of ``logs/evaluations.csv`` holding ``metric`` (task metrics are ``metric_<name>``)."""
    return metric if metric in ("success_rate", "return_mean", "length_mean") else f"metric_{metric}"


def read_curve(run: Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(env steps, metric) of every evaluation of a run, in step order (empty without any)."""
    path = run / rd.LOGS / "evaluations.csv"
    if not path.is_file():
        return np.zeros(0), np.zeros(0)
    column = metric_column(metric)
    with path.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r.get(column) not in (None, "")]
    steps = np.array([float(r["num_timesteps"]) for r in rows])
    values = np.array([float(r[column]) for r in rows])
    order = np.argsort(steps, kind="stable")
    return steps[order], values[order]


def collect(sweep_dir: Path, cfg: SweepConfig) -> list[TrialRow]:
    """A row per trial directory that has recorded its parameters."""
    rows = []
    for run in sorted((sweep_dir / TRIALS).glob("*")):
        if not (run / TRIAL_JSON).is_file():
            continue
        trial = json.loads((run / TRIAL_JSON).read_text())
        info = json.loads((run / rd.RUN_JSON).read_text()) if (run / rd.RUN_JSON).is_file() else {}
        steps, values = read_curve(run, cfg.metric)
        finite = values[np.isfinite(values)]
        best = float(finite.max() if cfg.mode == "max" else finite.min()) if finite.size else math.nan
        rows.append(
            TrialRow(
                trial_id=trial["trial_id"],
                params=trial["params"],
                seed=int(trial["seed"]),
                status=str(info.get("status", "failed" if "error" in trial else "not started")),
                metric=float(values[-1]) if values.size else math.nan,
                best=best,
                # a running (or interrupted) run's run.json lags: its last evaluation does not
                num_timesteps=max(int(info.get("num_timesteps", 0)), int(steps[-1]) if steps.size else 0),
                wall_time_s=float(info.get("wall_time_s", 0.0)),
                evaluations=int(values.size),
                retries=int(trial.get("retries", 0)),
                run_dir=run,
            )
        )
    return rows


def rank_configs(rows: list[TrialRow], mode: str) -> list[ConfigRow]:
    """Configurations, best first by the mean metric over their seeds (nan last)."""
    groups: dict[str, list[TrialRow]] = {}
    seen: set[tuple[str, int]] = set()
    for row in rows:
        key = json.dumps(row.params, sort_keys=True)
        if (key, row.seed) in seen:  # Optuna proposed a configuration again: same seed, same run
            continue
        seen.add((key, row.seed))
        groups.setdefault(key, []).append(row)
    out = []
    for members in groups.values():
        values = np.array([r.metric for r in members if math.isfinite(r.metric)])
        out.append(
            ConfigRow(
                params=members[0].params,
                mean=float(values.mean()) if values.size else math.nan,
                std=float(values.std(ddof=1)) if values.size > 1 else 0.0,
                n=int(values.size),
                trials=[r.trial_id for r in members],
            )
        )
    sign = -1.0 if mode == "max" else 1.0
    return sorted(out, key=lambda c: (math.isnan(c.mean), sign * c.mean if not math.isnan(c.mean) else 0.0))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def markdown(cfg: SweepConfig, rows: list[TrialRow], configs: list[ConfigRow]) -> str:
    """The configurations table (best first) and the trials table."""
    keys = [p.key for p in cfg.params]
    head = [*keys, f"{cfg.metric} mean", "std", "seeds"]
    lines = [f"## Sweep {cfg.name}: {cfg.metric} ({cfg.mode}), {len(rows)} trials", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in configs:
        spread = _fmt(c.std) if c.n > 1 else "-"  # one seed has no spread
        cells = [_fmt(c.params.get(k)) for k in keys] + [_fmt(c.mean), spread, str(c.n)]
        lines.append("| " + " | ".join(cells) + " |")
    head = ["trial", *keys, "seed", "status", cfg.metric, "best", "env steps", "wall time [s]", "retries"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = sorted(rows, key=lambda r: (math.isnan(r.metric), -r.metric if cfg.mode == "max" else r.metric))
    for r in order:
        cells = [r.trial_id, *[_fmt(r.params.get(k)) for k in keys], str(r.seed), r.status, _fmt(r.metric),
                 _fmt(r.best), str(r.num_timesteps), f"{r.wall_time_s:.0f}", str(r.retries)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: Path, cfg: SweepConfig, rows: list[TrialRow]) -> None:
    """``trials.csv``: a row per trial (parameters as columns)."""
    keys = [p.key for p in cfg.params]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["trial_id", *keys, "seed", "status", cfg.metric, f"best_{cfg.metric}",
                         "num_timesteps", "wall_time_s", "evaluations", "retries", "run_dir"])  # fmt: skip
        for r in rows:
            writer.writerow([r.trial_id, *[r.params.get(k) for k in keys], r.seed, r.status, r.metric, r.best,
                             r.num_timesteps, round(r.wall_time_s, 3), r.evaluations, r.retries,
                             str(r.run_dir)])  # fmt: skip


def write_best(path: Path, cfg: SweepConfig, best: ConfigRow) -> None:
    """The best configuration as an ordinary launch file (seed of the base config)."""
    raw = cfg.trial_raw(best.params, 0)
    raw["name"] = f"{cfg.name}_best"
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items()) or "the base config"
    score = (
        f"{best.mean:.4g} +- {best.std:.2g} (mean +- std over {best.n} seeds, last evaluation)"
        if best.n > 1
        else f"{best.mean:.4g} (one seed, last evaluation)"
    )
    header = (
        f"# Best configuration of sweep {cfg.name} (base {cfg.base}): {shown}\n"
        f"# {cfg.metric} {score}\n"
        f"# Train it: robot-rl train {path}\n"
    )
    rd.atomic_write_text(path, header + yaml.safe_dump(raw, sort_keys=False))


def plot(path: Path, cfg: SweepConfig, rows: list[TrialRow]) -> Path:
    """The metric against each varied parameter (one panel each), and every trial's learning curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = len(cfg.params) + 1
    ncols = min(3, panels)
    nrows = math.ceil(panels / ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.6 * nrows), squeeze=False)
    axes = list(grid.flat)
    for ax in axes[panels:]:
        ax.set_visible(False)
    colors = {"finished": "tab:blue", "stopped_early": "tab:orange", "failed": "tab:red"}
    for ax, p in zip(axes, cfg.params, strict=False):
        xs: list[Any] = [r.params.get(p.key) for r in rows]
        if p.discrete:
            labels = [str(v) for v in p.values]
            index = {str(v): i for i, v in enumerate(p.values)}
            jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(rows))
            pos = np.array([index.get(str(x), -1) for x in xs], dtype=float) + jitter
            ax.set_xticks(range(len(labels)), labels)
        else:
            pos = np.array(xs, dtype=float)
            if p.log:
                ax.set_xscale("log")
        for status, color in colors.items():
            sel = [i for i, r in enumerate(rows) if r.status == status]
            if sel:
                ax.scatter(
                    pos[sel], [rows[i].metric for i in sel], c=color, label=status.replace("_", " "), s=28
                )
        other = [i for i, r in enumerate(rows) if r.status not in colors]
        if other:
            ax.scatter(pos[other], [rows[i].metric for i in other], c="tab:gray", label="other", s=28)
        ax.set_xlabel(p.key)
        ax.set_ylabel(f"{cfg.metric} (last evaluation)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[panels - 1]
    for r in rows:
        steps, values = read_curve(r.run_dir, cfg.metric)
        if steps.size:
            ax.plot(steps, values, marker=".", color=colors.get(r.status, "tab:gray"), alpha=0.7, lw=1)
    ax.set_xlabel("env steps")
    ax.set_ylabel(cfg.metric)
    ax.set_title("every trial (orange: stopped early)", fontsize=9)
    ax.grid(alpha=0.3)
    fig.suptitle(f"sweep {cfg.name}: {len(rows)} trials, {cfg.search} search, {cfg.scheduler.type} stopping")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(sweep_dir: Path, cfg: SweepConfig, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``trials.csv``, ``trials.md``, ``summary.json``, ``best.yaml`` and ``sweep.png``.

    Returns the summary (also printed by the command).

    Raises:
        ValueError: No trial has been evaluated yet (nothing to rank).
    """
    rows = collect(sweep_dir, cfg)
    if not rows:
        raise InputError(f"{sweep_dir / TRIALS} has no trials yet")
    configs = rank_configs(rows, cfg.mode)
    table = markdown(cfg, rows, configs)
    rd.atomic_write_text(sweep_dir / "trials.md", table)
    write_csv(sweep_dir / "trials.csv", cfg, rows)
    best = configs[0] if configs and not math.isnan(configs[0].mean) else None
    if best is not None:
        write_best(sweep_dir / "best.yaml", cfg, best)
    png = plot(sweep_dir / "sweep.png", cfg, rows)
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    summary = {
        "name": cfg.name,
        "metric": cfg.metric,
        "mode": cfg.mode,
        "trials": len(rows),
        "statuses": statuses,
        "best": None
        if best is None
        else {
            "params": best.params,
            "mean": best.mean,
            "std": best.std,
            "seeds": best.n,
            "trials": best.trials,
        },
        "configs": [
            {"params": c.params, "mean": c.mean, "std": c.std, "seeds": c.n, "trials": c.trials}
            for c in configs
        ],
        "table": str(sweep_dir / "trials.md"),
        "plot": str(png),
        **(extra or {}),
    }
    rd.write_json(sweep_dir / "summary.json", summary)
    return summary
