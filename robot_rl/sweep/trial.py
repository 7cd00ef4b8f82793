"""The Ray Tune trainable: one trial trains one ordinary run directory, ``SWEEP/trials/<trial_id>/``.

The trial reports each evaluation on held-out episodes to Tune (``success_rate``,
``return_mean``, task metrics such as ``spl``, and ``num_timesteps``, the schedulers' clock)
right after a checkpoint of the evaluated model is written. So:

* a trial the scheduler stops early stops at a checkpoint (``runner`` finalizes its run dir);
* a trial whose process dies is started again by Tune (``max_failures``) and *resumes* its run
  directory from the last checkpoint instead of starting over;
* a sweep whose driver died resumes every unfinished trial the same way.

The run directory also gets ``sweep_trial.json`` (sweep, trial id, parameters, seed, the
equivalent ``robot-rl train`` command); what the training printed goes to ``SWEEP/logs/<trial_id>.log``.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

from robot_rl import runs as rd
from robot_rl.errors import InputError
from robot_rl.sweep.config import SweepConfig

TRIALS = "trials"
TRIAL_JSON = "sweep_trial.json"


def report_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """The flat result a trial reports to Tune for one evaluation summary."""
    out: dict[str, Any] = {
        "num_timesteps": int(summary["num_timesteps"]),
        "train_wall_s": float(summary["wall_time_s"]),
        "success_rate": float(summary["success_rate"]),
        "return_mean": float(summary["return_mean"]),
        "length_mean": float(summary["length_mean"]),
        "eval_episodes": int(summary["episodes"]),
    }
    for key, value in summary.get("metrics", {}).items():
        value = float(value)
        out[key] = value if math.isfinite(value) else float("nan")
    return out


def trial_params(config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Parameters and seed index of a trial from its Tune config.

    Grid and random sweeps set ``seed_index``; Optuna sweeps get it from Tune's ``Repeater``
    (``__trial_index__``).
    """
    params = dict(config.get("params") or {})
    seed_index = int(config.get("seed_index", config.get("__trial_index__", 0)))
    return params, seed_index


def run_trial(config: dict[str, Any], sweep_dir: str, sweep: dict[str, Any]) -> None:
    """Train one trial (Tune function trainable; bound with ``tune.with_parameters``)."""
    from ray import tune

    from robot_rl.sweep.config import sweep_from_dict
    from robot_rl.train.callbacks import latest_checkpoint
    from robot_rl.train.trainer import train

    cfg = sweep_from_dict(sweep, Path(sweep_dir))
    params, seed_index = trial_params(config)
    trial_cfg = cfg.trial_config(params, seed_index)
    trial_id = tune.get_context().get_trial_id()
    run = Path(sweep_dir) / TRIALS / trial_id
    resume = (run / rd.RUN_JSON).is_file() and latest_checkpoint(run / rd.CHECKPOINTS) is not None
    metric = cfg.metric

    command = cfg.train_command(params, seed_index)
    info = _trial_info(cfg, trial_id, params, seed_index, command)
    written = False

    def report(summary: dict[str, Any]) -> None:
        nonlocal written
        if not written:  # the run dir is laid out by now (train() clears it when starting over)
            rd.write_json(run / TRIAL_JSON, info)
            written = True
        result = report_metrics(summary)
        if metric not in result:
            raise InputError(
                f"metric={metric!r} is not in the evaluation results; reported: {sorted(result)}"
            )
        tune.report(result)

    log_path = Path(sweep_dir) / "logs" / f"{trial_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", buffering=1) as log:
        if (
            resume
            and rd.read_json(run / rd.RUN_JSON).get("status") == "finished"
            and (run / rd.EVAL_JSON).is_file()
        ):
            # finished after Tune last saved its state (the driver died then): report, don't retrain
            pid = os.getpid()
            print(
                f"[sweep] trial {trial_id} pid {pid}: already finished; reporting its last evaluation",
                file=log,
            )
            report(rd.read_json(run / rd.EVAL_JSON))
            return
        print(f"[sweep] trial {trial_id} pid {os.getpid()}: {'resuming' if resume else 'starting'}", file=log)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            # overwrite: a directory without a checkpoint (a trial killed in its first minutes)
            # starts over; one with a checkpoint resumes from it.
            outcome = train(trial_cfg, run, command, resume=resume, overwrite=not resume, on_eval=report)
        print(f"[sweep] trial {trial_id} {outcome.status} at {outcome.num_timesteps} steps", file=log)


def write_trial_info(
    sweep_dir: Path, trial_id: str, cfg: SweepConfig, params: dict[str, Any], seed_index: int
) -> None:
    """Record a trial's parameters in its run dir (also done by the driver for trials that never ran)."""
    run = sweep_dir / TRIALS / trial_id
    if run.is_dir() and not (run / TRIAL_JSON).is_file():
        command = cfg.train_command(params, seed_index)
        rd.write_json(run / TRIAL_JSON, _trial_info(cfg, trial_id, params, seed_index, command))


def _trial_info(
    cfg: Any, trial_id: str, params: dict[str, Any], seed_index: int, command: str
) -> dict[str, Any]:
    return {
        "sweep": cfg.name,
        "trial_id": trial_id,
        "params": params,
        "seed_index": seed_index,
        "seed": int(cfg.base_raw["train"]["seed"]) + seed_index,
        "metric": cfg.metric,
        "mode": cfg.mode,
        "train_command": command,
    }
