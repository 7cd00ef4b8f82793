"""``robot-rl export RUN_DIR_OR_MODEL --out DIR [--formats onnx,torchscript,c]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.deploy.export import FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", type=Path, help="run directory (robot-rl train) or a model .zip next to run.json"
    )
    parser.add_argument("--out", type=Path, required=True, help="bundle directory to write")
    parser.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help=f"comma-separated subset of {','.join(FORMATS)} (default: all)",
    )
    parser.add_argument(
        "--which",
        choices=["best", "final"],
        default="best",
        help="model of a run dir (best falls back to final)",
    )


def run(args: argparse.Namespace) -> int:
    from robot_rl.deploy.export import export_policy
    from robot_rl.deploy.manifest import read_manifest

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    out = export_policy(args.source, args.out, formats=formats, which=args.which)
    manifest = read_manifest(out)
    print(f"exported {manifest['algo']} policy for {manifest['env']['id']} -> {out}")
    for rel in manifest["files"]:
        print(f"  {rel}")
    print(f"next: robot-rl verify {out}")
    return 0
