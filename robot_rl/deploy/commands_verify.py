"""``robot-rl verify DIR|zoo:NAME [--episodes N]``: exit 1 on any failed check, report on stdout."""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.jsonio import dumps_strict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bundle",
        help="bundle directory written by robot-rl export, or a pretrained policy zoo:NAME (robot-rl zoo)",
    )
    parser.add_argument(
        "--episodes",
        type=int,
        help="closed-loop episodes re-run with ONNX (default: all recorded in closed_loop.json; 0 skips)",
    )
    parser.add_argument(
        "--trust",
        type=Path,
        action="append",
        metavar="KEY.pub",
        help="also require an Ed25519 signature by this public key (repeatable)",
    )
    parser.add_argument("--latency-calls", type=int, default=10_000, help="calls timed per latency figure")
    parser.add_argument("--json", type=Path, help="also write the figures and checks as JSON here")


def run(args: argparse.Namespace) -> int:
    from robot_rl.deploy.verify import verify_bundle
    from robot_rl.zoo import resolve_bundle

    report = verify_bundle(
        resolve_bundle(args.bundle),
        episodes=args.episodes,
        latency_calls=args.latency_calls,
        trusted_keys=args.trust,
    )
    print(report.format())
    if args.json:
        data = {"ok": report.ok, "checks": [vars(c) for c in report.checks], "figures": report.figures}
        args.json.write_text(dumps_strict(data, indent=2, default=str))
    return 0 if report.ok else 1
