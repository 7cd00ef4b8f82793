"""``robot-rl bench train [CONFIG ...]``: train shipped configs from scratch and report honestly.

For each config: train (``train.stop_on_success`` on, so training stops at the first
evaluation on held-out episodes that reaches ``train.success_threshold``, within
``--max-minutes`` of wall time), then evaluate the best model on ``--episodes`` fresh held-out
episodes (navigation: the test split). Prints and writes a markdown table
(``docs/results/train_bench.md``), the raw figures per config (``figures/<name>.json``) and learning
curves (``train_curves.png``); ``--report-only`` rebuilds the table and curves from the figures.
Wall times depend on the machine's load: say what else was running.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from robot_rl.errors import MissingInputError
from robot_rl.jsonio import dumps_strict

#: Shipped training configs benchmarked by default (names; robot-rl configs lists them all).
SHIPPED = ("grasp_ppo", "grasp_tqc_her", "nav_ppo", "nav_sac", "nav_dqn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl bench train``."""
    parser.add_argument(
        "configs", nargs="*", help=f"shipped config names or YAML files (default: {', '.join(SHIPPED)})"
    )
    parser.add_argument("--episodes", type=int, default=200, help="final held-out episodes (default 200)")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="wall-time budget per config")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/bench"), help="default runs/bench")
    parser.add_argument("--out", type=Path, default=Path("docs/results"), help="default docs/results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a --out directory of an earlier bench (e.g. the code before a change): also write "
        "compare.md, before -> after per config found in both",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: rebuild table and curves from --out/figures",
    )


def bench_one(config: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train one config file from scratch, evaluate its best model; return the figures."""
    from robot_rl.resources import config_arg
    from robot_rl.runs import load_run, read_json
    from robot_rl.train.config import load_config
    from robot_rl.train.evaluate import DEFAULT_EVAL_SEED, eval_env_kwargs, run_episodes
    from robot_rl.train.trainer import train

    overrides = [
        "train.stop_on_success=true",
        f"train.max_wall_time_s={args.max_minutes * 60}",
        f"train.seed={args.seed}",
        *args.overrides,
    ]
    cfg = load_config(config, overrides)
    run = args.runs_dir / f"{cfg.name}_s{args.seed}"
    shown = config_arg(config)  # a shipped config by name: the command works on any install
    command = f"robot-rl train {shown} --seed {args.seed} --set train.stop_on_success=true"
    print(
        f"[bench] {shown}: {cfg.algo.name} on {cfg.env.id}, up to {cfg.train.total_timesteps} steps",
        flush=True,
    )
    out = train(cfg, run, command, overwrite=True)
    info = read_json(run / "run.json")
    loaded = load_run(run, which="best")
    kwargs = eval_env_kwargs(loaded.info, loaded.env_id, None, [])
    t0 = time.monotonic()
    final = run_episodes(
        loaded.model, loaded.env_id, kwargs, args.episodes, DEFAULT_EVAL_SEED, loaded.vecnormalize
    )
    s = final.summary
    reports = []
    for extra in cfg.train.report_env_kwargs:  # further held-out sets, same seeds, never selected on
        more = run_episodes(
            loaded.model, loaded.env_id, {**kwargs, **extra}, args.episodes, DEFAULT_EVAL_SEED,
            loaded.vecnormalize,
        )  # fmt: skip
        reports.append(
            {"env_kwargs": extra, "success_rate": more.summary["success_rate"],
             "success_ci95": more.summary["success_ci95"], "episodes": more.summary["episodes"]}
        )  # fmt: skip
    return {
        "reports": reports,
        "config": shown,
        "name": cfg.name,
        "env_id": cfg.env.id,
        "eval_env_kwargs": kwargs,
        "algo": cfg.algo.name,
        "run_dir": str(run),
        "model": loaded.model_path.name,
        "success_rate": s["success_rate"],
        "success_ci95": s["success_ci95"],
        "episodes": s["episodes"],
        "return_mean": s["return_mean"],
        "metrics": s["metrics"],
        "threshold": cfg.train.success_threshold,
        "solved_step": info.get("solved_step", -1),
        "solved_wall_s": info.get("solved_wall_s", -1.0),
        "num_timesteps": out.num_timesteps,
        "wall_time_s": out.wall_time_s,
        "timing": out.timing,
        "final_eval_s": time.monotonic() - t0,
        "command": command,
    }


def markdown(rows: list[dict[str, Any]], note: str) -> str:
    """Results table (task, algorithm, success, SPL, env steps, wall time, command)."""
    lines = [
        "| config | env | algo | success (95% CI) | SPL | env steps to threshold | wall time to threshold | "
        "steps / wall total | rollout / gradient time | eval + ckpt / warm start | command |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["success_ci95"]
        spl = r["metrics"].get("spl")
        solved = r["solved_step"] >= 0
        solved_wall = f"{r['solved_wall_s'] / 60:.1f} min" if solved else "-"
        t = r["timing"]
        lines.append(
            f"| {r['name']} | {r['env_id']} | {r['algo']} | {r['success_rate']:.3f} ({lo:.3f}-{hi:.3f}, "
            f"n={r['episodes']}){_reports(r)} | {'-' if spl is None else f'{spl:.3f}'} | "
            f"{r['solved_step'] if solved else 'not reached'} | "
            f"{solved_wall} | "
            f"{r['num_timesteps']} / {r['wall_time_s'] / 60:.1f} min | "
            f"{_split(t)} | {_other(t)} | `{r['command']}` |"
        )
    return "\n".join(lines) + "\n\n" + note + "\n"


def _reports(row: dict[str, Any]) -> str:
    """``; object_set=random_test 0.885 (0.833-0.923)`` per further held-out set of the row."""
    parts = []
    for rep in row.get("reports", []):
        lo, hi = rep["success_ci95"]
        what = ", ".join(f"{k}={v}" for k, v in rep["env_kwargs"].items())
        parts.append(f"; {what} {rep['success_rate']:.3f} ({lo:.3f}-{hi:.3f})")
    return "".join(parts)


def _split(timing: dict[str, Any]) -> str:
    """Rollout / gradient seconds (DAgger: rollouts with rendering, teacher labels, backpropagation)."""
    d = timing.get("distill")
    if d:
        return f"{d['rollout_s']:.0f} s + labels {d['label_s']:.0f} s / {d['gradient_s']:.0f} s (DAgger)"
    return f"{timing['rollout_s']:.0f} s / {timing['gradient_s']:.0f} s"


def _other(timing: dict[str, float]) -> str:
    if "eval_and_checkpoint_s" not in timing:
        return "-"
    return f"{timing['eval_and_checkpoint_s']:.0f} s / {timing.get('warm_start_s', 0.0):.0f} s"


def _solved(r: dict[str, Any]) -> str:
    return f"{r['solved_wall_s'] / 60:.1f} min" if r["solved_step"] >= 0 else "not reached"


def _steps(r: dict[str, Any]) -> str:
    return str(r["solved_step"]) if r["solved_step"] >= 0 else "-"


def _success(r: dict[str, Any]) -> str:
    lo, hi = r["success_ci95"]
    return f"{r['success_rate']:.3f} ({lo:.3f}-{hi:.3f})"


def _spl(r: dict[str, Any]) -> str:
    v = r["metrics"].get("spl")
    return "-" if v is None else f"{v:.3f}"


def compare_markdown(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """Before -> after per config benchmarked in both: time to threshold (and the ratio), env steps,
    held-out success and SPL, and where the time went."""
    old = {r["name"]: r for r in before}
    lines = [
        "| config | wall time to threshold | after / before | env steps to threshold | success (95% CI) | "
        "SPL | rollout / gradient | eval + ckpt / warm start | load average |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in after:
        b = old.get(a["name"])
        if b is None:
            continue
        both = b["solved_step"] >= 0 and a["solved_step"] >= 0
        ratio = f"x{a['solved_wall_s'] / b['solved_wall_s']:.2f}" if both else "-"
        load = f"{b.get('load_average', ['?'])[0]} / {a.get('load_average', ['?'])[0]}"
        cells = [
            a["name"], f"{_solved(b)} -> {_solved(a)}", ratio, f"{_steps(b)} -> {_steps(a)}",
            f"{_success(b)} -> {_success(a)}", f"{_spl(b)} -> {_spl(a)}",
            f"{_split(b['timing'])} -> {_split(a['timing'])}",
            f"{_other(b['timing'])} -> {_other(a['timing'])}", load,
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def collect(out: Path) -> list[dict[str, Any]]:
    """Every benchmarked config's figures found in ``out/figures/*.json`` (one file per config)."""
    return [json.loads(p.read_text()) for p in sorted((out / "figures").glob("*.json"))]


def run(args: argparse.Namespace) -> int:
    """Benchmark each config; write its figures to ``--out/figures/<name>.json``, then rebuild the
    table and curves from every figure file there (so configs can be benchmarked one at a time)."""
    from robot_rl.resources import resolve_config
    from robot_rl.train.plots import plot_runs

    # every config is resolved (a shipped name or a file) before anything is trained
    configs = [] if args.report_only else [resolve_config(c, "train") for c in args.configs or SHIPPED]
    (args.out / "figures").mkdir(parents=True, exist_ok=True)
    for config in configs:
        row = bench_one(config, args)
        load = os.getloadavg()
        row["load_average"] = [round(x, 2) for x in load]
        row["cpu_count"] = os.cpu_count()
        row["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        (args.out / "figures" / f"{row['name']}.json").write_text(dumps_strict(row, indent=2) + "\n")
    rows = collect(args.out)
    note = (
        f"Each row: `robot-rl bench train CONFIG` on a {os.cpu_count()}-core CPU machine shared with other "
        "jobs (load averages per row in `figures/*.json`; wall times are pessimistic). Success: best model "
        "on "
        f"{args.episodes} held-out episodes (navigation: test split); 'threshold': first evaluation during "
        "training (held-out seeds; navigation: val split) at or above train.success_threshold."
    )
    table = markdown(rows, note)
    print(table)
    (args.out / "train_bench.md").write_text(table)
    runs = [Path(r["run_dir"]) for r in rows if (Path(r["run_dir"]) / "logs" / "evaluations.csv").is_file()]
    png = plot_runs(runs, args.out / "train_curves.png", title="robot-rl bench train") if runs else None
    print(f"wrote {args.out / 'train_bench.md'}" + (f", {png}" if png else ""))
    if args.baseline is not None:
        if not (args.baseline / "figures").is_dir():
            raise MissingInputError(f"--baseline {args.baseline}: no figures/ directory with bench results")
        compared = compare_markdown(collect(args.baseline), rows)
        print(compared)
        (args.out / "compare.md").write_text(compared)
        print(f"wrote {args.out / 'compare.md'}")
    return 0
