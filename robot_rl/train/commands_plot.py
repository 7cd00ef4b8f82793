"""``robot-rl plot RUN_DIR ... --out curves.png``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl plot``."""
    parser.add_argument(
        "runs", nargs="+", type=Path, help="run directories (seeds of one config are averaged)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("curves.png"), help="image file (default curves.png)"
    )
    parser.add_argument("--label", action="append", help="label per run (repeat; same label = one band)")
    parser.add_argument("--title", help="figure title")


def run(args: argparse.Namespace) -> int:
    """Plot success rate and return vs env steps and wall time."""
    from robot_rl.train.plots import plot_runs

    out = plot_runs(list(args.runs), args.out, labels=args.label, title=args.title)
    print(f"wrote {out}")
    return 0
