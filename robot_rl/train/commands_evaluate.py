"""``robot-rl evaluate RUN_DIR_OR_MODEL [--episodes N] [--split test] [--seed S] [--video PATH] ...``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from robot_rl.train.evaluate import DEFAULT_EVAL_SEED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl evaluate``."""
    parser.add_argument("source", type=Path, help="run directory or model .zip (with run.json next to it)")
    parser.add_argument("--episodes", type=int, default=100, help="episodes (default 100)")
    parser.add_argument(
        "--split", help="env split for envs that have one (navigation: train/val/test; default test)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_EVAL_SEED,
        help=f"first episode seed (default {DEFAULT_EVAL_SEED})",
    )
    parser.add_argument("--which", choices=["best", "final"], default="best", help="model of a run dir")
    parser.add_argument("--stochastic", action="store_true", help="sample actions instead of the mean/argmax")
    parser.add_argument(
        "--set-env",
        dest="env_sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an env kwarg (value parsed as YAML), e.g. --set-env object_set=random_test",
    )
    parser.add_argument(
        "--video", type=Path, help="write a .gif (or .mp4 with imageio-ffmpeg) of chosen episodes"
    )
    parser.add_argument(
        "--video-episodes", default="0,1", help="comma-separated episode indices (default 0,1)"
    )
    parser.add_argument("--csv", type=Path, help="per-episode rows (default RUN_DIR/eval/episodes.csv)")
    parser.add_argument("--json", type=Path, help="summary JSON (default RUN_DIR/eval/summary.json)")


def eval_env_kwargs(
    run_info: dict[str, Any], env_id: str, split: str | None, sets: list[str]
) -> dict[str, Any]:
    """Env kwargs for evaluation: the run's eval kwargs, the split (``test`` by default) and overrides."""
    import yaml

    from robot_rl.train.evaluate import accepts_kwarg

    kwargs = dict(run_info.get("eval_env_kwargs", run_info.get("env_kwargs", {})))
    if split is not None:
        if not accepts_kwarg(env_id, "split"):
            raise ValueError(f"--split given but {env_id} has no 'split' argument")
        kwargs["split"] = split
    elif accepts_kwarg(env_id, "split"):
        kwargs["split"] = "test"
    for item in sets:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set-env expects KEY=VALUE, got {item!r}")
        kwargs[key] = yaml.safe_load(text)
    return kwargs


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the summary, write CSV/JSON (and a video)."""
    from robot_rl.runs import load_run
    from robot_rl.train.evaluate import format_summary, run_episodes, write_csv, write_video

    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    try:
        chosen = tuple(int(x) for x in args.video_episodes.split(",") if x.strip()) if args.video else ()
    except ValueError as exc:
        raise ValueError(
            f"--video-episodes must be comma-separated integers, got {args.video_episodes!r}"
        ) from exc
    loaded = load_run(args.source, which=args.which)
    kwargs = eval_env_kwargs(loaded.info, loaded.env_id, args.split, args.env_sets)
    result = run_episodes(
        loaded.model, loaded.env_id, kwargs, args.episodes, args.seed,
        vecnormalize=loaded.vecnormalize, deterministic=not args.stochastic,
        video_episodes=tuple(i for i in chosen if i < args.episodes),
    )  # fmt: skip
    summary = {
        **result.summary,
        "env_id": loaded.env_id,
        "env_kwargs": kwargs,
        "model": str(loaded.model_path),
        "num_timesteps": loaded.num_timesteps,
        "seed": args.seed,
        "deterministic": not args.stochastic,
    }
    out_dir = loaded.run_dir / "eval"
    csv_path = args.csv or out_dir / "episodes.csv"
    json_path = args.json or out_dir / "summary.json"
    write_csv(result.rows, csv_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{loaded.env_id} {kwargs} | {loaded.model_path} ({loaded.num_timesteps} steps)")
    print(format_summary(result.summary))
    print(f"episodes: {csv_path}\nsummary:  {json_path}")
    if args.video:
        print(f"video:    {write_video(result.frames, args.video, fps=result.fps)}")
    return 0
