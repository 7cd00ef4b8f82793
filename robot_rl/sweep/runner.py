"""Run (or resume) a sweep on Ray Tune: local Ray with this machine's cores, or an existing cluster.

The sweep directory::

    SWEEP/
      sweep.yaml        the validated sweep, with the resolved base training config (resume reads it)
      command.txt       the sweep command lines (one per start or resume)
      trials/<id>/      one ordinary run directory per trial (evaluate, plot, export work on it)
      logs/<id>.log     what each trial's training printed
      tune/             Ray Tune's experiment state (what ``--resume`` restores)
      trials.csv, trials.md, summary.json, best.yaml, sweep.png   written at the end

Ray is imported only here and in :mod:`robot_rl.sweep.trial`; without it, ``robot-rl sweep``
says how to install it.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from robot_rl import runs as rd
from robot_rl.configfile import read_yaml_mapping
from robot_rl.errors import InputError, MissingInputError
from robot_rl.sweep.config import SweepConfig, sweep_from_dict
from robot_rl.sweep.trial import TRIAL_JSON, TRIALS, trial_params, write_trial_info

SWEEP_YAML = "sweep.yaml"
TUNE_DIR = "tune"
INSTALL_HINT = "robot-rl sweep needs Ray Tune and Optuna: pip install 'robot_rl[ray]'"


def require_ray() -> None:
    """Raise a clear error when the ``ray`` extra is not installed."""
    from robot_rl.ray_cluster import require_ray as require

    require(INSTALL_HINT, "optuna", "ray.tune")


@dataclass
class TrialRecord:
    """What Tune knows of one trial when the sweep ends."""

    trial_id: str
    status: str  # TERMINATED, ERROR, RUNNING, PENDING, PAUSED
    params: dict[str, Any]
    seed_index: int
    done: bool  # ran to its budget (not stopped by the scheduler or the time budget)
    failures: int
    error: str


@dataclass
class SweepOutcome:
    """A finished (or interrupted) sweep."""

    sweep_dir: Path
    cfg: SweepConfig
    complete: bool
    trials: list[TrialRecord]
    wall_time_s: float
    #: ``complete``; ``time_budget`` (time_budget_min spent: pending trials never ran, running ones
    #: were stopped); ``interrupted`` (Ctrl-C or the driver stopped: resume it)
    ended_by: str = "complete"


def prepare_sweep_dir(sweep_dir: Path, cfg: SweepConfig | None, resume: bool, overwrite: bool) -> SweepConfig:
    """Create the sweep directory (or check it can be resumed); returns the sweep to run.

    Raises:
        ValueError: The directory exists and neither ``resume`` nor ``overwrite`` was given.
        FileNotFoundError: ``resume`` without a sweep (or without Tune state) to resume.
    """
    if resume:
        cfg = load_saved_sweep(sweep_dir)
        if not (sweep_dir / TUNE_DIR).is_dir():
            raise MissingInputError(
                f"cannot resume: {sweep_dir / TUNE_DIR} not found (the sweep died before Tune saved its "
                f"state); start it again with --overwrite"
            )
        summary = sweep_dir / "summary.json"
        if summary.is_file() and rd.read_json(summary).get("complete") is True:
            raise InputError(
                f"sweep {sweep_dir} is complete: nothing to resume (--report rebuilds its table and plot)"
            )
        return cfg
    assert cfg is not None
    if sweep_dir.exists() and any(sweep_dir.iterdir()):
        if not overwrite:
            raise InputError(
                f"sweep directory {sweep_dir} already exists; pass --resume to continue it, "
                f"--overwrite to replace it, or choose another --out"
            )
        if not ((sweep_dir / SWEEP_YAML).is_file() or (sweep_dir / TUNE_DIR).is_dir()):
            raise InputError(
                f"{sweep_dir} is not empty and holds no sweep ({SWEEP_YAML}); --overwrite deletes only "
                f"sweep directories: choose another --out"
            )
        shutil.rmtree(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    rd.atomic_write_text(sweep_dir / SWEEP_YAML, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    return cfg


def load_saved_sweep(sweep_dir: Path) -> SweepConfig:
    """The sweep a sweep directory was started with (its ``sweep.yaml``).

    Raises:
        FileNotFoundError: ``sweep_dir`` holds no ``sweep.yaml``.
    """
    path = sweep_dir / SWEEP_YAML
    raw = read_yaml_mapping(path, "sweep state", f"is {sweep_dir} a sweep directory?")
    return sweep_from_dict(raw, sweep_dir, where=str(path))


def start_ray(address: str | None, cpus: int | None) -> None:
    """Join ``address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:10001``) or start a local Ray."""
    from robot_rl.ray_cluster import start_ray as start

    start(address, cpus)


def check_resources(cfg: SweepConfig) -> None:
    """A trial asking for more than the whole cluster has would wait forever: refuse it now."""
    import ray

    have = ray.cluster_resources()
    for name, key in (("cpu", "CPU"), ("gpu", "GPU")):
        want = float(cfg.resources.get(name, 0.0))
        if want > float(have.get(key, 0.0)):
            raise InputError(
                f"each trial asks for resources.{name}={want:g} but the Ray cluster has "
                f"{float(have.get(key, 0.0)):g} {key}s in all; lower resources.{name} (or env.n_envs for "
                f"subproc envs) or give Ray more (--cpus N, or a bigger cluster)"
            )


def build_tuner(cfg: SweepConfig, sweep_dir: Path, max_concurrent: int | None, resume: bool) -> Any:
    """The Tune ``Tuner`` of a sweep (restored from ``SWEEP/tune`` with ``resume``)."""
    from ray import tune

    from robot_rl.sweep.progress import SweepProgress
    from robot_rl.sweep.trial import run_trial

    sweep_dir = sweep_dir.resolve()
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, sweep_dir=str(sweep_dir), sweep=cfg.to_dict()), dict(cfg.resources)
    )
    if resume:
        return tune.Tuner.restore(
            str(sweep_dir / TUNE_DIR), trainable=trainable, resume_unfinished=True, resume_errored=True
        )
    concurrent = max_concurrent if max_concurrent is not None else cfg.max_concurrent
    param_space, search_alg, num_samples = _search(cfg)
    tune_config = tune.TuneConfig(
        metric=cfg.metric,
        mode=cfg.mode,
        search_alg=search_alg,
        scheduler=_scheduler(cfg),
        num_samples=num_samples,
        max_concurrent_trials=concurrent or None,
        time_budget_s=cfg.time_budget_min * 60 or None,
        reuse_actors=False,
    )
    run_config = tune.RunConfig(
        name=TUNE_DIR,
        storage_path=str(sweep_dir),
        verbose=0,
        failure_config=tune.FailureConfig(max_failures=cfg.max_failures),
        callbacks=[SweepProgress(cfg.total_trials, cfg.metric, cfg.mode, str(sweep_dir))],
    )
    return tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config)


def _search(cfg: SweepConfig) -> tuple[dict[str, Any], Any, int]:
    """Param space, search algorithm and ``num_samples`` for grid, random or Optuna search.

    Grid and random sweeps list their configurations explicitly (random ones drawn with the
    sweep's seed), crossed with the seed indices, so every configuration is trained with the same
    seeds. Optuna samples configurations itself; Tune's ``Repeater`` runs each with ``seeds``
    seeds and gives Optuna their mean.
    """
    from ray import tune

    if cfg.search in ("grid", "random"):
        points = cfg.grid_points() if cfg.search == "grid" else cfg.random_points()
        space = {"params": tune.grid_search(points), "seed_index": tune.grid_search(list(range(cfg.seeds)))}
        return space, None, 1
    from ray.tune.search import Repeater
    from ray.tune.search.optuna import OptunaSearch

    domains = {p.key: _domain(p) for p in cfg.params}
    searcher: Any = OptunaSearch(seed=cfg.seed)
    if cfg.seeds > 1:
        searcher = Repeater(searcher, repeat=cfg.seeds, set_index=True)
    return {"params": domains}, searcher, cfg.samples * cfg.seeds


def _domain(p: Any) -> Any:
    from ray import tune

    if p.discrete:
        return tune.choice(list(p.values))
    if p.kind == "int":
        return tune.randint(int(p.low), int(p.high) + 1)
    if p.kind == "loguniform":
        return tune.loguniform(p.low, p.high)
    return tune.uniform(p.low, p.high)


def _scheduler(cfg: SweepConfig) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule

    s = cfg.scheduler
    max_t = int(cfg.base_raw["train"]["total_timesteps"])
    if s.type == "asha":
        return ASHAScheduler(
            time_attr="num_timesteps",
            max_t=max_t,
            grace_period=s.grace_period,
            reduction_factor=s.reduction_factor,
        )
    if s.type == "median":
        return MedianStoppingRule(
            time_attr="num_timesteps", grace_period=s.grace_period, min_samples_required=s.min_samples
        )
    return FIFOScheduler()


def run_sweep(
    cfg: SweepConfig | None,
    sweep_dir: Path,
    command: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    address: str | None = None,
    cpus: int | None = None,
    max_concurrent: int | None = None,
) -> SweepOutcome:
    """Run a sweep (or resume one) and finalize its trial run directories.

    Raises:
        ValueError, FileNotFoundError: Bad sweep, or a sweep directory that cannot be used.
        ModuleNotFoundError: Ray is not installed.
    """
    require_ray()
    if cfg is not None and not resume:
        from robot_rl.sweep.config import check_trial_space

        check_trial_space(cfg)  # env, learner kwargs and metric: before anything is written
    cfg = prepare_sweep_dir(sweep_dir, cfg, resume, overwrite)
    with (sweep_dir / "command.txt").open("a") as fh:
        fh.write(command + "\n")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's own tables off (verbose=0); we print our own
    start_ray(address, cpus)
    check_resources(cfg)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.monotonic()
    tuner = build_tuner(cfg, sweep_dir, max_concurrent, resume)
    fit_start = time.monotonic()
    tuner.fit()
    fit_s = time.monotonic() - fit_start
    # Statuses as Tune saved them, not as they are in memory: after Ctrl-C, Tune saves the state
    # (running trials stay unfinished) and only then stops the trials, which marks them
    # TERMINATED in memory as if they had ended.
    trials = saved_trials(sweep_dir)
    for trial in trials:
        finalize_trial(sweep_dir, cfg, trial)
    complete = len(trials) >= cfg.total_trials and all(t.status in ("TERMINATED", "ERROR") for t in trials)
    budget_s = cfg.time_budget_min * 60
    ended_by = "complete" if complete else "time_budget" if budget_s and fit_s >= budget_s else "interrupted"
    return SweepOutcome(sweep_dir, cfg, complete, trials, time.monotonic() - t0, ended_by)


def saved_trials(sweep_dir: Path) -> list[TrialRecord]:
    """The sweep's trials as recorded in Tune's latest saved experiment state."""
    from ray.tune import ExperimentAnalysis

    quiet = logging.getLogger("ray.tune")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # trials that never reported have no result files: expected
    try:
        analysis = ExperimentAnalysis(str((sweep_dir / TUNE_DIR).resolve()))
    finally:
        quiet.setLevel(level)
    return [_record(t) for t in analysis.trials]


def _record(trial: Any) -> TrialRecord:
    params, seed_index = trial_params(trial.config)
    error = ""
    if trial.status == "ERROR":
        # get_error() reads the experiment directory, which outlives Ray's session folder
        lines = [ln for ln in str(trial.get_error() or "").splitlines() if ln.strip()]
        error = lines[-1] if lines else "unknown error (see the trial's log in SWEEP/logs/)"
    return TrialRecord(
        trial_id=trial.trial_id,
        status=trial.status,
        params=params,
        seed_index=seed_index,
        done=bool((trial.last_result or {}).get("done")),
        failures=int(trial.num_failures),
        error=error,
    )


def finalize_trial(sweep_dir: Path, cfg: SweepConfig, trial: TrialRecord) -> None:
    """Make an ended trial's run directory complete and truthful.

    The scheduler stops a trial inside its report (so does the last report of a trial that has
    trained its budget), right after the trial wrote a checkpoint of the evaluated model. The
    sweep's time budget stops trials wherever they are. Either way the newest checkpoint becomes
    ``model.zip``, and ``run.json`` says ``finished`` (whole budget) or ``stopped_early``. A trial
    that failed for good says ``failed`` and why. The retries a trial needed go into its
    ``sweep_trial.json``.
    """
    from robot_rl.train.callbacks import latest_checkpoint

    run = sweep_dir / TRIALS / trial.trial_id
    if trial.status in ("TERMINATED", "ERROR"):
        run.mkdir(parents=True, exist_ok=True)  # a trial that failed before training still gets a row
    write_trial_info(sweep_dir, trial.trial_id, cfg, trial.params, trial.seed_index)
    if (run / TRIAL_JSON).is_file():
        record = rd.read_json(run / TRIAL_JSON)
        record["retries"] = trial.failures
        if trial.status == "ERROR":
            record["error"] = trial.error
        rd.write_json(run / TRIAL_JSON, record)
    info_path = run / rd.RUN_JSON
    if not info_path.is_file() or trial.status not in ("TERMINATED", "ERROR"):
        return
    info = rd.read_json(info_path)
    if info.get("status") != "running":
        return
    ckpt = latest_checkpoint(run / rd.CHECKPOINTS)
    try:
        state = rd.read_json(ckpt / "state.json") if ckpt is not None else None
    except FileNotFoundError:  # pruned meanwhile by a dying worker
        state = None
    if ckpt is not None and state is not None:
        info["num_timesteps"] = int(state["num_timesteps"])
        info["wall_time_s"] = round(float(state.get("wall_time_s", 0.0)), 3)
        for name in ("model.zip", rd.VECNORM):
            if (ckpt / name).is_file():
                tmp = run / f".tmp_{name}"
                try:
                    shutil.copyfile(ckpt / name, tmp)
                except FileNotFoundError:  # pruned by a worker that was still dying: keep the old file
                    continue
                os.replace(tmp, run / name)
    if trial.status == "ERROR":
        info["status"] = "failed"
        info["error"] = trial.error
    elif info["num_timesteps"] >= int(info.get("total_timesteps", 0)):
        info["status"] = "finished"  # stopped by Tune at its last report, with the whole budget trained
    else:
        info["status"] = "stopped_early"
    rd.write_json(info_path, info)
