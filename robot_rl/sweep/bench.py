"""``robot-rl bench sweep``: N seeds of a config on a local Ray against the same N runs one after another.

Sequential: the trials' own ``robot-rl train`` commands (recorded in each trial's
``sweep_trial.json``), run one after another in fresh processes, as a shell loop would. Parallel:
``robot-rl sweep`` on a local Ray with ``--cpus`` CPUs, Ray's start-up included. Both wall
times are measured in the same run, and so is their ratio (on 2 cores, 2x is the bound).
Because training is seeded and deterministic on CPU, each seed must reach the *same* final
metric both ways; the table shows both, so a difference (Ray changing a result) would be seen.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from robot_rl.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl bench sweep``."""
    parser.add_argument(
        "sweep", nargs="?", default="sweep_nav_ppo_seeds",
        help="a seeds sweep: a shipped sweep's name or a YAML file (default sweep_nav_ppo_seeds)",
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, default=4, help="seeds (default 4)")
    parser.add_argument("--timesteps", type=int, default=40_000, help="env steps per run (default 40000)")
    parser.add_argument(
        "--cpus", type=int, default=os.cpu_count() or 1, help="CPUs of the local Ray (default: all)"
    )
    parser.add_argument(
        "--runs-dir", type=Path, default=Path("runs/bench_sweep"), help="default runs/bench_sweep"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/results"), help="where sweep_bench.json goes")


def run(args: argparse.Namespace) -> int:
    """Run both ways, print the wall times, their ratio and the per-seed metrics."""
    from robot_rl.sweep.config import load_sweep
    from robot_rl.sweep.runner import require_ray
    from robot_rl.sweep.summary import read_curve

    require_ray()
    overrides = [f"seeds={args.seeds}", f"set.train.total_timesteps={args.timesteps}"]
    cfg = load_sweep(args.sweep, overrides)
    if cfg.params:
        raise InputError(
            f"{args.sweep} varies {[p.key for p in cfg.params]}; the benchmark needs a seeds-only sweep"
        )
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"[bench] {args.seeds} seeds of {cfg.base}, {args.timesteps} env steps each, {args.cpus} CPUs",
        flush=True,
    )

    sequential: list[dict[str, Any]] = []
    t0 = time.monotonic()
    for k in range(args.seeds):
        run = args.runs_dir / "sequential" / f"seed_{k}"
        words = [*shlex.split(cfg.train_command({}, k))[1:], "--run-dir", str(run), "--overwrite"]
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "robot_rl", *words], check=True, stdout=subprocess.DEVNULL)
        _, values = read_curve(run, cfg.metric)
        sequential.append({"seed_index": k, "wall_s": time.monotonic() - start, "metric": float(values[-1])})
        print(
            f"[bench] sequential seed #{k}: {sequential[-1]['wall_s']:.0f} s, {cfg.metric} {values[-1]:.3f}",
            flush=True,
        )
    seq_s = time.monotonic() - t0

    sweep_dir = args.runs_dir / "ray"
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "robot_rl", "sweep", str(args.sweep), "--out", str(sweep_dir), "--overwrite",
           "--cpus", str(args.cpus), *[w for o in overrides for w in ("--set", o)]]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    par_s = time.monotonic() - t0
    parallel = {}
    for trial in sorted((sweep_dir / "trials").glob("*/sweep_trial.json")):
        info = json.loads(trial.read_text())
        _, values = read_curve(trial.parent, cfg.metric)
        parallel[int(info["seed_index"])] = float(values[-1])

    ratio = seq_s / par_s
    print(f"\n{'seed':>4}  {cfg.metric + ' (one after another)':>28}  {cfg.metric + ' (Ray)':>16}")
    for row in sequential:
        print(
            f"{row['seed_index']:>4}  {row['metric']:>28.3f}  "
            f"{parallel.get(row['seed_index'], float('nan')):>16.3f}"
        )
    same = all(abs(r["metric"] - parallel.get(r["seed_index"], float("nan"))) < 1e-9 for r in sequential)
    print(f"\none after another: {seq_s:.0f} s   on Ray ({args.cpus} CPUs): {par_s:.0f} s   "
          f"speed-up {ratio:.2f}x (bound {min(args.cpus, args.seeds)}x)")  # fmt: skip
    print(f"same final {cfg.metric} per seed both ways: {'yes' if same else 'NO'}")
    load = [round(x, 2) for x in os.getloadavg()]
    result = {
        "command": shlex.join(["robot-rl", "bench", "sweep", *sys.argv[3:]]),
        "sweep": str(args.sweep),
        "seeds": args.seeds,
        "timesteps": args.timesteps,
        "cpus": args.cpus,
        "cpu_count": os.cpu_count(),
        "sequential_s": round(seq_s, 1),
        "ray_s": round(par_s, 1),
        "speedup": round(ratio, 3),
        "per_seed": [{**r, "ray_metric": parallel.get(r["seed_index"])} for r in sequential],
        "same_results": same,
        "metric": cfg.metric,
        "load_average_after": load,
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out / 'sweep_bench.json'}")
    return 0
