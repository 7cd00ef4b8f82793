"""Helpers for the training tests: tiny configs written to a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml


def pendulum_config(**train: Any) -> dict[str, Any]:
    """A tiny SAC config on Pendulum-v1 with VecNormalize (seconds to train)."""
    return {
        "name": "pend",
        "env": {"id": "Pendulum-v1", "n_envs": 2, "normalize": {"enabled": True}},
        "algo": {
            "name": "sac",
            "kwargs": {"buffer_size": 5000, "learning_starts": 64, "batch_size": 32},
            "policy_kwargs": {"net_arch": [16, 16]},
        },
        "train": {
            "total_timesteps": 400,
            "checkpoint_freq": 200,
            "eval_freq": 200,
            "eval_episodes": 2,
            "log_interval_s": 0.5,
            **train,
        },
    }


@pytest.fixture
def write_config(tmp_path: Path) -> Any:
    """Write a config mapping to ``tmp_path/<name>.yaml`` and return the path."""

    def _write(raw: dict[str, Any]) -> Path:
        path = tmp_path / f"{raw['name']}.yaml"
        path.write_text(yaml.safe_dump(raw))
        return path

    return _write
