"""``robot-rl export RUN_DIR_OR_MODEL --out DIR [--formats onnx,torchscript,c] [--sign KEY]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from robot_rl.deploy.export import FORMATS
from robot_rl.errors import InputError


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
    parser.add_argument(
        "--deploy-config",
        help="deploy YAML, or a shipped deploy config's name (e.g. deploy_nav), whose safety limits the "
        "bundle carries (default: the shipped deploy config of the env)",
    )
    parser.add_argument(
        "--safe-action",
        help="JSON safe action for an env that declares none, e.g. '[0, 0]' or 6 (robot_rl envs do)",
    )
    parser.add_argument("--sign", type=Path, metavar="KEY", help="Ed25519 private key (robot-rl keygen)")
    parser.add_argument(
        "--reference-episodes",
        type=int,
        default=10,
        help="SB3 closed-loop episodes recorded for robot-rl verify (default 10)",
    )


def _safe_action(text: str | None) -> list[float | None] | int | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise InputError(f"--safe-action {text!r} is not JSON; e.g. '[0, 0]', '[0, null]' or 6") from None
    if isinstance(value, bool) or not isinstance(value, int | list):
        raise InputError(f"--safe-action {text!r} must be an index or a list of numbers/null")
    return value


def run(args: argparse.Namespace) -> int:
    from robot_rl.deploy.export import export_policy
    from robot_rl.deploy.manifest import read_manifest

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    out = export_policy(
        args.source,
        args.out,
        formats=formats,
        which=args.which,
        reference_episodes=args.reference_episodes,
        deploy_config=args.deploy_config,
        safe_action=_safe_action(args.safe_action),
        sign=args.sign,
    )
    manifest = read_manifest(out)
    safety = manifest["safety"]
    print(f"exported {manifest['algo']} policy for {manifest['env']['id']} -> {out}")
    print(
        f"  policy rate {manifest['env']['policy_hz']:g} Hz, command rate {safety['command_hz']:g} Hz, "
        f"safe action {manifest['action']['safe_action']}, watchdog {safety['watchdog_timeout_s']:g} s, "
        f"limits from {safety['source'] or 'the action space (no deploy config)'}"
    )
    for rel in manifest["files"]:
        print(f"  {rel}")
    if args.sign:
        print("  manifest.sig (Ed25519 signature of manifest.json)")
    print(f"next: robot-rl verify {out}")
    return 0
