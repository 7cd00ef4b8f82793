"""``robot-rl train CONFIG [--set key=value ...] [--run-dir DIR] [--seed N] [--resume]``.

CONFIG is a YAML file or the name of a shipped training config (``robot-rl configs`` lists them).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from robot_rl.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl train``."""
    parser.add_argument(
        "config",
        nargs="?",
        help="a shipped config's name (e.g. grasp_ppo; robot-rl configs lists them) or a YAML file "
        "(optional with --resume)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.total_timesteps=20000 (repeatable)",
    )
    parser.add_argument("--run-dir", type=Path, help="run directory (default runs/<config name>)")
    parser.add_argument("--seed", type=int, help="seed (same as --set train.seed=N)")
    parser.add_argument("--timesteps", type=int, help="budget (same as --set train.total_timesteps=N)")
    parser.add_argument("--resume", action="store_true", help="continue RUN_DIR from its last checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run directory")


def run(args: argparse.Namespace) -> int:
    """Train (or resume) and print where the run went."""
    from robot_rl.train.config import load_config
    from robot_rl.train.trainer import resume_config, train

    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.timesteps is not None:
        overrides.append(f"train.total_timesteps={args.timesteps}")
    if args.resume:
        if args.run_dir is None:
            if args.config is None:
                raise InputError(
                    "--resume needs --run-dir DIR (or the CONFIG whose default run dir to resume)"
                )
            args.run_dir = Path("runs") / load_config(args.config).name
        cfg = resume_config(args.run_dir, overrides)
    else:
        if args.config is None:
            raise InputError(
                "a CONFIG is required (a shipped name such as grasp_ppo, or a YAML file) "
                "unless --resume is given"
            )
        cfg = load_config(args.config, overrides)
    run_path = args.run_dir if args.run_dir is not None else Path("runs") / cfg.name
    command = (
        shlex.join(["robot-rl", *sys.argv[1:]]) if sys.argv[0].endswith("robot-rl") else shlex.join(sys.argv)
    )
    out = train(cfg, run_path, command, resume=args.resume, overwrite=args.overwrite)
    print(f"run {out.status}: {out.run_dir} ({out.num_timesteps} steps, {out.wall_time_s:.0f} s)")
    if out.eval is not None:
        print(f"last evaluation: success {out.eval['success_rate']:.3f} on {out.eval['episodes']} episodes")
    t = out.timing
    if "distill" in t:
        d: dict[str, float] = t["distill"]  # type: ignore[assignment]
        print(
            f"DAgger: rollouts {d['rollout_s']:.0f} s (rendering included), "
            f"teacher labels {d['label_s']:.0f} s, gradient updates {d['gradient_s']:.0f} s, "
            f"held-out evaluations {d['eval_s']:.0f} s"
        )
    if t.get("rollout_s") or t.get("gradient_s") or "distill" not in t:
        print(f"time in rollouts {t['rollout_s']:.0f} s, in gradient updates {t['gradient_s']:.0f} s")
    return 130 if out.status == "interrupted" else 0
