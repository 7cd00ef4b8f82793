"""Deployment limits: a deploy YAML at export time, the bundle's ``safety`` at run time.

The shipped deploy configs (``launch/deploy_*.yaml`` in the repository, installed inside the
package; by name ``deploy_grasp``, ``deploy_nav``, ``deploy_nav_discrete``) are the human-edited
source of a robot's limits. At
export, :func:`resolve_safety` turns the one for the bundle's env (or ``--deploy-config``) into
complete, explicit values that the manifest carries (``manifest["safety"]``); the robot then needs
nothing but the bundle, whatever its working directory. At deploy time, a ``--config`` YAML may
only *tighten* those values (:func:`effective_settings`): a looser bound is refused, and so is a
policy rate other than the one the policy was trained at.

YAML keys (validated with pydantic; unknown keys are refused):

``env_id``
    The bundle's env id must start with this (guards against a config for another robot).
``policy_hz``
    Optional; if given it must equal the bundle's policy rate (1 / the env's control period).
``command_hz``
    Rate of the command stream to the hardware, an integer multiple of the policy rate (default:
    the policy rate). Between policy steps the last action is held (velocities, positions) or
    spread evenly (displacements per control step), and the safety filter runs on every tick.
``safety.action_low`` / ``safety.action_high``
    Bounds per action entry, in action units (within the env's [-1, 1]).
``safety.max_rate_per_s``
    Slew limit per action entry in action units per second (a number for every entry, or a
    list; ``null`` = none). Per command tick the change is at most ``rate / command_hz``.
``safety.watchdog_timeout_s``
    Oldest observation (s) the loop acts on; it must be at least the policy period.
``safety.max_consecutive_faults``
    Policy steps in a row with a NaN observation/action or a policy error that latch a stop.
``ros2``
    Topics, QoS and frames for ``--hardware ros2`` (see :mod:`robot_rl.deploy.ros2.config`);
    ignored by ``--hardware sim``.

Validated like every config of the project (:mod:`robot_rl.configfile`: one YAML reader, pydantic
models in strict mode, so no ``"0.5"`` is silently read as 0.5 and no unknown key passes).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import Field

from robot_rl.configfile import StrictModel, read_yaml_mapping, validate
from robot_rl.deploy.ros2.config import Ros2Section
from robot_rl.errors import InputError
from robot_rl.resources import launch_dir, resolve_config

#: env id prefix -> the shipped deploy config (file name in the package's ``launch`` directory).
DEFAULT_CONFIGS = {
    "robot_rl/PandaGrasp": "deploy_grasp.yaml",
    "robot_rl/MobileNavDiscrete": "deploy_nav_discrete.yaml",
    "robot_rl/MobileNav-": "deploy_nav.yaml",
}
DEFAULT_WATCHDOG_PERIODS = 3
DEFAULT_MAX_FAULTS = 5


class SafetyLimits(StrictModel):
    """The ``safety`` section of a deploy YAML (all optional)."""

    action_low: list[float] | None = None
    action_high: list[float] | None = None
    max_rate_per_s: float | list[float | None] | None = None
    watchdog_timeout_s: float | None = Field(default=None, gt=0)
    max_consecutive_faults: int | None = Field(default=None, ge=1)


class DeployConfig(StrictModel):
    """A deploy YAML (see module docstring)."""

    env_id: str | None = None
    policy_hz: float | None = Field(default=None, gt=0)
    command_hz: float | None = Field(default=None, gt=0)
    safety: SafetyLimits = SafetyLimits()
    ros2: Ros2Section | None = None

    def check_env(self, env_id: str) -> None:
        """Raise ``ValueError`` if ``env_id`` does not start with this config's ``env_id``."""
        if self.env_id and not env_id.startswith(self.env_id):
            raise InputError(f"deploy config is for {self.env_id!r} but the bundle's env is {env_id!r}")


def load_deploy_config(path: str | Path | None) -> DeployConfig:
    """Read and validate a deploy YAML (``None`` -> an empty config).

    Args:
        path: A YAML file, the name of a shipped deploy config (``deploy_nav``), or ``None``.

    Raises:
        MissingInputError: missing file, or a name that is no shipped deploy config.
        InputError: not a mapping, unknown keys or wrong types (one line naming each).
    """
    if path is None:
        return DeployConfig()
    path = resolve_config(path, "deploy")
    data = read_yaml_mapping(path, "deploy config", "robot-rl configs lists the shipped ones")
    return validate(DeployConfig, data, f"deploy config {path}")


def shipped_config_for(env_id: str) -> Path | None:
    """The shipped ``deploy_*.yaml`` for ``env_id``, or ``None`` if the env has none.

    Found inside the installed package (:func:`robot_rl.resources.launch_dir`), never from the
    working directory.
    """
    for prefix, name in DEFAULT_CONFIGS.items():
        if env_id.startswith(prefix):
            path = launch_dir() / name
            if not path.is_file():
                raise FileNotFoundError(f"shipped deploy config {path} for {env_id} is missing")
            return path
    return None


# ---------------------------------------------------------------------- export: resolve
def _vector(value: Any, n: int, name: str, default: float) -> list[float]:
    """A number or a list of ``n`` entries (``None`` -> ``default``) as a list of floats."""
    if value is None:
        return [default] * n
    if isinstance(value, list):
        if len(value) != n:
            raise InputError(f"safety.{name} needs {n} entries (one per action entry), got {len(value)}")
        return [default if v is None else float(v) for v in value]
    return [float(value)] * n


def resolve_safety(
    action: dict[str, Any], period_s: float, config: DeployConfig, source: str | None
) -> dict[str, Any]:
    """Complete safety limits for the manifest, from the env's action section and a deploy config.

    Args:
        action: The manifest's action section (``type``, ``size``, ``low``/``high``, ``safe_action``).
        period_s: The policy's control period in seconds.
        config: The deploy config (shipped or given at export).
        source: Where ``config`` came from (recorded in the manifest), or ``None``.

    Returns:
        JSON-ready ``{action_low, action_high, max_rate_per_s (null entries = none),
        watchdog_timeout_s, max_consecutive_faults, command_hz, source}``; discrete actions have
        no bounds or slew limits (indices), only the watchdog and fault limit.

    Raises:
        ValueError: bounds outside the env's, a safe action outside the bounds, a watchdog
            shorter than the policy period, or a command rate that is not a multiple of it.
    """
    s = config.safety
    policy_hz = 1.0 / period_s
    out: dict[str, Any] = {
        "watchdog_timeout_s": s.watchdog_timeout_s or DEFAULT_WATCHDOG_PERIODS * period_s,
        "max_consecutive_faults": s.max_consecutive_faults or DEFAULT_MAX_FAULTS,
        "command_hz": config.command_hz or policy_hz,
        "source": source,
    }
    if action["type"] != "discrete":
        n = int(action["size"])
        env_low, env_high = [float(v) for v in action["low"]], [float(v) for v in action["high"]]
        low = [
            max(a, b) for a, b in zip(env_low, _vector(s.action_low, n, "action_low", -math.inf), strict=True)
        ]
        high = [
            min(a, b)
            for a, b in zip(env_high, _vector(s.action_high, n, "action_high", math.inf), strict=True)
        ]
        rate = _vector(s.max_rate_per_s, n, "max_rate_per_s", math.inf)
        out.update(
            action_low=low, action_high=high, max_rate_per_s=[None if math.isinf(r) else r for r in rate]
        )
    check_settings(out, action, period_s)
    return out


def check_settings(safety: dict[str, Any], action: dict[str, Any], period_s: float) -> None:
    """Raise ``ValueError`` unless the limits are consistent with each other and the policy rate."""
    policy_hz = 1.0 / period_s
    ratio = float(safety["command_hz"]) / policy_hz
    if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6:
        raise InputError(
            f"command_hz={safety['command_hz']:g} is not an integer multiple of the policy rate "
            f"{policy_hz:g} Hz (e.g. {policy_hz:g}, {2 * policy_hz:g}, {10 * policy_hz:g} Hz)"
        )
    if float(safety["watchdog_timeout_s"]) < period_s - 1e-12:
        raise InputError(
            f"watchdog_timeout_s={safety['watchdog_timeout_s']:g} s is shorter than the observation period "
            f"{period_s:g} s: every observation would be stale; use >= {period_s:g} s"
        )
    if action["type"] == "discrete":
        return
    low, high = safety["action_low"], safety["action_high"]
    bad = [i for i, (lo, hi) in enumerate(zip(low, high, strict=True)) if lo > hi]
    if bad:
        raise InputError(f"safety action_low > action_high at entries {bad}: {low} vs {high}")
    rates = [r for r in safety["max_rate_per_s"] if r is not None]
    if any(r <= 0 for r in rates):
        raise InputError(f"safety max_rate_per_s must be > 0 (action units per second), got {rates}")
    for i, v in enumerate(action["safe_action"]):
        if v is not None and not low[i] <= v <= high[i]:
            raise InputError(
                f"the env's safe action {action['safe_action']} lies outside the bounds {low}..{high}"
            )


# ---------------------------------------------------------------------- deploy: tighten
def effective_settings(manifest: dict[str, Any], config: DeployConfig) -> dict[str, Any]:
    """The bundle's safety limits, tightened by a deploy ``config``.

    Raises:
        ValueError: the config is for another env, names a different policy rate, or loosens any
            limit (each loosened entry is named), or the result is inconsistent.
    """
    env = manifest["env"]
    config.check_env(str(env["id"]))
    period = float(env["control_period_s"])
    policy_hz = 1.0 / period
    if config.policy_hz is not None and abs(config.policy_hz - policy_hz) > 1e-6 * policy_hz:
        raise InputError(
            f"policy_hz={config.policy_hz:g} differs from the bundle's policy rate {policy_hz:g} Hz: "
            "the policy was trained at that rate and its actions (steps, rates) mean what they "
            "meant in training only there; use command_hz for a faster command stream"
        )
    base = manifest["safety"]
    out = dict(base)
    loose: list[str] = []
    s = config.safety
    if s.watchdog_timeout_s is not None:
        _tighter(loose, "watchdog_timeout_s", s.watchdog_timeout_s, base["watchdog_timeout_s"], "<=")
        out["watchdog_timeout_s"] = s.watchdog_timeout_s
    if s.max_consecutive_faults is not None:
        _tighter(
            loose, "max_consecutive_faults", s.max_consecutive_faults, base["max_consecutive_faults"], "<="
        )
        out["max_consecutive_faults"] = s.max_consecutive_faults
    if config.command_hz is not None:
        out["command_hz"] = config.command_hz
    action = manifest["action"]
    if action["type"] != "discrete":
        n = int(action["size"])
        out["action_low"] = _tighten_vec(loose, "action_low", s.action_low, base["action_low"], n, ">=")
        out["action_high"] = _tighten_vec(loose, "action_high", s.action_high, base["action_high"], n, "<=")
        rates = [math.inf if r is None else r for r in base["max_rate_per_s"]]
        new = _tighten_vec(loose, "max_rate_per_s", _vector(s.max_rate_per_s, n, "max_rate_per_s", math.inf)
                           if s.max_rate_per_s is not None else None, rates, n, "<=")  # fmt: skip
        out["max_rate_per_s"] = [None if math.isinf(r) else r for r in new]
    elif s.action_low or s.action_high or s.max_rate_per_s is not None:
        raise InputError(
            "discrete actions are indices: action_low, action_high and max_rate_per_s do not apply"
        )
    if loose:
        raise InputError(
            "deploy config loosens the bundle's safety limits: "
            + "; ".join(loose)
            + ". A deploy config may only tighten them; to change them, re-export with --deploy-config"
        )
    out["source"] = base.get("source")
    check_settings(out, action, period)
    return out


def _tighter(loose: list[str], name: str, value: float, base: float, op: str) -> None:
    ok = value <= base + 1e-12 if op == "<=" else value >= base - 1e-12
    if not ok:
        loose.append(f"{name} {value:g} {'>' if op == '<=' else '<'} bundle {base:g}")


def _tighten_vec(
    loose: list[str], name: str, value: list[float] | None, base: list[float], n: int, op: str
) -> list[float]:
    if value is None:
        return list(base)
    vec = _vector(value, n, name, math.inf if op == "<=" else -math.inf)
    for i, (v, b) in enumerate(zip(vec, base, strict=True)):
        _tighter(loose, f"{name}[{i}]", v, b, op)
    return vec
