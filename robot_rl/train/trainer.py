"""Train (or resume) one run: validate, lay out the run directory, learn, checkpoint, finalize.

Order matters: the config, env id/kwargs and learner kwargs are all checked *before* anything
is written, so a bad config leaves no half-made run directory behind.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from robot_rl import runs as rd
from robot_rl.configfile import apply_overrides, read_yaml_mapping
from robot_rl.errors import InputError, MissingInputError
from robot_rl.train.callbacks import (
    CheckpointCallback,
    Clock,
    ProgressCallback,
    SuccessEvalCallback,
    TimingCallback,
    TrainState,
    is_solved,
    latest_checkpoint,
    load_state,
    save_final,
)
from robot_rl.train.config import Config, config_from_dict, dump_config
from robot_rl.train.critic_freeze import skip_critic_weight_grads
from robot_rl.train.dagger import DAGGER_DIR
from robot_rl.train.evaluate import eval_workers
from robot_rl.train.overlap import OverlapVecEnv, attach, flush, overlapped_class
from robot_rl.train.sb3 import (
    algo_class,
    algo_kwargs,
    is_goal_space,
    make_model,
    make_vec_env,
    wrap_normalize,
)


@dataclass
class TrainOutcome:
    """What a finished (or interrupted) training returns."""

    run_dir: Path
    status: str
    num_timesteps: int
    wall_time_s: float
    eval: dict[str, Any] | None
    timing: dict[str, float]


def check_env(cfg: Config) -> tuple[Any, Any]:
    """Make the env once (train and eval kwargs) to validate id and kwargs; return its spaces."""
    import robot_rl  # noqa: F401

    for kwargs in (cfg.env.kwargs, {**cfg.env.kwargs, **cfg.env.eval_kwargs}):
        try:
            env = gym.make(cfg.env.id, **kwargs)
        except gym.error.Error as exc:
            raise InputError(f"env.id={cfg.env.id!r}: {exc}") from exc
        except TypeError as exc:
            raise InputError(f"env.kwargs {kwargs} rejected by {cfg.env.id}: {exc}") from exc
        spaces = env.observation_space, env.action_space
        episode_steps = getattr(env.unwrapped, "max_episode_steps", None) or (
            env.spec and env.spec.max_episode_steps
        )
        env.close()
    starts = int(cfg.algo.kwargs.get("learning_starts", 100))
    if cfg.algo.her.enabled and episode_steps and starts < cfg.env.n_envs * episode_steps:
        raise InputError(
            f"algo.kwargs.learning_starts={starts} is too small for HER: it must be >= n_envs x episode "
            f"length = {cfg.env.n_envs} x {episode_steps} so that the first episodes are complete"
        )
    return spaces


def prepare_run_dir(run: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to clobber an existing run unless ``resume`` or ``overwrite``."""
    if resume:
        if not (run / rd.RUN_JSON).is_file():
            raise MissingInputError(f"cannot resume: {run / rd.RUN_JSON} not found")
        return
    if run.exists() and any(run.iterdir()):
        if not overwrite:
            raise InputError(
                f"run directory {run} already exists; pass --resume to continue it, "
                f"--overwrite to replace it, or choose another --run-dir"
            )
        shutil.rmtree(run)


def resume_config(run: Path, overrides: list[str]) -> Config:
    """The resolved config saved in a run, with ``--set`` overrides (e.g. a longer budget)."""
    raw = read_yaml_mapping(run / "config.yaml", "resolved config of the run", f"is {run} a run directory?")
    return config_from_dict(apply_overrides(raw, overrides))


def _write_run_json(run: Path, cfg: Config, status: str, extra: dict[str, Any]) -> None:
    data = {
        "schema": rd.SCHEMA,
        "name": cfg.name,
        "env_id": cfg.env.id,
        "env_kwargs": cfg.env.kwargs,
        "eval_env_kwargs": {**cfg.env.kwargs, **cfg.env.eval_kwargs},
        "algo": cfg.algo.name,
        "seed": cfg.train.seed,
        "num_timesteps": 0,
        "total_timesteps": cfg.train.total_timesteps,
        "status": status,
        "normalize": cfg.env.normalize.enabled,
        "goal_env": False,
        "selection": selection_episodes(cfg),
        **extra,
    }
    rd.write_json(run / rd.RUN_JSON, data)


def selection_episodes(cfg: Config) -> dict[str, Any]:
    """The episodes a run's model is selected on (best model, early stop, DAgger's best student).

    Episode ``i`` of a selection evaluation uses seed ``seed + i`` with ``env_kwargs``; reported
    results must use other episodes (``robot-rl evaluate`` refuses these unless asked explicitly).
    """
    counts = [cfg.train.eval_episodes if cfg.train.eval_freq > 0 else 0]
    if cfg.distill.enabled:
        counts.append(cfg.distill.eval_episodes)
    return {
        "seed": cfg.train.eval_seed,
        "episodes": max(counts),
        "env_kwargs": {**cfg.env.kwargs, **cfg.env.eval_kwargs},
    }


def train(
    cfg: Config,
    run: Path,
    command: str,
    resume: bool = False,
    overwrite: bool = False,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> TrainOutcome:
    """Train ``cfg`` into ``run`` (or continue it from its last checkpoint with ``resume``).

    ``on_eval`` is called with each evaluation summary (``success_rate``, ``metrics``,
    ``num_timesteps``, ...) right after a checkpoint of the evaluated model is written, so that
    whoever it reports to (a sweep's Ray Tune) can stop the run there or restart it from that point.

    Raises:
        ValueError: Bad config/env kwargs, or an existing run dir without resume/overwrite.
        FileNotFoundError: ``resume`` without a run or checkpoint to resume.
    """
    import torch

    obs_space, act_space = check_env(cfg)
    algo_kwargs(cfg, act_space)  # validates algo.kwargs before anything is written
    algo_class(cfg.algo.name)
    prepare_run_dir(run, resume, overwrite)
    ckpt = latest_checkpoint(run / rd.CHECKPOINTS) if resume else None
    distilling = (run / DAGGER_DIR / "state.json").is_file()
    if resume and ckpt is None and not (run / rd.MODEL).is_file() and not distilling:
        raise MissingInputError(f"cannot resume: no checkpoint in {run / rd.CHECKPOINTS}")
    if cfg.train.torch_threads > 0:
        torch.set_num_threads(cfg.train.torch_threads)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.yaml").write_text(dump_config(cfg))
    with (run / "command.txt").open("a" if resume else "w") as fh:
        fh.write(command + "\n")
    rd.write_json(run / "versions.json", rd.versions())
    state = load_state(ckpt) if ckpt is not None else TrainState()
    base = {"goal_env": is_goal_space(obs_space)}
    _write_run_json(run, cfg, "running", base)
    clock = Clock(state.wall_time_s)  # started before env creation and demonstrations: all counted
    model, start = _build_model(cfg, run, ckpt)
    if cfg.distill.enabled and not _distilled(cfg, run):
        try:
            _distill(cfg, run, model, state, clock)
        except KeyboardInterrupt:  # the last finished iteration is checkpointed in run/dagger
            print("\ninterrupted during DAgger: robot-rl train --resume continues it", flush=True)
            extra = {**base, "num_timesteps": int(model.num_timesteps), "wall_time_s": round(clock(), 3)}
            _write_run_json(run, cfg, "interrupted", extra)
            _close(model, interrupted=True)
            return TrainOutcome(run, "interrupted", int(model.num_timesteps), clock(), None, {})
        except Exception as exc:
            _mark_failed(run, cfg, model, {**base, "resumed_from": start}, exc)
            raise
    solved_by_dagger = (
        cfg.distill.enabled
        and cfg.train.stop_on_success
        and _dagger_state(run).get("stopped_on_success", False)
    )
    return _learn(cfg, run, model, state, base, start, clock, on_eval, learn=not solved_by_dagger)


def _dagger_state(run: Path) -> dict[str, Any]:
    path = run / DAGGER_DIR / "state.json"
    return rd.read_json(path) if path.is_file() else {}


def _distilled(cfg: Config, run: Path) -> bool:
    """Whether the run's DAgger stage is over: all ``distill.iterations`` done (more may be asked
    on resume), or stopped on success."""
    st = _dagger_state(run)
    return bool(st.get("stopped_on_success")) or int(st.get("iteration", 0)) >= cfg.distill.iterations


def _distill(cfg: Config, run: Path, model: Any, state: TrainState, clock: Clock) -> None:
    """DAgger before the learner's own training (resumes from ``run/dagger``); see :mod:`.dagger`."""
    from robot_rl.train.dagger import run_dagger
    from robot_rl.train.evaluate import run_episodes

    eval_kwargs = {**cfg.env.kwargs, **cfg.env.eval_kwargs}

    t = cfg.train

    def solved(summary: dict[str, Any]) -> bool:
        return is_solved(summary, t.success_threshold, t.metric_thresholds)

    def evaluate(student: Any) -> dict[str, Any]:
        result = run_episodes(student, cfg.env.id, eval_kwargs, cfg.distill.eval_episodes, t.eval_seed)
        rd.write_json(run / rd.EVAL_JSON, {**result.summary, "num_timesteps": int(student.num_timesteps)})
        if state.solved_step < 0 and solved(result.summary):  # time to threshold, on the run's clock
            state.solved_step, state.solved_wall_s = int(student.num_timesteps), round(clock(), 3)
        return result.summary

    t0 = time.monotonic()
    stats = run_dagger(
        cfg, model, run, evaluate, log=lambda line: print(line, flush=True),
        stop=lambda summary: t.stop_on_success and solved(summary),
    )  # fmt: skip
    best = max((row["eval_success"] for row in stats["history"]), default=-1.0)
    state.best_success = max(state.best_success, best)  # the RL stage must beat the student to replace it
    model.robot_rl_distill = {
        **stats["timing"],
        "iterations": stats["iterations"],
        "samples": stats["samples"],
        "history": stats["history"],
        "stopped_on_success": stats["stopped_on_success"],
    }
    model.robot_rl_warm_start_s = time.monotonic() - t0
    print(f"[train] DAgger done in {clock():.0f} s: {stats['iterations']} iterations", flush=True)


def _build_model(cfg: Config, run: Path, ckpt: Path | None) -> tuple[Any, int]:
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    start = 0
    if ckpt is not None:
        start = int(load_state_steps(ckpt))
    logs = run / rd.LOGS
    venv = make_vec_env(
        cfg.env.id, cfg.env.kwargs, cfg.env.n_envs, cfg.train.seed + start, cfg.env.vec_env,
        monitor_dir=logs / "monitor" / f"from_{start:010d}",
    )  # fmt: skip
    vn_path = ckpt / rd.VECNORM if ckpt is not None and (ckpt / rd.VECNORM).is_file() else None
    venv = wrap_normalize(venv, cfg, load_path=vn_path)
    overlap = cfg.train.collect_while_training
    if overlap:
        venv = OverlapVecEnv(venv)
    if ckpt is None and (run / DAGGER_DIR / "model.zip").is_file():  # resuming an interrupted DAgger
        model = rd.load_model(
            algo_class(cfg.algo.name), run / DAGGER_DIR / "model.zip", env=venv, device=cfg.train.device
        )
    elif ckpt is None:
        model = make_model(cfg, venv)
        if cfg.train.warm_start:
            t0 = time.monotonic()
            _warm_start(cfg, model)
            model.robot_rl_warm_start_s = time.monotonic() - t0  # reported in run.json timing
    else:
        cls = algo_class(cfg.algo.name)
        model = rd.load_model(
            overlapped_class(cls) if overlap else cls, ckpt / "model.zip", env=venv, device=cfg.train.device
        )
        if isinstance(model, OffPolicyAlgorithm) and (ckpt / "replay_buffer.pkl").is_file():
            model.load_replay_buffer(str(ckpt / "replay_buffer.pkl"))
    if overlap:
        attach(model)
    skip_critic_weight_grads(model)  # SAC/TQC: same weights, less work (robot_rl/train/critic_freeze.py)
    sub = logs if start == 0 else logs / f"resume_{start:010d}"
    model.set_logger(configure(str(sub), ["csv", "tensorboard"]))
    return model, start


def _warm_start(cfg: Config, model: Any) -> None:
    from robot_rl.train.demos import behaviour_clone, prefill_with_demos

    t = cfg.train
    assert t.demo_controller is not None  # warm_start checked it
    if cfg.algo.name == "ppo":
        stats = behaviour_clone(model, t.demo_controller, t.demo_episodes, t.bc_epochs)
        how = f"behaviour-cloned (final MSE {stats['bc_loss']:.4f})"
    else:
        stats = prefill_with_demos(model, t.demo_controller, t.demo_episodes)
        how = "in the replay buffer"
    print(
        f"[train] {stats['episodes']:.0f} demonstration episodes ({stats['steps']:.0f} env steps, "
        f"success {stats['success_rate']:.2f}) {how}",
        flush=True,
    )


def load_state_steps(ckpt: Path) -> int:
    """Timestep counter stored in a checkpoint's ``state.json``."""
    import json

    return int(json.loads((ckpt / "state.json").read_text())["num_timesteps"])


def _learn(
    cfg: Config,
    run: Path,
    model: Any,
    state: TrainState,
    base: dict[str, Any],
    start: int,
    clock: Clock,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
    learn: bool = True,
) -> TrainOutcome:
    """The learner's own training for the rest of the budget (``learn=False``: none, e.g. DAgger
    already reached the threshold under ``stop_on_success``), then the final bookkeeping."""
    t = cfg.train
    ckpt_cb = CheckpointCallback(run / rd.CHECKPOINTS, t.checkpoint_freq, t.keep_checkpoints, state, clock)
    eval_cb = None
    if t.eval_freq > 0:
        eval_kwargs = {**cfg.env.kwargs, **cfg.env.eval_kwargs}
        eval_cb = SuccessEvalCallback(
            run, cfg.env.id, eval_kwargs, t.eval_freq, t.eval_episodes, t.eval_seed,
            t.success_threshold, t.stop_on_success, state, clock, t.metric_thresholds,
            workers=eval_workers(t.eval_workers, t.eval_episodes),
        )  # fmt: skip
        if on_eval is not None:
            report = on_eval

            def _checkpoint_then_report(summary: dict[str, Any]) -> None:
                ckpt_cb.save_now()
                report(summary)

            eval_cb.after_eval = _checkpoint_then_report
    timing = TimingCallback([c for c in (ckpt_cb, eval_cb) if c is not None])
    progress = ProgressCallback(t.total_timesteps, t.log_interval_s, eval_cb, clock, t.max_wall_time_s)
    callbacks: list[Any] = [c for c in (ckpt_cb, eval_cb, progress, timing) if c is not None]
    status = "finished"
    remaining = t.total_timesteps - model.num_timesteps if learn else 0
    previous = _sigterm_as_interrupt()
    try:
        if remaining > 0:
            model.learn(remaining, callback=callbacks, reset_num_timesteps=False, progress_bar=False)
            flush(model)  # collect_while_training: the last scheduled gradient steps
        else:  # resumed with the budget already trained: no learn() sets the callbacks up
            for callback in callbacks:
                callback.init_callback(model)
                callback.num_timesteps = model.num_timesteps
        if (learn and eval_cb is not None) and (
            eval_cb.last is None or eval_cb.last["num_timesteps"] != model.num_timesteps
        ):
            eval_cb.evaluate()
    except KeyboardInterrupt:
        status = "interrupted"
        print(f"\ninterrupted at {model.num_timesteps} steps: saving a checkpoint", flush=True)
    except Exception as exc:
        _mark_failed(run, cfg, model, {**base, "resumed_from": start}, exc)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if eval_cb is not None:
            eval_cb.close()
    ckpt_cb.save_now()
    save_final(model, run)
    wall = clock()
    extra = {
        **base,
        "num_timesteps": int(model.num_timesteps),
        "wall_time_s": round(wall, 3),
        "best_success": state.best_success,
        "solved_step": state.solved_step,
        "solved_wall_s": state.solved_wall_s,
        "timing": {
            **timing.figures(),
            "warm_start_s": round(getattr(model, "robot_rl_warm_start_s", 0.0), 3),
            **({"distill": model.robot_rl_distill} if hasattr(model, "robot_rl_distill") else {}),
        },
        "stopped_by_time_limit": progress.stopped_by_time,
        "resumed_from": start,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_run_json(run, cfg, status, extra)
    _close(model, interrupted=status == "interrupted")
    return TrainOutcome(
        run, status, int(model.num_timesteps), wall, eval_cb.last if eval_cb else None, extra["timing"]
    )


def _mark_failed(run: Path, cfg: Config, model: Any, extra: dict[str, Any], exc: BaseException) -> None:
    """On any error inside training: ``run.json`` says ``failed`` (with the error) and the envs close.

    The checkpoints written so far stay, so ``robot-rl train --resume`` can continue after the
    cause is fixed; the exception then propagates with its traceback.
    """
    try:
        _write_run_json(run, cfg, "failed", {
            **extra,
            "num_timesteps": int(model.num_timesteps),
            "error": f"{type(exc).__name__}: {exc}",
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })  # fmt: skip
    finally:
        _close(model, interrupted=True)  # workers may be mid-message: terminate, do not wait


def _sigterm_as_interrupt() -> Any:
    """Treat SIGTERM (``kill``, job schedulers) like Ctrl-C: checkpoint and exit cleanly.

    Returns the previous handler, or ``None`` outside the main thread (handlers cannot be set there).
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, _raise)


def _close(model: Any, interrupted: bool = False) -> None:
    """Close the training envs.

    After Ctrl-C/SIGTERM, SB3's ``SubprocVecEnv.close()`` can block forever: the interrupt may
    have landed inside a pipe ``recv``, leaving half a message that ``close`` then waits to read
    (reproduced about 1 run in 10). The workers hold nothing worth saving (the checkpoint is
    written), so after an interrupt they are terminated instead of closed politely.
    """
    from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnvWrapper

    env = model.get_env()
    if env is None:
        return
    base = env
    while isinstance(base, VecEnvWrapper):
        base = base.venv
    if interrupted and isinstance(base, SubprocVecEnv):
        for process in base.processes:
            process.terminate()
        for process in base.processes:
            process.join(timeout=10)
        for remote in base.remotes:
            remote.close()
        base.closed = True
        return
    # workers may already be gone after Ctrl-C
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        env.close()
