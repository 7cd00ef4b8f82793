"""``robot-rl replay LOG.mcap [BUNDLE]``: re-run the policy offline on a recorded deployment.

Reads the ``/robot_rl/deploy_tick`` channel of a log written by ``deploy --record`` (see
:mod:`robot_rl.deploy.ros2.recorder`), feeds every policy tick's recorded observation to the
bundle's policy (the one recorded in the log's metadata, or ``BUNDLE``) and reports the largest
difference between the re-computed and the logged raw action. It also flags observation fields
that left the training distribution: entries whose z-score against the bundle's normalization
statistics (``manifest["normalization"]["obs"]``: the VecNormalize mean and variance) exceeds a
threshold, with how often and when (seconds from the first tick); for a bundle without
normalization, entries outside the field's trained range ``[low, high]``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.deploy.ros2.recorder import TICK_TOPIC
from robot_rl.errors import InputError, MissingInputError


@dataclass
class TickLog:
    """The ticks of a log as arrays (``n`` ticks, ``d`` observation entries, ``a`` action entries)."""

    time_s: NDArray[np.float64]  # (n,) seconds since the first tick (log time)
    policy_step: NDArray[np.bool_]  # (n,)
    observation: NDArray[np.float32]  # (n, d)
    has_raw: NDArray[np.bool_]  # (n,)
    raw_action: NDArray[np.float32]  # (n, a), NaN where none
    action: NDArray[np.float32]  # (n, a)
    flags: NDArray[np.int64]  # (n,)
    log_time_ns: NDArray[np.int64]  # (n,)
    metadata: dict[str, str] = field(default_factory=dict)
    manifest_text: str = ""


def read_ticks(path: Path) -> TickLog:
    """The deploy ticks, metadata and recorded manifest of an MCAP log.

    Raises:
        MissingInputError: no such file. InputError: not an MCAP file, or no deploy ticks in it.
    """
    from mcap.exceptions import McapError
    from mcap.reader import make_reader

    from robot_rl.deploy.ros2.types import DeployTick

    path = Path(path)
    if not path.is_file():
        raise MissingInputError(
            f"log {path} not found (write one with robot-rl deploy ... --record LOG.mcap)"
        )
    rows: list[tuple[int, Any]] = []
    meta: dict[str, str] = {}
    manifest = ""
    try:
        with path.open("rb") as fh:
            reader = make_reader(fh)
            for _, _, message in reader.iter_messages(topics=[TICK_TOPIC]):
                rows.append((message.log_time, DeployTick.deserialize(message.data)))
            for record in reader.iter_metadata():
                if record.name == "robot_rl":
                    meta = dict(record.metadata)
            for attachment in reader.iter_attachments():
                if attachment.name == "manifest.json":
                    manifest = attachment.data.decode()
    except (McapError, ValueError, EOFError) as exc:
        raise InputError(f"{path} is not a readable MCAP log: {exc}") from None
    if not rows:
        raise InputError(f"{path} has no {TICK_TOPIC} messages: record it with robot-rl deploy --record")
    ticks = [t for _, t in rows]
    d = max(len(t.observation) for t in ticks)
    a = max(len(t.action) for t in ticks)
    obs = np.full((len(ticks), d), np.nan, np.float32)
    raw = np.full((len(ticks), a), np.nan, np.float32)
    for i, t in enumerate(ticks):
        if len(t.observation) == d:
            obs[i] = t.observation
        if t.has_raw_action and len(t.raw_action) == a:
            raw[i] = t.raw_action
    log_ns = np.array([ns for ns, _ in rows], np.int64)
    return TickLog(
        time_s=(log_ns - log_ns[0]) * 1e-9,
        policy_step=np.array([t.policy_step for t in ticks]),
        observation=obs,
        has_raw=np.array([t.has_raw_action for t in ticks]),
        raw_action=raw,
        action=np.array([t.action for t in ticks], np.float32),
        flags=np.array([t.flags for t in ticks], np.int64),
        log_time_ns=log_ns,
        metadata=meta,
        manifest_text=manifest,
    )


@dataclass
class OodField:
    """An observation entry that left the training distribution."""

    name: str
    ticks: int
    fraction: float
    first_s: float
    last_s: float
    max_abs_z: float


def entry_names(manifest: dict[str, Any]) -> list[str]:
    """``lidar[0]``, ..., ``base_speed``, ...: one name per observation entry."""
    names = []
    for spec in manifest["observation"]["inputs"]:  # several inputs (depth, proprio): in manifest order
        for f in spec.get("layout", []):
            names += [f["name"]] if f["size"] == 1 else [f"{f['name']}[{i}]" for i in range(f["size"])]
    return names


def _bounds(manifest: dict[str, Any]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-entry trained range of the flat observation (unbounded where a layout gives none)."""
    rows = [f for spec in manifest["observation"]["inputs"] for f in spec.get("layout", [])]
    low = np.concatenate([np.full(f["size"], -np.inf if f["low"] is None else f["low"]) for f in rows])
    high = np.concatenate([np.full(f["size"], np.inf if f["high"] is None else f["high"]) for f in rows])
    return low, high


def out_of_distribution(
    log: TickLog, manifest: dict[str, Any], threshold: float
) -> tuple[str, list[OodField]]:
    """Entries whose |z| (or range excess) is above ``threshold`` on any tick; returns (method, fields)."""
    obs = log.observation.astype(np.float64)
    finite = np.isfinite(obs)
    norm = (manifest.get("normalization") or {}).get("obs")
    if norm:
        mean, var = np.asarray(norm["mean"]), np.asarray(norm["var"])
        magnitude = np.abs(obs - mean) / np.sqrt(var + float(norm.get("epsilon", 1e-8)))
        hit = finite & (magnitude > threshold)
        method = f"|z| > {threshold:g} against the bundle's normalization statistics (max |z|)"
    else:
        low, high = _bounds(manifest)
        magnitude = np.maximum(low - obs, obs - high)
        hit = finite & (magnitude > 0)
        method = "outside the trained range [low, high] (max excess in field units)"
    names = entry_names(manifest) or [f"obs[{i}]" for i in range(obs.shape[1])]
    out = []
    for j in np.flatnonzero(hit.any(axis=0)):
        idx = np.flatnonzero(hit[:, j])
        out.append(OodField(names[j], len(idx), len(idx) / len(obs), float(log.time_s[idx[0]]),
                            float(log.time_s[idx[-1]]), float(magnitude[idx, j].max())))  # fmt: skip
    return method, out


@dataclass
class ReplayReport:
    """What :func:`replay` found."""

    ticks: int
    policy_steps: int
    max_action_diff: float
    worst_tick: int
    ood_method: str
    ood: list[OodField]
    bundle: str


def replay(path: Path, bundle: Path | None = None, z_threshold: float = 4.0) -> ReplayReport:
    """Re-run the policy on a log's policy ticks (see module docstring).

    Raises:
        InputError: no bundle given and none recorded, or a bundle other than the recorded one
            (its manifest differs), or a log without policy ticks.
    """
    from robot_rl.deploy.runtime import PolicyRunner

    log = read_ticks(path)
    recorded = log.metadata.get("bundle") or ""
    if bundle is None:
        if not recorded or not Path(recorded).is_dir():
            raise InputError(
                f"{path}: give the BUNDLE (the log names {recorded or 'none'}, which is not here)"
            )
        bundle = Path(recorded)
    runner = PolicyRunner(bundle)
    digest = hashlib.sha256(json.dumps(runner.manifest, sort_keys=True).encode()).hexdigest()
    if log.metadata.get("manifest_sha256") and digest != log.metadata["manifest_sha256"]:
        raise InputError(f"{bundle} is not the bundle {path} was recorded with (its manifest differs)")
    steps = np.flatnonzero(log.policy_step & log.has_raw)
    if not len(steps):
        raise InputError(f"{path}: no tick in which the policy ran (every tick was a safety stop)")
    diffs = np.array([np.max(np.abs(np.asarray(runner.act(log.observation[i]), np.float64)
                                    - log.raw_action[i].astype(np.float64))) for i in steps])  # fmt: skip
    method, ood = out_of_distribution(log, runner.manifest, z_threshold)
    worst = int(np.argmax(diffs))
    return ReplayReport(
        len(log.flags), len(steps), float(diffs[worst]), int(steps[worst]), method, ood, str(bundle)
    )


def format_report(report: ReplayReport, tolerance: float) -> str:
    """The replay report as printed by ``robot-rl replay``."""
    ok = "OK" if report.max_action_diff <= tolerance else "MISMATCH"
    lines = [
        f"replay with {report.bundle}: {report.ticks} ticks, {report.policy_steps} policy steps re-run; "
        f"max |action - logged| = {report.max_action_diff:.3g} (tick {report.worst_tick}; tolerance "
        f"{tolerance:g}): {ok}",
    ]
    if not report.ood:
        lines.append(f"observation: no entry {report.ood_method}")
    else:
        lines.append(f"observation entries {report.ood_method}:")
        lines += [
            f"  {f.name}: {f.ticks} ticks ({f.fraction:.1%}), first at {f.first_s:.2f} s, "
            f"last at {f.last_s:.2f} s, max {f.max_abs_z:.1f}"
            for f in report.ood
        ]
    return "\n".join(lines)
