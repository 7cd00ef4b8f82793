"""Deployment settings from ``launch/deploy_*.yaml``: loop rate and safety limits.

Keys (all optional):
    ``env_id``: the bundle's env id must start with this (guards against a wrong config);
    ``control_hz``: loop rate in Hz (default: 1 / the manifest's control period);
    ``safety``: overrides for :meth:`robot_rl.deploy.safety.SafetyConfig.from_manifest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEYS = ("env_id", "control_hz", "safety")


@dataclass
class DeployConfig:
    """Validated deployment settings (see module docstring)."""

    env_id: str | None = None
    control_hz: float | None = None
    safety: dict[str, Any] = field(default_factory=dict)

    def rate_for(self, manifest: dict[str, Any]) -> float:
        """Loop rate in Hz: ``control_hz`` or 1 / the manifest's control period.

        Raises:
            ValueError: neither is known, or the watchdog is shorter than two loop periods.
        """
        rate = self.control_hz
        if rate is None:
            period = manifest["env"].get("control_period_s")
            if not period:
                raise ValueError("the manifest has no control period; set control_hz in the deploy config")
            rate = 1.0 / float(period)
        timeout = self.safety.get("watchdog_timeout_s")
        if timeout is not None and float(timeout) < 2.0 / rate:
            raise ValueError(
                f"watchdog_timeout_s={timeout} s is shorter than two loop periods at {rate:g} Hz; "
                f"use >= {2.0 / rate:g} s or a higher control_hz"
            )
        return float(rate)

    def check_env(self, manifest: dict[str, Any]) -> None:
        """Raise ``ValueError`` if the bundle's env does not match ``env_id``."""
        bundle_env = str(manifest["env"]["id"])
        if self.env_id and not bundle_env.startswith(self.env_id):
            raise ValueError(f"deploy config is for {self.env_id!r} but the bundle's env is {bundle_env!r}")


def load_deploy_config(path: str | Path | None) -> DeployConfig:
    """Read a deploy YAML (``None`` -> defaults).

    Raises:
        FileNotFoundError: missing file.
        ValueError: unknown keys or wrong types.
    """
    if path is None:
        return DeployConfig()
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"deploy config {path} not found (see launch/deploy_*.yaml)")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with keys {list(KEYS)}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; accepted: {list(KEYS)}")
    rate = data.get("control_hz")
    if rate is not None and not (isinstance(rate, int | float) and rate > 0):
        raise ValueError(f"{path}: control_hz must be a number > 0 (Hz), got {rate!r}")
    safety = data.get("safety") or {}
    if not isinstance(safety, dict):
        raise ValueError(f"{path}: safety must be a mapping, got {type(safety).__name__}")
    return DeployConfig(data.get("env_id"), None if rate is None else float(rate), dict(safety))


#: env id prefix -> the shipped deploy config (relative to the repository root).
DEFAULT_CONFIGS = {
    "robot_rl/PandaGrasp": "launch/deploy_grasp.yaml",
    "robot_rl/MobileNavDiscrete": "launch/deploy_nav_discrete.yaml",
    "robot_rl/MobileNav-": "launch/deploy_nav.yaml",
}


def default_config_for(env_id: str, root: Path | None = None) -> Path | None:
    """The shipped ``launch/deploy_*.yaml`` for ``env_id`` if it exists under ``root`` (default: cwd)."""
    for prefix, rel in DEFAULT_CONFIGS.items():
        path = (root or Path.cwd()) / rel
        if env_id.startswith(prefix) and path.exists():
            return path
    return None
