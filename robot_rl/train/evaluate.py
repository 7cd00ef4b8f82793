"""Honest evaluation: deterministic policy on fresh seeded episodes, Wilson interval, CSV, video.

Episode ``i`` is reset with seed ``seed + i``; the default evaluation seeds (``2_000_000`` and up)
never coincide with the training seeds (``train.seed + env index``) nor with the seeds the best
model is selected on (``train.eval_seed`` = 1,000,000 and up), and navigation envs are
evaluated on their ``test`` split by default. Observations go through the run's saved
``VecNormalize`` statistics exactly as in training (``normalize_obs``, no update).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from robot_rl.errors import InputError
from robot_rl.train.sb3 import METRIC_PREFIX, FlattenMetrics, probe_metric_keys

#: First seed of reported evaluations (robot-rl evaluate, demo, bench train). Training selects its
#: best model on seeds from ``train.eval_seed`` (1,000,000) on; reported episodes start a million
#: seeds later so they are never the episodes the model was selected on (navigation also changes
#: split: selection on val, reports on test).
DEFAULT_EVAL_SEED = 2_000_000


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95% for the default ``z``).

    Returns ``(low, high)`` in [0, 1]; ``(0.0, 1.0)`` when ``n == 0``.
    """
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EvalResult:
    """Per-episode rows and the summary of one evaluation."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    frames: dict[int, list[np.ndarray]] = field(default_factory=dict)
    fps: float = 20.0


def accepts_kwarg(env_id: str, name: str) -> bool:
    """Whether the env's constructor takes keyword ``name`` (e.g. ``split``)."""
    from robot_rl.envs.make import constructor_parameters

    params = constructor_parameters(env_id)
    if params is None:
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def run_episodes(
    model: Any,
    env_id: str,
    env_kwargs: dict[str, Any],
    episodes: int,
    seed: int = DEFAULT_EVAL_SEED,
    vecnormalize: Any = None,
    deterministic: bool = True,
    video_episodes: tuple[int, ...] = (),
) -> EvalResult:
    """Roll out ``episodes`` episodes of ``model`` and summarize them.

    Args:
        model: An SB3 algorithm (anything with ``predict(obs, deterministic=...)``).
        env_id: Gymnasium id; ``env_kwargs`` its constructor arguments.
        episodes: Number of episodes (>= 1); episode ``i`` uses seed ``seed + i``.
        vecnormalize: ``VecNormalize`` whose statistics are applied to observations, or ``None``.
        deterministic: Use the deterministic action (mean / argmax).
        video_episodes: Indices of episodes whose ``rgb_array`` frames are kept.
    """
    if episodes < 1:
        raise InputError(f"episodes={episodes!r} is not accepted; expected an integer >= 1")
    from robot_rl.envs.make import make_env

    render = "rgb_array" if video_episodes else None
    env = make_env(env_id, render_mode=render, **env_kwargs) if render else make_env(env_id, **env_kwargs)
    keys = probe_metric_keys(env)
    env = FlattenMetrics(env, keys)
    rows: list[dict[str, Any]] = []
    frames: dict[int, list[np.ndarray]] = {}
    fps = float(env.unwrapped.metadata.get("render_fps") or 20)
    try:
        for i in range(episodes):
            keep = frames.setdefault(i, []) if i in video_episodes else None
            rows.append(
                _episode(model, env, seed + i, vecnormalize, deterministic, keys, keep) | {"episode": i}
            )
    finally:
        env.close()
    return EvalResult(rows=rows, summary=summarize(rows, keys), frames=frames, fps=fps)


#: Episodes per worker below which ``eval_workers: 0`` (auto) adds no further worker: starting one
#: costs a few seconds (imports, env build) once per run, sending the policy a little per evaluation.
EPISODES_PER_WORKER = 4


def eval_workers(requested: int, episodes: int) -> int:
    """Worker processes for ``requested``, never more than ``episodes``.

    0 (auto): one per CPU core, at most 4 and at most one per :data:`EPISODES_PER_WORKER` episodes.
    """
    import os

    if requested < 0:
        raise InputError(f"eval_workers={requested!r} is not accepted; expected 0 (auto) or an integer >= 1")
    count = requested or min(4, os.cpu_count() or 1, episodes // EPISODES_PER_WORKER)
    return max(1, min(count, episodes))


#: The worker's env and metric keys (set by :func:`_pool_init`, one env per worker process).
_WORKER: dict[str, Any] = {}


def _pool_init(env_id: str, env_kwargs: dict[str, Any]) -> None:
    import torch

    from robot_rl.envs.make import make_env

    torch.set_num_threads(1)  # one core per worker: the pool is the parallelism
    env = make_env(env_id, **env_kwargs)
    keys = probe_metric_keys(env)
    _WORKER.update(env=FlattenMetrics(env, keys), keys=keys)


def _pool_episodes(task: tuple[bytes, list[int], list[int], bool]) -> list[dict[str, Any]]:
    import pickle

    payload, indices, seeds, deterministic = task
    policy, vecnormalize = pickle.loads(payload)
    env, keys = _WORKER["env"], _WORKER["keys"]
    return [
        _episode(policy, env, seed, vecnormalize, deterministic, keys, None) | {"episode": i}
        for i, seed in zip(indices, seeds, strict=True)
    ]


class EvalPool:
    """Evaluation episodes spread over worker processes that live as long as the pool.

    Each worker builds the env once; every :meth:`run` sends the current policy (pickled SB3
    policy and ``VecNormalize`` statistics) and a share of the episodes, and the rows come back in
    episode order. Every episode is reset with its own seed and the envs start each episode from
    the same state whatever ran before (see the golden-rollout tests), so the rows are those of
    :func:`run_episodes` in one process, for any number of workers (a test checks it). Training
    waits while the pool evaluates, so the workers have the cores to themselves.

    Args:
        env_id, env_kwargs: The evaluation env.
        workers: Worker processes (>= 2; one process needs no pool: use :func:`run_episodes`).
    """

    def __init__(self, env_id: str, env_kwargs: dict[str, Any], workers: int) -> None:
        import multiprocessing

        if workers < 2:
            raise InputError(f"an EvalPool needs workers >= 2, got {workers!r}; use run_episodes for one")
        self.workers = workers
        # forkserver: no copy of the trainer's threads and torch state (SB3's SubprocVecEnv default)
        context = multiprocessing.get_context("forkserver")
        self._pool = context.Pool(workers, initializer=_pool_init, initargs=(env_id, dict(env_kwargs)))
        self._keys: tuple[str, ...] | None = None

    def run(
        self, model: Any, episodes: int, seed: int, vecnormalize: Any = None, deterministic: bool = True
    ) -> EvalResult:
        """``episodes`` episodes of ``model`` (an SB3 algorithm) from ``seed``: rows and summary."""
        import pickle

        if episodes < 1:
            raise InputError(f"episodes={episodes!r} is not accepted; expected an integer >= 1")
        # the SB3 policy predicts exactly as model.predict does for a deterministic evaluation
        policy = model.policy if hasattr(model, "policy") else model
        payload = pickle.dumps((policy, vecnormalize))
        shares = [list(range(k, episodes, self.workers)) for k in range(self.workers)]
        tasks = [(payload, share, [seed + i for i in share], deterministic) for share in shares if share]
        rows = sorted(
            (r for part in self._pool.map(_pool_episodes, tasks) for r in part), key=lambda r: r["episode"]
        )
        keys = tuple(k.removeprefix(METRIC_PREFIX) for k in rows[0] if k.startswith(METRIC_PREFIX))
        return EvalResult(rows=rows, summary=summarize(rows, keys))

    def close(self) -> None:
        """Stop the workers."""
        self._pool.close()
        self._pool.join()


def _episode(
    model: Any,
    env: gym.Env[Any, Any],
    seed: int,
    vecnormalize: Any,
    deterministic: bool,
    keys: tuple[str, ...],
    frames: list[np.ndarray] | None,
) -> dict[str, Any]:
    obs, info = env.reset(seed=seed)
    total, length, done = 0.0, 0, False
    if frames is not None:
        frames.append(np.asarray(env.render()))
    while not done:
        net_obs = vecnormalize.normalize_obs(obs) if vecnormalize is not None else obs
        action, _ = model.predict(net_obs, deterministic=deterministic)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        length += 1
        done = terminated or truncated
        if frames is not None:
            frames.append(np.asarray(env.render()))
    row: dict[str, Any] = {
        "seed": seed,
        "return": total,
        "length": length,
        "success": bool(info.get("is_success", False)),
        "terminated": bool(terminated),
    }
    # metric columns are prefixed: a task metric named "success" must not replace the final is_success
    row.update({METRIC_PREFIX + k: float(info.get(METRIC_PREFIX + k, np.nan)) for k in keys})
    return row


#: Episode "metrics" that identify the episode rather than measure it: kept in the per-episode rows,
#: never averaged (a "mean layout seed" means nothing).
IDENTIFIER_METRICS = frozenset({"layout_seed"})


def summarize(rows: list[dict[str, Any]], metric_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Success rate with its 95% Wilson interval, return/length statistics, metric means.

    A metric's mean is over the episodes where it is a finite number: ``time_to_goal`` (NaN on
    failure) is therefore averaged over successful episodes only, and is ``NaN`` (``null`` in the
    JSON files) when no episode succeeded. Identifiers (:data:`IDENTIFIER_METRICS`) are skipped.
    """
    n = len(rows)
    successes = sum(1 for r in rows if r["success"])
    low, high = wilson_interval(successes, n)
    returns = np.array([r["return"] for r in rows], dtype=np.float64)
    lengths = np.array([r["length"] for r in rows], dtype=np.float64)
    summary: dict[str, Any] = {
        "success_rate": successes / n if n else 0.0,
        "success_ci95": [low, high],
        "episodes": n,
        "return_mean": float(returns.mean()) if n else 0.0,
        "return_std": float(returns.std()) if n else 0.0,
        "length_mean": float(lengths.mean()) if n else 0.0,
    }
    metrics: dict[str, float] = {}
    for key in metric_keys:
        if key in IDENTIFIER_METRICS:
            continue
        vals = np.array([r[METRIC_PREFIX + key] for r in rows], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        metrics[key] = float(vals.mean()) if vals.size else float("nan")
    summary["metrics"] = metrics
    return summary


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Per-episode rows as CSV (header from the first row)."""
    if not rows:
        raise InputError("no episodes to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_video(frames: dict[int, list[np.ndarray]], path: Path, fps: float) -> Path:
    """Concatenate the kept episodes' frames into a GIF (or MP4 if imageio-ffmpeg is installed).

    Raises:
        ValueError: Unsupported suffix, no frames, or MP4 without an ffmpeg backend.
    """
    import imageio.v2 as imageio

    if path.suffix.lower() not in (".gif", ".mp4"):
        raise InputError(f"video path {path} must end in .gif or .mp4")
    all_frames = [f for i in sorted(frames) for f in frames[i]]
    if not all_frames:
        raise InputError("no frames were recorded (does the env support render_mode='rgb_array'?)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".mp4":
        try:
            imageio.mimwrite(str(path), all_frames, fps=fps, macro_block_size=1)  # type: ignore[arg-type]
        except (ImportError, ValueError, RuntimeError) as exc:
            raise InputError(f"cannot write MP4 ({exc}); install imageio-ffmpeg or use a .gif path") from exc
    else:
        imageio.mimwrite(str(path), all_frames, duration=1000.0 / fps, loop=0)  # type: ignore[arg-type]
    return path


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable lines for the terminal."""
    low, high = summary["success_ci95"]
    lines = [
        f"success rate  {summary['success_rate']:.3f}  (95% Wilson CI {low:.3f}-{high:.3f}, "
        f"{summary['episodes']} episodes)",
        f"return        {summary['return_mean']:.3f} +- {summary['return_std']:.3f}",
        f"length        {summary['length_mean']:.1f} steps",
    ]
    lines += [f"{k:<13} {v:.4g}" for k, v in summary.get("metrics", {}).items()]
    return "\n".join(lines)


def eval_env_kwargs(
    run_info: dict[str, Any], env_id: str, split: str | None, sets: list[str]
) -> dict[str, Any]:
    """Env kwargs for evaluation: the run's eval kwargs, the split (``test`` by default) and overrides.

    ``sets`` are ``--set-env KEY=VALUE`` strings, parsed like every override
    (:func:`robot_rl.configfile.apply_overrides`: ``1e-4`` is a number, ``null`` is None).
    """
    from robot_rl.configfile import apply_overrides

    kwargs = dict(run_info.get("eval_env_kwargs", run_info.get("env_kwargs", {})))
    if split is not None:
        if not accepts_kwarg(env_id, "split"):
            raise InputError(f"--split given but {env_id} has no 'split' argument")
        kwargs["split"] = split
    elif accepts_kwarg(env_id, "split"):
        kwargs["split"] = "test"
    return apply_overrides(kwargs, sets, flag="--set-env")
