"""``manifest.json`` of an exported bundle: what the policy expects, what it returns, and hashes.

The observation and action layouts come from the env's own :class:`~robot_rl.envs.layout.VectorLayout`
objects (``env.unwrapped.obs_layout`` / ``action_layout``), never re-typed. For envs that are not
robot_rl envs a generic layout (one field per input, unit ``"unknown"``) is derived from the
space. Normalization statistics are written as JSON floats, which round-trip float64 exactly.

This module is also used by :mod:`robot_rl.deploy.runtime`, so it imports only the standard
library at module level.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

SCHEMA = 1
MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bundle_files(bundle: Path) -> list[Path]:
    """Every file of the bundle except the manifest itself, sorted (relative to ``bundle``)."""
    return sorted(p.relative_to(bundle) for p in bundle.rglob("*") if p.is_file() and p.name != MANIFEST)


def hash_bundle(bundle: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` for every file of the bundle but the manifest."""
    return {p.as_posix(): sha256_file(bundle / p) for p in bundle_files(bundle)}


def write_manifest(bundle: Path, manifest: dict[str, Any]) -> Path:
    """Add the file hashes and write ``manifest.json`` (call after every other file is written)."""
    manifest = {**manifest, "files": hash_bundle(bundle)}
    path = bundle / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n")
    return path


def read_manifest(bundle: Path) -> dict[str, Any]:
    """Load and sanity-check ``manifest.json``.

    Raises:
        FileNotFoundError: no manifest in ``bundle``.
        ValueError: unknown schema version or missing sections.
    """
    path = Path(bundle) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: {bundle} is not an exported bundle (run robot-rl export)")
    manifest = json.loads(path.read_text())
    if manifest.get("schema") != SCHEMA:
        raise ValueError(
            f"{path}: schema {manifest.get('schema')!r} is not supported; this runtime reads {SCHEMA}"
        )
    missing = [k for k in ("env", "observation", "action", "files", "formats") if k not in manifest]
    if missing:
        raise ValueError(f"{path}: missing sections {missing}")
    return manifest


def check_hashes(bundle: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems found comparing the bundle's files with the manifest's SHA-256 (empty = all good)."""
    problems = []
    listed: dict[str, str] = manifest["files"]
    for rel, expected in listed.items():
        path = Path(bundle) / rel
        if not path.exists():
            problems.append(f"{rel}: listed in the manifest but missing")
        elif sha256_file(path) != expected:
            problems.append(f"{rel}: SHA-256 differs from the manifest (file modified or corrupted)")
    extra = [p.as_posix() for p in bundle_files(Path(bundle)) if p.as_posix() not in listed]
    problems += [f"{rel}: not listed in the manifest" for rel in extra]
    return problems


# ---------------------------------------------------------------------- export-side helpers
def generic_layout(name: str, size: int, low: list[float], high: list[float]) -> list[dict[str, Any]]:
    """Layout rows (VectorLayout.to_dict format) for a space that has no named layout."""
    finite = [x for x in low + high if abs(x) != float("inf")]
    same = len(set(low)) == 1 and len(set(high)) == 1
    return [
        {
            "name": name,
            "unit": "unknown",
            "size": size,
            "start": 0,
            "stop": size,
            "low": low[0] if same and finite and abs(low[0]) != float("inf") else None,
            "high": high[0] if same and finite and abs(high[0]) != float("inf") else None,
            "description": "no named layout: the env is not a robot_rl env; see its documentation",
        }
    ]


def versions() -> dict[str, str]:
    """Versions of the packages that produced the bundle."""
    out = {"python": platform.python_version()}
    for name in (
        "robot_rl",
        "torch",
        "stable_baselines3",
        "sb3_contrib",
        "gymnasium",
        "numpy",
        "onnx",
        "onnxruntime",
    ):
        try:
            out[name] = str(__import__(name).__version__)
        except (ImportError, AttributeError):
            continue
    return out


def git_commit(cwd: Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the robot_rl checkout (``None`` outside a git checkout)."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
