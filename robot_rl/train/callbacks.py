"""Training callbacks: atomic checkpoints, success-based evaluation, progress reporting.

Checkpoints are directories ``checkpoints/step_<N>/`` holding ``model.zip`` (weights, optimizer
state, timestep counter), ``vecnormalize.pkl``, ``replay_buffer.pkl`` (off-policy) and
``state.json`` (wall time, best evaluation so far). Each is written into a hidden temporary
directory and renamed into place (an atomic ``rename``), then ``checkpoints/latest.json`` is
replaced atomically; a SIGKILL at any instant leaves the previous checkpoint intact.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from robot_rl import runs as rd
from robot_rl.jsonio import dumps_strict
from robot_rl.train.evaluate import EvalPool, run_episodes

LATEST = "latest.json"


@dataclass
class TrainState:
    """What the callbacks carry across a resume (stored in each checkpoint's ``state.json``).

    Attributes:
        wall_time_s: Training wall time (s) accumulated before this process started.
        best_success: Best evaluation success rate so far (-1 before the first evaluation).
        best_return: Mean return of that evaluation (tie-breaker).
        solved_step: Env steps at the first evaluation reaching the threshold (-1 if never).
        solved_wall_s: Wall time (s) at that evaluation (-1 if never).
    """

    wall_time_s: float = 0.0
    best_success: float = -1.0
    best_return: float = float("-inf")
    solved_step: int = -1
    solved_wall_s: float = -1.0


class Clock:
    """Training wall time in seconds, continuing across resumes."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s
        self.start = time.monotonic()

    def __call__(self) -> float:
        return self.offset_s + time.monotonic() - self.start


def _atomic_save_zip(model: Any, path: Path) -> None:
    tmp = path.with_name(f".tmp_{path.name}")
    model.save(str(tmp))
    os.replace(tmp, path)


def _atomic_save_vecnorm(vecnorm: Any, path: Path) -> None:
    tmp = path.with_name(f".tmp_{path.name}")
    vecnorm.save(str(tmp))
    os.replace(tmp, path)


def save_final(model: Any, run: Path, prefix: str = "") -> None:
    """Write ``{prefix}model.zip`` and matching ``{prefix}vecnormalize.pkl`` atomically."""
    _atomic_save_zip(model, run / f"{prefix}model.zip")
    vecnorm = model.get_vec_normalize_env()
    if vecnorm is not None:
        _atomic_save_vecnorm(vecnorm, run / f"{prefix}{rd.VECNORM}")


def save_checkpoint(model: Any, ckpt_dir: Path, state: TrainState, keep: int) -> Path:
    """Write one complete checkpoint atomically and prune all but the newest ``keep``."""
    step = int(model.num_timesteps)
    final = ckpt_dir / f"step_{step:010d}"
    tmp = ckpt_dir / f".tmp_step_{step:010d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(str(tmp / "model.zip"))
    vecnorm = model.get_vec_normalize_env()
    if vecnorm is not None:
        vecnorm.save(str(tmp / rd.VECNORM))
    if isinstance(model, OffPolicyAlgorithm):
        model.save_replay_buffer(str(tmp / "replay_buffer.pkl"))
    (tmp / "state.json").write_text(dumps_strict(asdict(state) | {"num_timesteps": step}))
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    rd.write_json(ckpt_dir / LATEST, {"checkpoint": final.name, "num_timesteps": step})
    for old in sorted(ckpt_dir.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest complete checkpoint directory, or ``None``."""
    pointer = ckpt_dir / LATEST
    if pointer.is_file():
        try:
            path = ckpt_dir / json.loads(pointer.read_text())["checkpoint"]
            if (path / "state.json").is_file():
                return path
        except (json.JSONDecodeError, KeyError):
            pass
    done = [p for p in sorted(ckpt_dir.glob("step_*")) if (p / "state.json").is_file()]
    return done[-1] if done else None


def load_state(ckpt: Path) -> TrainState:
    """The :class:`TrainState` saved in a checkpoint."""
    data = json.loads((ckpt / "state.json").read_text())
    data.pop("num_timesteps", None)
    if data.get("best_return") is None:  # strict JSON wrote -inf (no evaluation yet) as null
        data["best_return"] = float("-inf")
    return TrainState(**data)


class CheckpointCallback(BaseCallback):
    """Save a checkpoint every ``freq`` env steps (by the global timestep counter)."""

    def __init__(self, ckpt_dir: Path, freq: int, keep: int, state: TrainState, clock: Clock) -> None:
        super().__init__()
        self.ckpt_dir, self.freq, self.keep, self.state, self.clock = ckpt_dir, freq, keep, state, clock
        self.next_at = -1

        self.seconds = 0.0  # wall time spent writing checkpoints

    def _on_training_start(self) -> None:
        self.next_at = (self.num_timesteps // self.freq + 1) * self.freq

    def save_now(self) -> Path:
        """Write a checkpoint of the current model now (also used on Ctrl-C)."""
        t0 = time.monotonic()
        self.state.wall_time_s = self.clock()
        try:
            return save_checkpoint(self.model, self.ckpt_dir, self.state, self.keep)
        finally:
            self.seconds += time.monotonic() - t0

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_at:
            self.save_now()
            self.next_at = (self.num_timesteps // self.freq + 1) * self.freq
        return True


def is_solved(summary: dict[str, Any], threshold: float, metric_thresholds: dict[str, float]) -> bool:
    """Success rate and every metric threshold reached (a missing metric counts as not reached)."""
    metrics = summary["metrics"]
    ok = all(metrics.get(k, float("nan")) >= v for k, v in metric_thresholds.items())
    return bool(summary["success_rate"] >= threshold and ok)


class SuccessEvalCallback(BaseCallback):
    """Evaluate on held-out seeded episodes; keep the best model by success rate (then return).

    Appends a row per evaluation to ``logs/evaluations.csv`` (env steps, wall time, success
    rate with Wilson interval, return, length, task metrics) and rewrites ``eval.json``.
    With ``stop_on_success`` training stops at the first evaluation reaching ``threshold``.
    """

    def __init__(
        self,
        run: Path,
        env_id: str,
        env_kwargs: dict[str, Any],
        freq: int,
        episodes: int,
        seed: int,
        threshold: float,
        stop_on_success: bool,
        state: TrainState,
        clock: Clock,
        metric_thresholds: dict[str, float] | None = None,
        workers: int = 1,
    ) -> None:
        super().__init__()
        self.run, self.env_id, self.env_kwargs = run, env_id, env_kwargs
        self.workers = workers
        self._pool: EvalPool | None = None
        self.freq, self.episodes, self.seed = freq, episodes, seed
        self.threshold, self.stop_on_success = threshold, stop_on_success
        self.state, self.clock = state, clock
        self.metric_thresholds = dict(metric_thresholds or {})
        self.next_at = -1
        self.last: dict[str, Any] | None = None
        self.seconds = 0.0  # wall time spent evaluating (excluded from the rollout figure)
        #: called with each evaluation summary once it is logged and the best model saved
        #: (a sweep trial reports it to Ray Tune here)
        self.after_eval: Callable[[dict[str, Any]], None] | None = None

    def _on_training_start(self) -> None:
        self.next_at = (self.num_timesteps // self.freq + 1) * self.freq

    def _on_step(self) -> bool:
        if self.num_timesteps < self.next_at:
            return True
        self.next_at = (self.num_timesteps // self.freq + 1) * self.freq
        summary = self.evaluate()
        return not (self.stop_on_success and self.solved(summary))

    def solved(self, summary: dict[str, Any]) -> bool:
        """Success rate and every metric threshold reached (:func:`is_solved`)."""
        return is_solved(summary, self.threshold, self.metric_thresholds)

    def evaluate(self) -> dict[str, Any]:
        """Run one evaluation now, log it, save the best model; returns the summary."""
        t0 = time.monotonic()
        try:
            summary = self._evaluate()
        finally:
            self.seconds += time.monotonic() - t0
        if self.after_eval is not None:
            self.after_eval(summary)
        return summary

    def _evaluate(self) -> dict[str, Any]:
        vecnorm = self.model.get_vec_normalize_env()
        if self.workers > 1:
            if self._pool is None:  # started at the first evaluation, kept until close()
                self._pool = EvalPool(self.env_id, self.env_kwargs, self.workers)
            result = self._pool.run(self.model, self.episodes, self.seed, vecnormalize=vecnorm)
        else:
            result = run_episodes(
                self.model, self.env_id, self.env_kwargs, self.episodes, self.seed, vecnormalize=vecnorm
            )
        s = result.summary
        wall = self.clock()
        summary = {**s, "num_timesteps": int(self.num_timesteps), "wall_time_s": wall}
        self.last = summary
        rd.write_json(self.run / rd.EVAL_JSON, summary)
        self._append_csv(summary)
        for key in ("success_rate", "return_mean", "length_mean"):
            self.logger.record(f"eval/{key}", s[key])
        for key, value in s["metrics"].items():
            self.logger.record(f"eval/{key}", value)
        st = self.state
        if (s["success_rate"], s["return_mean"]) > (st.best_success, st.best_return):
            st.best_success, st.best_return = s["success_rate"], s["return_mean"]
            save_final(self.model, self.run, prefix="best_")
        if st.solved_step < 0 and self.solved(summary):
            st.solved_step, st.solved_wall_s = int(self.num_timesteps), wall
        return summary

    def close(self) -> None:
        """Stop the evaluation workers (if any were started)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _append_csv(self, summary: dict[str, Any]) -> None:
        path = self.run / rd.LOGS / "evaluations.csv"
        row = {
            "num_timesteps": summary["num_timesteps"],
            "wall_time_s": round(summary["wall_time_s"], 3),
            "success_rate": summary["success_rate"],
            "success_ci_low": summary["success_ci95"][0],
            "success_ci_high": summary["success_ci95"][1],
            "return_mean": summary["return_mean"],
            "return_std": summary["return_std"],
            "length_mean": summary["length_mean"],
            **{f"metric_{k}": v for k, v in summary["metrics"].items()},
        }
        new = not path.is_file()
        with path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)


class ProgressCallback(BaseCallback):
    """tqdm bar (steps/s, ETA) on a terminal; plain log lines every ``interval_s`` otherwise."""

    def __init__(
        self,
        total: int,
        interval_s: float,
        evaluator: SuccessEvalCallback | None,
        clock: Clock | None = None,
        max_wall_time_s: float = 0.0,
    ) -> None:
        super().__init__()
        self.total, self.interval_s, self.evaluator = total, interval_s, evaluator
        self.clock, self.max_wall_time_s = clock, max_wall_time_s
        self.stopped_by_time = False
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.t0 = self.last_t = 0.0
        self.start_steps = 0

    def _on_training_start(self) -> None:
        self.t0 = self.last_t = time.monotonic()
        self.start_steps = self.num_timesteps
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self.num_timesteps, unit="step", dynamic_ncols=True)

    def _suffix(self) -> str:
        last = self.evaluator.last if self.evaluator is not None else None
        return "" if last is None else f"eval success {last['success_rate']:.2f}"

    def _on_step(self) -> bool:
        if self.max_wall_time_s > 0 and self.clock is not None and self.clock() > self.max_wall_time_s:
            self.stopped_by_time = True
            return False
        if self.bar is not None:
            self.bar.n = self.num_timesteps
            now = time.monotonic()
            if now - self.last_t > 0.5:
                self.bar.set_postfix_str(self._suffix(), refresh=False)
                self.bar.refresh()
                self.last_t = now
            return True
        now = time.monotonic()
        if now - self.last_t >= self.interval_s:
            self.last_t = now
            print(self.line(now), flush=True)
        return True

    def line(self, now: float) -> str:
        """One plain progress line: steps, percentage, steps/s, ETA, last evaluation."""
        done = self.num_timesteps - self.start_steps
        rate = done / max(now - self.t0, 1e-9)
        eta = (self.total - self.num_timesteps) / rate if rate > 0 else float("inf")
        pct = 100.0 * self.num_timesteps / self.total
        return (
            f"[train] {self.num_timesteps}/{self.total} steps ({pct:.0f}%) {rate:.0f} steps/s "
            f"ETA {eta:.0f} s {self._suffix()}".rstrip()
        )

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.n = self.num_timesteps
            self.bar.close()


class TimingCallback(BaseCallback):
    """Where the wall time goes: rollout collection (env steps + action inference) vs. gradient
    updates (``train()`` between rollouts, or inside the env steps with ``collect_while_training``:
    the env time hidden behind them then counts as gradient time), excluding evaluation and
    checkpoint time."""

    def __init__(self, excluded: list[Any]) -> None:
        super().__init__()
        self.excluded = excluded  # callbacks with a ``seconds`` attribute
        self.rollout_s = self.train_s = 0.0
        self._t = 0.0
        self._excl = 0.0
        self._in_rollout = False

    def _spent_elsewhere(self) -> float:
        return sum(float(c.seconds) for c in self.excluded)

    def _on_rollout_start(self) -> None:
        now = time.monotonic()
        if self._t:
            self.train_s += now - self._t - (self._spent_elsewhere() - self._excl)
        self._t, self._excl = now, self._spent_elsewhere()

    def _on_training_end(self) -> None:
        self._on_rollout_start()  # the last gradient phase

    def _on_rollout_end(self) -> None:
        now = time.monotonic()
        self.rollout_s += now - self._t - (self._spent_elsewhere() - self._excl)
        self._t, self._excl = now, self._spent_elsewhere()

    def _on_step(self) -> bool:
        return True

    def figures(self) -> dict[str, float]:
        """Seconds in rollouts, in gradient updates (and the gradient share), in evaluations + checkpoints."""
        rollout_s, train_s = self.rollout_s, self.train_s
        # collect_while_training: the gradient steps ran inside the env steps (robot_rl.train.overlap)
        overlapped = float(getattr(getattr(self, "model", None), "overlapped_train_s", 0.0))
        rollout_s, train_s = rollout_s - overlapped, train_s + overlapped
        total = rollout_s + train_s
        return {
            "rollout_s": round(rollout_s, 3),
            "gradient_s": round(train_s, 3),
            "gradient_fraction": round(train_s / total, 4) if total > 0 else 0.0,
            "eval_and_checkpoint_s": round(self._spent_elsewhere(), 3),
        }
