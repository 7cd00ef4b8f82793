"""Load what export needs from a run directory or a bare model zip (the run-directory contract).

Uses the training package's ``robot_rl.train.run_dir.load_run`` when it is installed and falls
back to reading the same files directly (same semantics: ``run.json`` next to the model,
``best_model.zip`` falling back to ``model.zip``, the matching ``vecnormalize.pkl``).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALGO_CLASSES = {
    "ppo": ("stable_baselines3", "PPO"),
    "sac": ("stable_baselines3", "SAC"),
    "td3": ("stable_baselines3", "TD3"),
    "dqn": ("stable_baselines3", "DQN"),
    "tqc": ("sb3_contrib", "TQC"),
}
#: Replaces HER's replay buffer on load: predict() does not need it, and HER would need an env.
_NO_BUFFER: dict[str, Any] = {"replay_buffer_class": None, "replay_buffer_kwargs": {}, "buffer_size": 1}


@dataclass
class PolicySource:
    """A trained model with everything the exporter needs.

    Attributes:
        model: SB3 ``BaseAlgorithm``.
        vecnormalize: ``VecNormalize`` (statistics matching ``model``) or ``None``.
        algo: ``"ppo" | "sac" | "td3" | "tqc" | "dqn"``.
        env_id: Gymnasium id the model was trained on.
        env_kwargs: Keyword arguments of ``gym.make``.
        num_timesteps: Training steps of the model.
        eval: Last evaluation summary (``eval.json``) or ``None``.
        run_dir: Run directory.
        model_path: The ``.zip`` that was loaded.
    """

    model: Any
    vecnormalize: Any | None
    algo: str
    env_id: str
    env_kwargs: dict[str, Any]
    num_timesteps: int
    eval: dict[str, Any] | None
    run_dir: Path
    model_path: Path


def load_source(path: str | Path, which: str = "best") -> PolicySource:
    """Load a run directory or a bare model ``.zip`` (see module docstring).

    Raises:
        FileNotFoundError: the path, ``run.json`` or the model file is missing.
        ValueError: ``which`` is not ``"best"``/``"final"`` or ``run.json`` names an unknown algo.
    """
    if which not in ("best", "final"):
        raise ValueError(f"which={which!r} is not accepted; choose 'best' or 'final'")
    try:
        from robot_rl.train.run_dir import load_run  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _load_directly(Path(path), which)
    try:
        run = load_run(path, which=which)
    except AssertionError:
        # SB3 refuses to load a HER model without an env; our loader replaces the buffer.
        return _load_directly(Path(path), which)
    return PolicySource(
        model=run.model,
        vecnormalize=run.vecnormalize,
        algo=run.algo,
        env_id=run.env_id,
        env_kwargs=dict(run.env_kwargs),
        num_timesteps=int(run.num_timesteps),
        eval=run.eval,
        run_dir=Path(run.run_dir),
        model_path=Path(run.model_path),
    )


def _model_paths(path: Path, which: str) -> tuple[Path, Path, Path]:
    """(run_dir, model zip, vecnormalize pkl) for a run dir or a bare zip."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; give a run directory or a model .zip")
    if path.is_dir():
        best = path / "best_model.zip"
        if which == "best" and best.exists():
            return path, best, path / "best_vecnormalize.pkl"
        return path, path / "model.zip", path / "vecnormalize.pkl"
    if path.suffix != ".zip":
        raise ValueError(f"{path} is neither a run directory nor a model .zip")
    prefix = "best_" if path.name.startswith("best_") else ""
    return path.parent, path, path.parent / f"{prefix}vecnormalize.pkl"


def _load_directly(path: Path, which: str) -> PolicySource:
    run_dir, model_path, vn_path = _model_paths(path, which)
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path} is missing: export needs the run's env id, algo and settings")
    if not model_path.exists():
        raise FileNotFoundError(f"{model_path} is missing (run status: {_status(meta_path)})")
    meta = json.loads(meta_path.read_text())
    algo = str(meta.get("algo", "")).lower()
    if algo not in ALGO_CLASSES:
        raise ValueError(f"run.json algo={algo!r} is not supported; accepted: {sorted(ALGO_CLASSES)}")
    module, cls_name = ALGO_CLASSES[algo]
    cls = getattr(__import__(module, fromlist=[cls_name]), cls_name)
    custom = _NO_BUFFER if algo != "ppo" else None
    model = cls.load(str(model_path), device="cpu", custom_objects=custom)
    vecnormalize = None
    if meta.get("normalize") or vn_path.exists():
        if not vn_path.exists():
            raise FileNotFoundError(f"run.json says normalize=true but {vn_path} is missing")
        with vn_path.open("rb") as fh:  # the training side's own file; the bundle holds no pickle
            vecnormalize = pickle.load(fh)
    eval_path = run_dir / "eval.json"
    return PolicySource(
        model=model,
        vecnormalize=vecnormalize,
        algo=algo,
        env_id=str(meta["env_id"]),
        env_kwargs=dict(meta.get("env_kwargs") or {}),
        num_timesteps=int(meta.get("num_timesteps", getattr(model, "num_timesteps", 0))),
        eval=json.loads(eval_path.read_text()) if eval_path.exists() else None,
        run_dir=run_dir,
        model_path=model_path,
    )


def _status(meta_path: Path) -> str:
    try:
        return str(json.loads(meta_path.read_text()).get("status", "unknown"))
    except (OSError, json.JSONDecodeError):
        return "unreadable run.json"
