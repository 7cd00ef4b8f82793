"""``robot-rl evaluate SOURCE [--episodes N] [--split test] [--seed S] [--video PATH] ...``.

SOURCE is a run directory or model ``.zip`` (the SB3 model, through the run's ``VecNormalize``
statistics), or an exported bundle: a directory holding ``manifest.json`` or a pretrained name
``zoo:NAME`` (:mod:`robot_rl.zoo`). A bundle is evaluated with its own ONNX policy through
:class:`~robot_rl.deploy.runtime.PolicyRunner`, what a robot runs (normalization and action
scaling are inside the graph), on the env the manifest names. Both go through the same
:func:`~robot_rl.train.evaluate.run_episodes`, so the figures mean the same thing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from robot_rl.benchmark.sources import is_bundle, load_source
from robot_rl.errors import InputError
from robot_rl.jsonio import dumps_strict
from robot_rl.train.evaluate import DEFAULT_EVAL_SEED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl evaluate``."""
    parser.add_argument(
        "source",
        help="run directory, model .zip (with run.json next to it), exported bundle directory, "
        "or a pretrained policy zoo:NAME (robot-rl zoo lists them); bundles run their ONNX policy",
    )
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
    parser.add_argument(
        "--which", choices=["best", "final"], default="best", help="model of a run dir (not for bundles)"
    )
    parser.add_argument(
        "--stochastic",
        action="store_true",
        help="sample actions instead of the mean/argmax (SB3 models only; a bundle is deterministic)",
    )
    parser.add_argument(
        "--on-selection-episodes",
        action="store_true",
        help="allow seeds that overlap the episodes the run's model was selected on (run.json "
        "'selection'); the result is then labelled as such, not as a held-out result",
    )
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
    parser.add_argument(
        "--csv",
        type=Path,
        help="per-episode rows (default RUN_DIR/eval/episodes.csv; bundles: ./runs/eval/NAME/episodes.csv)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="summary JSON (default RUN_DIR/eval/summary.json; bundles: ./runs/eval/NAME/summary.json)",
    )


def selection_overlap(
    selection: dict[str, Any] | None, kwargs: dict[str, Any], seed: int, episodes: int
) -> str | None:
    """A description of the overlap between these episodes and a run's selection episodes, or None.

    Episodes are the same when the env kwargs agree and the seed ranges intersect (navigation
    splits differ in their kwargs, so val-split selection never blocks a test-split evaluation).
    """
    if not selection or selection.get("episodes", 0) <= 0:
        return None
    lo, n = int(selection["seed"]), int(selection["episodes"])
    if selection.get("env_kwargs", {}) != kwargs or seed >= lo + n or seed + episodes <= lo:
        return None
    return f"seeds {lo}..{lo + n - 1} with {selection.get('env_kwargs')}"


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the summary, write CSV/JSON (and a video)."""
    from robot_rl.train.evaluate import eval_env_kwargs, format_summary, run_episodes, write_csv, write_video

    if args.episodes < 1:
        raise InputError(f"--episodes must be >= 1, got {args.episodes}")
    try:
        chosen = tuple(int(x) for x in args.video_episodes.split(",") if x.strip()) if args.video else ()
    except ValueError as exc:
        raise InputError(
            f"--video-episodes must be comma-separated integers, got {args.video_episodes!r}"
        ) from exc
    if args.stochastic and is_bundle(args.source):
        raise InputError(
            "--stochastic needs an SB3 model: a bundle holds the deterministic policy only "
            "(evaluate the run directory instead)"
        )
    src = load_source(args.source, which=args.which)
    kwargs = eval_env_kwargs(src.info, src.env_id, args.split, args.env_sets)
    overlap = selection_overlap(src.info.get("selection"), kwargs, args.seed, args.episodes)
    if overlap and not args.on_selection_episodes:
        raise InputError(
            f"seeds {args.seed}..{args.seed + args.episodes - 1} with {kwargs} overlap the episodes the "
            f"model was selected on ({overlap}); a held-out result needs other seeds (the default "
            f"{DEFAULT_EVAL_SEED} is disjoint), or pass --on-selection-episodes to measure them on purpose"
        )
    result = run_episodes(
        src.model, src.env_id, kwargs, args.episodes, args.seed,
        vecnormalize=src.vecnormalize, deterministic=not args.stochastic,
        video_episodes=tuple(i for i in chosen if i < args.episodes),
    )  # fmt: skip
    summary = {
        **result.summary,
        "env_id": src.env_id,
        "env_kwargs": kwargs,
        "model": src.label,
        "num_timesteps": src.num_timesteps,
        "seed": args.seed,
        "deterministic": not args.stochastic,
        "selection_episodes": bool(overlap),
        **src.extra,
    }
    csv_path = args.csv or src.out_dir / "episodes.csv"
    json_path = args.json or src.out_dir / "summary.json"
    write_csv(result.rows, csv_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(dumps_strict(summary, indent=2) + "\n")
    steps = f"{src.num_timesteps} steps" if src.num_timesteps is not None else "steps unknown"
    print(f"{src.env_id} {kwargs} | {src.label} ({steps})")
    if overlap:
        print("ON THE SELECTION EPISODES: this is not a held-out result")
    print(format_summary(result.summary))
    print(f"episodes: {csv_path}\nsummary:  {json_path}")
    if args.video:
        print(f"video:    {write_video(result.frames, args.video, fps=result.fps)}")
    return 0
