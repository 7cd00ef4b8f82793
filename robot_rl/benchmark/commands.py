"""``robot-rl benchmark nav --episodes FILE --agents AGENT ... --out DIR [--workers N] [--address A]``.

Runs every agent on every episode of a frozen episode set (a file or a shipped set's name:
``test``, ``hard``, ``val``, ``office``, ``apartment``, ``warehouse``) and writes ``episodes.csv``,
``summary.json``, ``leaderboard.md`` and the pictures (:mod:`robot_rl.benchmark.report`) into
DIR. AGENT: ``planner``, ``zoo:NAME``, a bundle or run directory, a model ``.zip``, or
``module:Class`` (:mod:`robot_rl.benchmark.agents`). ``--address auto|HOST:PORT|ray://HOST:10001``
runs the episodes on a Ray cluster (the one ``robot-rl sweep --address`` joins), one actor per CPU
unless ``--workers`` says how many. The outputs depend only on the episodes and the agents, not on
``--workers`` or ``--address``; the wall time goes to ``timing.json`` and the terminal.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from robot_rl.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl benchmark``."""
    parser.add_argument("suite", choices=["nav"], help="what to benchmark (nav: navigation agents)")
    parser.add_argument(
        "--episodes", required=True, help="episode set JSON, or a shipped set name (test, office, ...)"
    )
    parser.add_argument(
        "--agents", nargs="+", required=True, metavar="AGENT",
        help="planner, zoo:NAME, bundle dir, run dir, model .zip or module:Class (one or more)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--workers", type=int,
        help="parallel processes (default 1); with --address: Ray actors (default: one per cluster CPU)",
    )  # fmt: skip
    parser.add_argument(
        "--address",
        help="run on a Ray cluster: auto (the one this node belongs to), HOST:PORT or ray://HOST:10001; "
        "same results as one worker",
    )
    parser.add_argument("--limit", type=int, help="only the first N episodes of the set")
    parser.add_argument(
        "--max-pictures", type=int, default=10, help="disagreement pictures per pair of agents (default 10)"
    )


def run(args: argparse.Namespace) -> int:
    """Benchmark, write the outputs, print the leaderboard."""
    from robot_rl.benchmark.agents import resolve_agent
    from robot_rl.benchmark.report import dumps_strict, write_report
    from robot_rl.benchmark.runner import ray_workers, run_benchmark
    from robot_rl.envs.nav_episodes import load_set

    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    if args.limit is not None and args.limit < 2:
        raise InputError(f"--limit must be >= 2 (paired statistics need two episodes), got {args.limit}")
    if len(set(args.agents)) != len(args.agents):
        raise InputError(f"--agents lists an agent twice: {args.agents}")
    episode_set = load_set(args.episodes)
    specs = [resolve_agent(a) for a in args.agents]
    from robot_rl.ray_cluster import ray_is_initialized

    workers = args.workers or 1
    connected = bool(args.address) and not ray_is_initialized()
    try:
        if args.address:
            workers = ray_workers(args.address, args.workers)  # joins the cluster
        start = time.perf_counter()
        results = run_benchmark(episode_set, specs, workers=workers, limit=args.limit, address=args.address)
        wall = time.perf_counter() - start
    finally:
        if connected:
            import ray

            ray.shutdown()
    write_report(args.out, results, specs, episode_set, max_pictures=args.max_pictures)
    timing = {
        "wall_time_s": wall,
        "workers": workers,
        "address": args.address,
        "agent_episodes": len(results),
    }
    (args.out / "timing.json").write_text(dumps_strict(timing))
    print((args.out / "leaderboard.md").read_text(), end="")
    where = f"Ray actor(s) on {args.address}" if args.address else "worker(s)"
    print(f"\n{len(results)} agent-episodes in {wall:.1f} s with {workers} {where}; outputs in {args.out}/")
    return 0
