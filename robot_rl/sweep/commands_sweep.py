"""``robot-rl sweep SWEEP [--address auto|ray://...] [--max-concurrent K] [--resume] [--report]``.

SWEEP is a YAML file or the name of a shipped sweep (``robot-rl configs`` lists them).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from robot_rl.errors import InputError

EPILOG = """\
examples:
  robot-rl sweep sweep_nav_ppo_seeds                   4 seeds on a local Ray (all cores)
  robot-rl sweep sweep_nav_ppo_lr --max-concurrent 2   Optuna + ASHA, 2 trials at a time
  robot-rl sweep sweep_nav_ppo_lr --resume             continue after the driver died
  robot-rl sweep --report --out runs/sweeps/nav_ppo_lr rebuild the table, best.yaml, plot
  robot-rl sweep sweep_nav_ppo_lr --address auto       on a running Ray cluster (from a node of it;
                                                       --out on a shared filesystem)
  robot-rl sweep my_sweep.yaml                         your own sweep file (robot-rl configs
                                                       sweep_nav_ppo_lr > my_sweep.yaml to start one)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl sweep``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "sweep",
        nargs="?",
        help="a shipped sweep's name (e.g. sweep_nav_ppo_lr; robot-rl configs lists them) or a YAML "
        "file (optional with --resume --out)",
    )
    parser.add_argument("--out", type=Path, help="sweep directory (default runs/sweeps/<sweep name>)")
    parser.add_argument(
        "--address",
        help="join a running Ray cluster: 'auto' (from one of its nodes), HOST:PORT or ray://HOST:10001; "
        "default: start a local Ray with this machine's cores",
    )
    parser.add_argument("--cpus", type=int, help="CPUs of the local Ray (default: all cores)")
    parser.add_argument(
        "--max-concurrent",
        type=int,
        help="trials running at once (default: the sweep's max_concurrent; 0: no cap)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the sweep file, e.g. --set seeds=2 or --set samples=4 (repeatable)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted sweep from its directory"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing sweep directory")
    parser.add_argument(
        "--report",
        action="store_true",
        help="run nothing: rebuild the table, best.yaml and plot of the sweep directory",
    )


def _sweep_dir(args: argparse.Namespace) -> Path:
    from robot_rl.sweep.config import load_sweep

    if args.out is not None:
        return Path(args.out)
    if args.sweep is None:
        raise InputError(
            "give the SWEEP (a shipped name such as sweep_nav_ppo_lr, or a YAML file) or --out DIR"
        )
    return Path("runs") / "sweeps" / load_sweep(args.sweep, args.overrides).name


def run(args: argparse.Namespace) -> int:
    """Run, resume or report a sweep; print the ranked configurations and where the files went."""
    from robot_rl.sweep.config import SweepConfig, load_sweep
    from robot_rl.sweep.runner import load_saved_sweep, require_ray, run_sweep
    from robot_rl.sweep.summary import write_report

    if args.resume and (args.overrides or args.max_concurrent is not None):
        raise InputError(
            "--set and --max-concurrent are not accepted with --resume: a sweep resumes as it was started"
        )
    if args.address and args.cpus is not None:
        raise InputError("--cpus sizes a local Ray; with --address the cluster's own resources are used")
    if args.max_concurrent is not None and args.max_concurrent < 0:
        raise InputError(f"--max-concurrent={args.max_concurrent}; expected an integer >= 0 (0: no cap)")
    if args.cpus is not None and args.cpus < 1:
        raise InputError(f"--cpus={args.cpus}; expected an integer >= 1")
    sweep_dir = _sweep_dir(args)
    if args.report:
        saved = load_saved_sweep(sweep_dir)
        previous = sweep_dir / "summary.json"
        old = json.loads(previous.read_text()) if previous.is_file() else {}
        kept = {
            k: old[k] for k in ("complete", "ended_by", "wall_time_s") if k in old
        }  # known only to the run
        _print_summary(write_report(sweep_dir, saved, kept), sweep_dir)
        return 0
    require_ray()
    cfg: SweepConfig | None = None
    if not args.resume:
        if args.sweep is None:
            raise InputError(
                "a SWEEP is required (a shipped name such as sweep_nav_ppo_lr, or a YAML file) "
                "unless --resume is given"
            )
        cfg = load_sweep(args.sweep, args.overrides)
    command = (
        shlex.join(["robot-rl", *sys.argv[1:]]) if sys.argv[0].endswith("robot-rl") else shlex.join(sys.argv)
    )
    if cfg is not None:
        print(
            f"[sweep] {cfg.name}: {cfg.n_configs} configuration(s) x {cfg.seeds} seed(s) = "
            f"{cfg.total_trials} "
            f"trials of {cfg.base} ({cfg.search} search, {cfg.scheduler.type} stopping, metric {cfg.metric}) "
            f"-> {sweep_dir}",
            flush=True,
        )
    outcome = run_sweep(
        cfg, sweep_dir, command, resume=args.resume, overwrite=args.overwrite, address=args.address,
        cpus=args.cpus, max_concurrent=args.max_concurrent,
    )  # fmt: skip
    ended = outcome.cfg
    failed = [t for t in outcome.trials if t.status == "ERROR"]
    summary = write_report(
        sweep_dir,
        ended,
        {"complete": outcome.complete, "ended_by": outcome.ended_by, "wall_time_s": outcome.wall_time_s},
    )
    _print_summary(summary, sweep_dir)
    for t in failed:
        print(f"[sweep] trial {t.trial_id} failed: {t.error}", file=sys.stderr)
    if outcome.ended_by == "time_budget":
        never = ended.total_trials - sum(1 for t in outcome.trials if t.status in ("TERMINATED", "ERROR"))
        spent = f"time budget of {ended.time_budget_min:g} min spent after {outcome.wall_time_s:.0f} s"
        print(f"[sweep] {spent}; {max(never, 0)} trial(s) never ran (--resume runs them with a fresh budget)")
        return 0
    if not outcome.complete:
        print(
            f"[sweep] interrupted; continue with: robot-rl sweep --resume --out {sweep_dir}", file=sys.stderr
        )
        return 130
    print(f"[sweep] done in {outcome.wall_time_s:.0f} s")
    return 1 if failed and len(failed) == len(outcome.trials) else 0


def _print_summary(summary: dict[str, object], sweep_dir: Path) -> None:
    if summary.get("complete") is False and summary.get("ended_by") != "time_budget":
        print("[sweep] the sweep did not complete: these are partial results\n")
    print((sweep_dir / "trials.md").read_text())
    best = summary.get("best")
    if isinstance(best, dict):
        spread = f" +- {best['std']:.2g}" if best["seeds"] > 1 else ""
        print(f"best: {best['params'] or 'the base config'}: {summary['metric']} {best['mean']:.4g}{spread} "
              f"over {best['seeds']} seed(s)")  # fmt: skip
        print(f"train it: robot-rl train {sweep_dir / 'best.yaml'}")
    print(f"wrote {sweep_dir}/trials.md, trials.csv, summary.json, best.yaml, sweep.png")
