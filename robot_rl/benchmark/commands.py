"""``robot-rl benchmark nav --episodes FILE --agents AGENT [AGENT ...] --out DIR [--workers N]``.

Runs every agent on every episode of a frozen episode set (a file or a shipped set's name:
``test``, ``hard``, ``val``, ``office``, ``apartment``, ``warehouse``) and writes ``episodes.csv``,
``summary.json``, ``leaderboard.md`` and the pictures (:mod:`robot_rl.benchmark.report`) into
DIR. AGENT: ``planner``, ``zoo:NAME``, a bundle or run directory, a model ``.zip``, or
``module:Class`` (:mod:`robot_rl.benchmark.agents`). The outputs depend only on the command, not
on ``--workers``; the wall time goes to ``timing.json`` and the terminal.
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
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    parser.add_argument("--limit", type=int, help="only the first N episodes of the set")
    parser.add_argument(
        "--max-pictures", type=int, default=10, help="disagreement pictures per pair of agents (default 10)"
    )


def run(args: argparse.Namespace) -> int:
    """Benchmark, write the outputs, print the leaderboard."""
    from robot_rl.benchmark.agents import resolve_agent
    from robot_rl.benchmark.report import dumps_strict, write_report
    from robot_rl.benchmark.runner import run_benchmark
    from robot_rl.envs.nav_episodes import load_set

    if args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    if args.limit is not None and args.limit < 2:
        raise InputError(f"--limit must be >= 2 (paired statistics need two episodes), got {args.limit}")
    if len(set(args.agents)) != len(args.agents):
        raise InputError(f"--agents lists an agent twice: {args.agents}")
    episode_set = load_set(args.episodes)
    specs = [resolve_agent(a) for a in args.agents]
    start = time.perf_counter()
    results = run_benchmark(episode_set, specs, workers=args.workers, limit=args.limit)
    wall = time.perf_counter() - start
    write_report(args.out, results, specs, episode_set, max_pictures=args.max_pictures)
    (args.out / "timing.json").write_text(
        dumps_strict({"wall_time_s": wall, "workers": args.workers, "agent_episodes": len(results)})
    )
    print((args.out / "leaderboard.md").read_text(), end="")
    print(
        f"\n{len(results)} agent-episodes in {wall:.1f} s with {args.workers} worker(s); "
        f"outputs in {args.out}/"
    )
    return 0
