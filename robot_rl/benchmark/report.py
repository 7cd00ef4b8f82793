"""Benchmark outputs: ``episodes.csv``, strict ``summary.json``, ``leaderboard.md`` and pictures.

* ``episodes.csv``: one row per agent and episode (:data:`~robot_rl.benchmark.runner.COLUMNS`),
  floats written with Python's shortest round-trip repr, empty cells for "none";
* ``summary.json``: per agent the success rate with its 95% Wilson interval, metric means,
  ``time_to_goal`` averaged over successful episodes only, failure counts; per pair of agents
  McNemar's exact test and the paired bootstrap interval of the SPL difference. Strict JSON: a
  value that is not a finite number is ``null``;
* ``leaderboard.md``: the same as tables;
* ``paths_<agent>.png``: top-down maps with the agent's paths; ``disagreements/*.png``: for
  episodes where one agent of a pair succeeded and the other did not, both paths over the map with
  start, goal and the shortest path.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl import jsonio
from robot_rl.benchmark.agents import AgentSpec
from robot_rl.benchmark.metrics import FAILURE_TYPES, mcnemar_exact, paired_bootstrap_ci, wilson
from robot_rl.benchmark.runner import COLUMNS, EpisodeResult

#: Per-episode columns averaged in the summary (identifiers such as seeds are not metrics).
MEAN_KEYS = ("spl", "soft_spl", "final_distance", "final_euclidean", "path_length", "collisions", "time_s")


def dumps_strict(data: Any) -> str:
    """Indented strict JSON (non-finite numbers as ``null``), one trailing newline."""
    return jsonio.dumps_strict(data, indent=2) + "\n"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    return str(v)


def episodes_csv(results: list[EpisodeResult]) -> str:
    """The per-episode table as CSV text (deterministic: fixed columns, repr floats)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in results:
        writer.writerow([_cell(r.row[c]) for c in COLUMNS])
    return out.getvalue()


def agent_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Success with its 95% Wilson interval, means of :data:`MEAN_KEYS`, time to goal over
    successes only, and failure counts."""
    n = len(rows)
    successes = sum(r["success"] for r in rows)
    low, high = wilson(successes, n)
    times = [r["time_to_goal"] for r in rows if r["success"]]
    return {
        "episodes": n,
        "successes": successes,
        "success_rate": successes / n,
        "success_ci95": [low, high],
        "means": {k: float(np.mean([r[k] for r in rows])) for k in MEAN_KEYS},
        "time_to_goal_mean_over_successes": float(np.mean(times)) if times else None,
        "failures": {f: sum(r["failure"] == f for r in rows) for f in FAILURE_TYPES},
    }


def pair_summary(
    name_a: str, rows_a: list[dict[str, Any]], name_b: str, rows_b: list[dict[str, Any]]
) -> dict:
    """McNemar's exact test on success and the paired bootstrap 95% interval of SPL(A) - SPL(B)."""
    if [r["episode"] for r in rows_a] != [r["episode"] for r in rows_b]:
        raise ValueError(f"{name_a} and {name_b} ran different episodes; a paired comparison needs the same")
    test = mcnemar_exact([bool(r["success"]) for r in rows_a], [bool(r["success"]) for r in rows_b])
    diff, low, high = paired_bootstrap_ci([r["spl"] for r in rows_a], [r["spl"] for r in rows_b])
    return {
        "a": name_a,
        "b": name_b,
        "success_only_a": test.only_a,
        "success_only_b": test.only_b,
        "mcnemar_exact_p": test.p_value,
        "spl_difference": diff,
        "spl_difference_ci95": [low, high],
        "disagreements": [
            ra["episode"] for ra, rb in zip(rows_a, rows_b, strict=True) if ra["success"] != rb["success"]
        ],
    }


def summarize(
    results: list[EpisodeResult], specs: list[AgentSpec], episode_set: dict[str, Any]
) -> dict[str, Any]:
    """The whole ``summary.json`` content (no timings: the same command gives the same file)."""
    from robot_rl.benchmark.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
    from robot_rl.benchmark.runner import env_for

    by_agent = {s.arg: [r.row for r in results if r.row["agent"] == s.arg] for s in specs}
    return {
        "episode_set": {
            "name": episode_set["name"],
            "digest": episode_set["digest"],
            "env_id": episode_set["env_id"],
            "env_kwargs": episode_set["env_kwargs"],
            "map": episode_set.get("map"),
            "episodes": len(next(iter(by_agent.values()))),
        },
        "agents": {
            s.arg: {
                "kind": s.kind,
                **s.detail,
                "env_id": env_for(s, episode_set)[0],
                "env_kwargs": env_for(s, episode_set)[1],
                **agent_summary(by_agent[s.arg]),
            }
            for s in specs
        },
        "pairs": [
            pair_summary(a.arg, by_agent[a.arg], b.arg, by_agent[b.arg])
            for a, b in itertools.combinations(specs, 2)
        ],
        "statistics": {
            "success_ci": "Wilson score 95% (scipy.stats.binomtest(...).proportion_ci(method='wilson'))",
            "mcnemar": "exact two-sided binomial test on the discordant pairs (scipy.stats.binomtest)",
            "spl_difference_ci": f"paired bootstrap, percentile 95%, {BOOTSTRAP_RESAMPLES} resamples, seed "
            f"{BOOTSTRAP_SEED} (scipy.stats.bootstrap, paired=True)",
        },
    }


def leaderboard(summary: dict[str, Any]) -> str:
    """Markdown tables: agents sorted by success rate then SPL, then the pairwise comparisons."""
    es = summary["episode_set"]
    lines = [
        f"# Navigation benchmark: {es['name']} ({es['episodes']} episodes, {es['digest'][:19]}...)",
        "",
        "| agent | success (95% CI) | SPL | SoftSPL | path (m) | collisions/ep | time to goal (s) "
        "| failures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    agents = sorted(
        summary["agents"].items(), key=lambda kv: (-kv[1]["success_rate"], -kv[1]["means"]["spl"])
    )
    for name, a in agents:
        lo, hi = a["success_ci95"]
        fails = ", ".join(f"{k} {v}" for k, v in a["failures"].items() if k != "success" and v) or "none"
        ttg = a["time_to_goal_mean_over_successes"]
        lines.append(
            f"| `{name}` | {a['success_rate']:.3f} ({lo:.3f}-{hi:.3f}) | {a['means']['spl']:.3f} | "
            f"{a['means']['soft_spl']:.3f} | {a['means']['path_length']:.2f} | "
            f"{a['means']['collisions']:.2f} | {'-' if ttg is None else f'{ttg:.2f}'} | {fails} |"
        )
    if summary["pairs"]:
        lines += [
            "",
            "| A vs B | only A succeeded | only B succeeded | McNemar exact p | SPL(A) - SPL(B) (95% CI) |",
            "|---|---|---|---|---|",
        ]
        for p in summary["pairs"]:
            lo, hi = p["spl_difference_ci95"]
            lines.append(
                f"| `{p['a']}` vs `{p['b']}` | {p['success_only_a']} | {p['success_only_b']} | "
                f"{p['mcnemar_exact_p']:.4g} | {p['spl_difference']:+.3f} ({lo:+.3f} to {hi:+.3f}) |"
            )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- pictures
def file_name(agent: str) -> str:
    """A file-name-safe form of an agent argument."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", agent).strip("_") or "agent"


def _layout_and_shortest(record: dict[str, Any], episode_set: dict[str, Any]) -> tuple[Any, np.ndarray]:
    from robot_rl.envs.nav_episode import episode_between
    from robot_rl.envs.nav_layout import generate_layout
    from robot_rl.envs.nav_map import load_map
    from robot_rl.envs.robots.diff_drive import DiffDriveSpec

    if record["layout_seed"] is None:
        layout = load_map(episode_set["env_kwargs"]["map"]).layout
    else:
        layout = generate_layout(int(record["layout_seed"]))
    ep = episode_between(
        layout, layout.to_cell(*record["start"]), layout.to_cell(*record["goal"]), DiffDriveSpec().radius
    )
    return layout, ep.path


def _draw_map(ax: Any, layout: Any) -> None:
    half = layout.config.arena_size / 2
    ax.imshow(
        layout.clearance <= 0, origin="lower", extent=(-half, half, -half, half), cmap="Greys",
        vmin=0, vmax=1.6, interpolation="nearest",
    )  # fmt: skip
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_episode(ax: Any, record: dict[str, Any], shortest: np.ndarray, legend: bool = False) -> None:
    ax.plot(
        shortest[:, 0], shortest[:, 1], "--", color="0.45", lw=1.2, label="shortest path" if legend else None
    )
    ax.plot(*record["start"], "o", color="tab:blue", ms=6, label="start" if legend else None)
    ax.plot(*record["goal"], "*", color="tab:green", ms=11, label="goal" if legend else None)


def plot_paths(
    results: list[EpisodeResult], episode_set: dict[str, Any], agent: str, path: Path, most: int = 12
) -> Path:
    """Top-down map(s) of one agent's paths: all episodes over the map for a map set, else the first
    ``most`` episodes one layout each (green: success, red: failure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = {ep["id"]: ep for ep in episode_set["episodes"]}
    mine = [r for r in results if r.row["agent"] == agent]
    if episode_set.get("map"):
        fig, ax = plt.subplots(figsize=(7, 7))
        layout, _ = _layout_and_shortest(records[mine[0].row["episode"]], episode_set)
        _draw_map(ax, layout)
        for r in mine:
            ax.plot(
                r.path[:, 0],
                r.path[:, 1],
                color="tab:green" if r.row["success"] else "tab:red",
                lw=0.8,
                alpha=0.6,
            )
            ax.plot(*records[r.row["episode"]]["goal"], ".", color="k", ms=3)
        ok = sum(r.row["success"] for r in mine)
        ax.set_title(f"{agent} on {episode_set['name']}: {ok}/{len(mine)} succeeded (green), failures red")
    else:
        shown = mine[:most]
        cols = 4
        rows = math.ceil(len(shown) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
        for ax in axes.flat[len(shown) :]:
            ax.axis("off")
        for ax, r in zip(axes.flat, shown, strict=False):
            record = records[r.row["episode"]]
            layout, shortest = _layout_and_shortest(record, episode_set)
            _draw_map(ax, layout)
            _draw_episode(ax, record, shortest)
            ax.plot(r.path[:, 0], r.path[:, 1], color="tab:green" if r.row["success"] else "tab:red", lw=1.5)
            ax.set_title(f"{r.row['episode']}: {r.row['failure']}, SPL {r.row['spl']:.2f}", fontsize=8)
        fig.suptitle(f"{agent}: first {len(shown)} episodes of {episode_set['name']} (dashed: shortest path)")
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    """Lay out, write (parents created) and close a figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_disagreement(
    episode_set: dict[str, Any], record: dict[str, Any], a: EpisodeResult, b: EpisodeResult, path: Path
) -> Path:
    """Both agents' paths on one episode over its map, with start, goal and the shortest path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layout, shortest = _layout_and_shortest(record, episode_set)
    fig, ax = plt.subplots(figsize=(6, 6))
    _draw_map(ax, layout)
    _draw_episode(ax, record, shortest, legend=True)
    for r, colour in ((a, "tab:orange"), (b, "tab:purple")):
        label = f"{r.row['agent']}: {r.row['failure']}, SPL {r.row['spl']:.2f}"
        ax.plot(r.path[:, 0], r.path[:, 1], color=colour, lw=1.8, label=label)
        ax.plot(r.path[-1, 0], r.path[-1, 1], "x", color=colour, ms=8)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.set_title(f"{record['id']} (geodesic {record['geodesic_distance']:.2f} m)")
    return _save(fig, path)


def write_report(
    out: Path,
    results: list[EpisodeResult],
    specs: list[AgentSpec],
    episode_set: dict[str, Any],
    max_pictures: int = 10,
) -> dict[str, Any]:
    """Write every output into ``out``; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "episodes.csv").write_text(episodes_csv(results))
    summary = summarize(results, specs, episode_set)
    (out / "summary.json").write_text(dumps_strict(summary))
    (out / "leaderboard.md").write_text(leaderboard(summary))
    for s in specs:
        plot_paths(results, episode_set, s.arg, out / f"paths_{file_name(s.arg)}.png")
    records = {ep["id"]: ep for ep in episode_set["episodes"]}
    by_key = {(r.row["agent"], r.row["episode"]): r for r in results}
    for pair in summary["pairs"]:
        for episode in pair["disagreements"][:max_pictures]:
            name = f"{episode}_{file_name(pair['a'])}_vs_{file_name(pair['b'])}.png"
            plot_disagreement(
                episode_set, records[episode], by_key[(pair["a"], episode)], by_key[(pair["b"], episode)],
                out / "disagreements" / name,
            )  # fmt: skip
    return summary
