"""``robot-rl demo``: the main job. Train the default grasping config until it passes its success
threshold on held-out episodes, evaluate it on fresh held-out episodes (with a video), export and
verify the policy bundle, print a short summary.

The config ships inside the package (``grasp_ppo``), so the demo runs from any directory; it
writes ``runs/demo`` and ``exports/demo`` under the working directory.

Re-running is cheap: a finished run in ``--run-dir`` is reused, an interrupted one is resumed,
``--overwrite`` retrains from scratch.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from robot_rl.errors import InputError

#: A shipped config's name (robot-rl configs lists them) or a YAML file.
DEFAULT_CONFIG = "grasp_ppo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl demo``."""
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help=f"a shipped config's name or a YAML file (default {DEFAULT_CONFIG})",
    )
    parser.add_argument("--timesteps", type=int, help="training budget (default: the config's)")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="default runs/demo")
    parser.add_argument("--export-dir", type=Path, help="bundle directory (default exports/<run name>)")
    parser.add_argument(
        "--episodes", type=int, default=200, help="held-out evaluation episodes (default 200)"
    )
    parser.add_argument("--verify-episodes", type=int, default=10, help="episodes for bundle verification")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--overwrite", action="store_true", help="retrain even if --run-dir holds a run")


def _train(args: argparse.Namespace) -> Path:
    from robot_rl.runs import RUN_JSON, read_json
    from robot_rl.train.config import load_config
    from robot_rl.train.trainer import resume_config, train

    # The demo stops at the config's success threshold on held-out episodes (as the benchmark
    # does) instead of spending the whole budget; `--set train.stop_on_success=false` trains on.
    overrides = ["train.stop_on_success=true", *args.overrides]
    if args.timesteps is not None:
        overrides.append(f"train.total_timesteps={args.timesteps}")
    run = args.run_dir
    command = shlex.join(["robot-rl", "demo", *sys.argv[2:]])
    status = (
        read_json(run / RUN_JSON).get("status") if (run / RUN_JSON).is_file() and not args.overwrite else None
    )
    if status == "finished":
        print(f"[demo] reusing the finished run {run} (--overwrite retrains)")
        return run
    if status is not None:
        print(f"[demo] resuming the {status} run {run}")
        train(resume_config(run, overrides), run, command, resume=True)
        return run
    cfg = load_config(args.config, overrides)
    print(f"[demo] training {args.config} ({cfg.algo.name}, {cfg.train.total_timesteps} steps) into {run}")
    train(cfg, run, command, overwrite=args.overwrite)
    return run


def _evaluate(run: Path, episodes: int) -> tuple[dict[str, Any], Path | None]:
    from robot_rl.runs import load_run
    from robot_rl.train.evaluate import (
        DEFAULT_EVAL_SEED,
        eval_env_kwargs,
        run_episodes,
        write_csv,
        write_video,
    )

    loaded = load_run(run, which="best")
    kwargs = eval_env_kwargs(loaded.info, loaded.env_id, None, [])
    print(f"[demo] evaluating {loaded.model_path.name} on {episodes} held-out episodes")
    result = run_episodes(
        loaded.model, loaded.env_id, kwargs, episodes, DEFAULT_EVAL_SEED,
        vecnormalize=loaded.vecnormalize, video_episodes=(0, 1, 2),
    )  # fmt: skip
    out = run / "eval"
    write_csv(result.rows, out / "episodes.csv")
    (out / "summary.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
    video: Path | None = None
    try:
        video = write_video(result.frames, out / "episodes.gif", fps=result.fps)
    except ValueError as exc:  # an env without rgb_array rendering: evaluation still stands
        print(f"[demo] no video: {exc}")
    return result.summary, video


def _export(run: Path, out_dir: Path, episodes: int) -> tuple[Path | None, str]:
    try:
        from robot_rl.deploy.export import export_policy
        from robot_rl.deploy.verify import verify_bundle
    except ImportError as exc:
        return None, f"skipped (deploy package not available: {exc})"
    print(f"[demo] exporting to {out_dir}")
    bundle = export_policy(run, out_dir, reference_episodes=max(episodes, 1))
    report = verify_bundle(bundle, episodes=episodes)
    print(report.format())
    return bundle, "verified" if report.ok else "VERIFICATION FAILED"


def run(args: argparse.Namespace) -> int:
    """Train, evaluate, export, verify; returns 1 if verification fails."""
    from robot_rl.train.evaluate import format_summary

    if args.episodes < 1:
        raise InputError(f"--episodes must be >= 1, got {args.episodes}")
    run_path = _train(args)
    summary, video = _evaluate(run_path, args.episodes)
    export_dir = args.export_dir or Path("exports") / run_path.name
    bundle, verdict = _export(run_path, export_dir, args.verify_episodes)
    print("\n== robot-rl demo summary ==")
    print(format_summary(summary))
    print(f"run:    {run_path}")
    print(f"video:  {video if video is not None else '(none)'}")
    print(f"bundle: {bundle if bundle is not None else '(none)'} [{verdict}]")
    return 1 if verdict == "VERIFICATION FAILED" else 0
