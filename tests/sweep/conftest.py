"""Tiny sweeps: PPO on Pendulum-v1 (seconds per trial) written to a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def base_config(total: int = 1024, eval_freq: int = 256) -> dict[str, Any]:
    """A PPO config on Pendulum that trains ``total`` steps in a few seconds."""
    return {
        "name": "pend",
        "env": {"id": "Pendulum-v1", "n_envs": 2},
        "algo": {
            "name": "ppo",
            "kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 2},
            "policy_kwargs": {"net_arch": [16, 16]},
        },
        "train": {
            "total_timesteps": total,
            "checkpoint_freq": 10_000,
            "eval_freq": eval_freq,
            "eval_episodes": 2,
            "log_interval_s": 1.0,
        },
    }


def write_sweep(folder: Path, sweep: dict[str, Any], base: dict[str, Any] | None = None) -> Path:
    """Write ``pend.yaml`` and ``sweep.yaml`` (``base: pend.yaml`` unless given) into ``folder``."""
    (folder / "pend.yaml").write_text(yaml.safe_dump(base or base_config()))
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "pend_sweep", "base": "pend.yaml", **sweep}, sort_keys=False))
    return path
