"""``robot-rl replay LOG.mcap [BUNDLE] [--tolerance T] [--z Z]``: re-run a recorded deployment offline.

See :mod:`robot_rl.deploy.ros2.replay`. Exits 1 when the re-computed actions differ from the logged
ones by more than the tolerance (the bundle or runtime does not reproduce the run).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", type=Path, help="MCAP log written by robot-rl deploy --hardware ros2 --record")
    parser.add_argument(
        "bundle", nargs="?", help="bundle directory or zoo:NAME (default: the one the log names)"
    )
    parser.add_argument(
        "--tolerance", type=float, default=1e-5, help="largest accepted action difference (default 1e-5)"
    )
    parser.add_argument(
        "--z", type=float, default=4.0, help="z-score above which an observation entry is out of distribution"
    )


def run(args: argparse.Namespace) -> int:
    from robot_rl.deploy.ros2 import require
    from robot_rl.deploy.ros2.replay import format_report, replay
    from robot_rl.errors import InputError
    from robot_rl.zoo import resolve_bundle

    require()
    if not args.tolerance >= 0 or not args.z > 0:
        raise InputError(f"--tolerance must be >= 0 and --z > 0, got {args.tolerance} and {args.z}")
    bundle = resolve_bundle(args.bundle) if args.bundle else None
    report = replay(args.log, bundle, args.z)
    print(format_report(report, args.tolerance))
    return 0 if report.max_action_diff <= args.tolerance else 1
