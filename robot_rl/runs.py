"""The run directory: its layout, the files it holds, and :func:`load_run`.

The one reader and writer of run directories, below both ``robot_rl.train`` (which writes them)
and ``robot_rl.deploy`` (which exports from them); neither imports the other.

Layout::

    RUN_DIR/
      run.json              schema, env_id, env_kwargs, algo, seed, num_timesteps, status, ...
      config.yaml           the resolved config
      command.txt           the exact command line
      versions.json         python, torch, SB3, sb3-contrib, pybullet, gymnasium, robot_rl, git commit
      model.zip             final model (``model.save``)
      vecnormalize.pkl      normalization statistics matching model.zip (when normalizing)
      best_model.zip        best model by evaluation success (may be absent)
      best_vecnormalize.pkl statistics matching best_model.zip
      eval.json             last evaluation summary
      checkpoints/          periodic checkpoints, written atomically; latest.json points to the newest
      logs/                 progress.csv, TensorBoard events, monitor CSVs, evaluations.csv
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robot_rl.errors import InputError, MissingInputError
from robot_rl.jsonio import dumps_strict

SCHEMA = 1
RUN_JSON = "run.json"
MODEL = "model.zip"
BEST_MODEL = "best_model.zip"
VECNORM = "vecnormalize.pkl"
BEST_VECNORM = "best_vecnormalize.pkl"
EVAL_JSON = "eval.json"
CHECKPOINTS = "checkpoints"
LOGS = "logs"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace`` (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically write ``data`` as indented JSON."""
    atomic_write_text(path, dumps_strict(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object; ``FileNotFoundError`` / ``ValueError`` say which file is wrong."""
    if not path.is_file():
        raise MissingInputError(f"{path} not found")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def versions() -> dict[str, str]:
    """Versions of everything that shapes a run, plus the git commit of the checkout."""
    import gymnasium
    import sb3_contrib
    import stable_baselines3
    import torch

    import robot_rl

    try:
        from importlib.metadata import version

        pybullet_version = version("pybullet")
    except Exception:  # pragma: no cover - pybullet is a hard dependency
        pybullet_version = "unknown"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "sb3_contrib": sb3_contrib.__version__,
        "gymnasium": gymnasium.__version__,
        "pybullet": pybullet_version,
        "numpy": __import__("numpy").__version__,
        "robot_rl": robot_rl.__version__,
        "git_commit": git_commit(),
    }


def git_commit() -> str:
    """``HEAD`` of the robot_rl checkout (``+dirty`` if modified), or ``unknown``.

    ``unknown`` also for an installed wheel (no checkout), whatever the working directory.
    """
    from robot_rl.resources import source_checkout

    root = source_checkout()
    if root is None:
        return "unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


ALGOS = ("ppo", "sac", "td3", "tqc", "dqn")
#: Activation functions a run's policy may use, name in the config -> torch.nn class name. These
#: are the ones the exporter implements (ONNX, TorchScript, C): the training config refuses any
#: other before training starts, instead of the export refusing it after a whole training run.
ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "elu": "ELU", "leaky_relu": "LeakyReLU"}


def algo_class(name: str) -> Any:
    """The SB3 class for an algorithm name.

    Raises:
        ValueError: Unknown name (the message lists the accepted names).
    """
    if name not in ALGOS:
        raise InputError(f"algo={name!r} is not accepted; choose one of {list(ALGOS)}")
    if name == "tqc":
        from sb3_contrib import TQC

        return TQC
    import stable_baselines3 as sb3

    return {"ppo": sb3.PPO, "sac": sb3.SAC, "td3": sb3.TD3, "dqn": sb3.DQN}[name]


#: SB3's warning on loading a model saved with n-step returns (see :func:`load_model`).
_NSTEP_RELOAD_WARNING = (
    r"`n_steps=\d+` is ignored because a custom `replay_buffer_class` \(`NStepReplayBuffer`\)"
)


def load_model(cls: Any, path: str | Path, **kwargs: Any) -> Any:
    """``cls.load(path, **kwargs)`` without SB3's misleading warning for n-step models.

    A model saved with ``n_steps > 1`` (``grasp_sac``) stores ``replay_buffer_class=
    NStepReplayBuffer`` with its kwargs (``n_steps``, ``gamma``); on load SB3's constructor then
    warns that ``n_steps`` "is ignored because a custom replay_buffer_class was passed", although
    the restored buffer does use it (a test checks). Only that warning is silenced.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NSTEP_RELOAD_WARNING, category=UserWarning)
        return cls.load(str(path), **kwargs)


@dataclass
class LoadedRun:
    """A trained model with what is needed to run it.

    Attributes:
        model: The SB3 algorithm (``BaseAlgorithm``), loaded on CPU.
        vecnormalize: Normalization statistics matching ``model`` (``obs_rms``, ``clip_obs``,
            ``epsilon``, ``norm_obs``), not attached to an env; ``None`` if the run did not normalize.
        env_id: Gymnasium id.
        env_kwargs: Constructor arguments of the training env.
        algo: ``ppo`` / ``sac`` / ``td3`` / ``tqc`` / ``dqn``.
        num_timesteps: Env steps the model was trained for.
        eval: Last evaluation summary (``eval.json``) or ``None``.
        run_dir: The run directory.
        model_path: The ``.zip`` that was loaded.
        info: The whole ``run.json``.
    """

    model: Any
    vecnormalize: Any
    env_id: str
    env_kwargs: dict[str, Any]
    algo: str
    num_timesteps: int
    eval: dict[str, Any] | None
    run_dir: Path
    model_path: Path
    info: dict[str, Any]


def resolve_model(path: str | Path, which: str = "best") -> tuple[Path, Path, Path | None]:
    """Find ``(run_dir, model_zip, vecnormalize_pkl_or_None)`` for a run dir or a bare model zip.

    Raises:
        FileNotFoundError: No such path, or no ``run.json``/model in it.
        ValueError: ``which`` is not ``best`` or ``final``.
    """
    if which not in ("best", "final"):
        raise InputError(f"which={which!r} is not accepted; choose one of ['best', 'final']")
    p = Path(path)
    if not p.exists():
        raise MissingInputError(f"{p} does not exist (expected a run directory or a model .zip)")
    if p.is_file():
        if p.suffix != ".zip":
            raise InputError(f"{p} is not a model .zip or a run directory")
        run_dir, model = p.parent, p
        stem = "best_" if p.name.startswith("best_") else ""
        vecnorm: Path | None = run_dir / f"{stem}{VECNORM}"
    else:
        run_dir = p
        model = run_dir / (BEST_MODEL if which == "best" else MODEL)
        if which == "best" and not model.is_file():
            model = run_dir / MODEL
        vecnorm = run_dir / (BEST_VECNORM if model.name == BEST_MODEL else VECNORM)
        if not model.is_file():
            raise MissingInputError(f"{run_dir} has no {MODEL} (training not finished? try --resume)")
    if not (run_dir / RUN_JSON).is_file():
        raise MissingInputError(f"{run_dir / RUN_JSON} not found next to {model.name}; not a robot-rl run")
    return run_dir, model, vecnorm if vecnorm is not None and vecnorm.is_file() else None


def _inference_objects(info: dict[str, Any]) -> dict[str, Any]:
    """``custom_objects`` for loading an off-policy model for inference: a one-slot replay buffer
    (no memory for a buffer nobody fills) and, for HER models, a plain Dict buffer (SB3's
    ``HerReplayBuffer`` cannot be built without an env)."""
    if info["algo"] == "ppo":
        return {}
    objects: dict[str, Any] = {"buffer_size": 1}
    if info.get("goal_env"):
        from stable_baselines3.common.buffers import DictReplayBuffer

        objects |= {"replay_buffer_class": DictReplayBuffer, "replay_buffer_kwargs": {}}
    return objects


def load_run(path: str | Path, which: str = "best") -> LoadedRun:
    """Load a run directory (or a bare ``.zip`` with ``run.json`` next to it).

    ``which="best"`` loads ``best_model.zip`` + ``best_vecnormalize.pkl`` and falls back to the
    final model when there is no best one. The model is for inference (off-policy learners get a
    one-slot replay buffer); training continues with ``robot-rl train --resume``.

    Raises:
        FileNotFoundError: Missing run directory, model, ``run.json`` or normalization file.
        ValueError: Unknown algorithm in ``run.json``.
    """
    import pickle

    run_dir, model_path, vecnorm_path = resolve_model(path, which)
    info = read_json(run_dir / RUN_JSON)
    for key in ("env_id", "algo"):
        if key not in info:
            raise InputError(f"{run_dir / RUN_JSON} lacks {key!r}")
    if info.get("normalize") and vecnorm_path is None:
        raise MissingInputError(f"run.json says normalize=true but no matching {VECNORM} in {run_dir}")
    model = load_model(
        algo_class(info["algo"]), model_path, device="cpu", custom_objects=_inference_objects(info)
    )
    vecnormalize = None
    if vecnorm_path is not None:
        with vecnorm_path.open("rb") as fh:
            vecnormalize = pickle.load(fh)
    eval_path = run_dir / EVAL_JSON
    return LoadedRun(
        model=model,
        vecnormalize=vecnormalize,
        env_id=info["env_id"],
        env_kwargs=dict(info.get("env_kwargs", {})),
        algo=info["algo"],
        num_timesteps=int(model.num_timesteps),
        eval=read_json(eval_path) if eval_path.is_file() else None,
        run_dir=run_dir,
        model_path=model_path,
        info=info,
    )
