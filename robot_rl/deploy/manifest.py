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
import math
from pathlib import Path, PurePosixPath
from typing import Any

from robot_rl.errors import InputError, MissingInputError

#: Schema 2 (the deploy contract): ``env.policy_hz``, ``action.safe_action``,
#: ``action.semantics``, ``safety`` (resolved limits), relative file paths only.
SCHEMA = 2
MANIFEST = "manifest.json"
#: Files of a bundle that the manifest's hash list does not cover (the signature signs the manifest).
UNHASHED = frozenset({MANIFEST, "manifest.sig"})
SECTIONS = ("env", "observation", "action", "safety", "files", "formats")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bundle_files(bundle: Path) -> list[Path]:
    """Every file of the bundle except the manifest and its signature, sorted (relative to ``bundle``)."""
    return sorted(
        p.relative_to(bundle)
        for p in bundle.rglob("*")
        if p.is_file() and p.relative_to(bundle).as_posix() not in UNHASHED
    )


def hash_bundle(bundle: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` for every file of the bundle but the manifest."""
    return {p.as_posix(): sha256_file(bundle / p) for p in bundle_files(bundle)}


def write_manifest(bundle: Path, manifest: dict[str, Any]) -> Path:
    """Add the file hashes and write ``manifest.json`` (call after every other file is written)."""
    manifest = {**finite_json(manifest), "files": hash_bundle(bundle)}
    path = bundle / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n")
    return path


def finite_json(value: Any) -> Any:
    """``value`` with every NaN/Inf float replaced by ``None`` (the manifest is strict JSON).

    A run with no successful evaluation episode has a NaN mean time-to-goal, for example; it is
    written as ``null`` ("not measured") instead of making the export fail.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def read_manifest(bundle: Path) -> dict[str, Any]:
    """Load and sanity-check ``manifest.json``.

    Raises:
        FileNotFoundError: no manifest in ``bundle``.
        ValueError: unknown schema version or missing sections.
    """
    path = Path(bundle) / MANIFEST
    if not path.exists():
        raise MissingInputError(f"{path} not found: {bundle} is not an exported bundle (run robot-rl export)")
    try:
        manifest = json.loads(path.read_text(), parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: expected a JSON object")
    if manifest.get("schema") != SCHEMA:
        hint = (
            " (exported by an older robot_rl: re-export it with robot-rl export)"
            if manifest.get("schema") == 1
            else ""
        )
        raise InputError(
            f"{path}: schema {manifest.get('schema')!r} is not supported; this runtime reads {SCHEMA}{hint}"
        )
    missing = [k for k in SECTIONS if k not in manifest]
    if missing:
        raise InputError(f"{path}: missing sections {missing}")
    return manifest


def _refuse_constant(name: str) -> Any:
    raise InputError(f"{name} is not strict JSON")


def path_problems(bundle: Path, rel: str) -> list[str]:
    """Why ``rel`` is not an acceptable bundle file path (empty = acceptable).

    Accepted: a relative POSIX path inside the bundle, no ``..``, no backslash, no symlink on the
    way (a symlink could point anywhere on the robot's disk).
    """
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return [f"{rel!r}: not a relative POSIX path"]
    pure = PurePosixPath(rel)
    if pure.is_absolute() or rel.startswith("~"):
        return [f"{rel}: absolute path; bundle paths must be relative to the bundle directory"]
    if ".." in pure.parts or "." in pure.parts:
        return [f"{rel}: contains '..' or '.'; bundle paths must stay inside the bundle directory"]
    current = Path(bundle)
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            return [
                f"{rel}: {current.relative_to(bundle).as_posix()} is a symlink; bundles hold plain files only"
            ]
    return []


def check_hashes(bundle: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems found comparing the bundle's files with the manifest's SHA-256 (empty = all good)."""
    problems: list[str] = []
    listed = manifest["files"]
    if not isinstance(listed, dict):
        return ["manifest 'files' is not a mapping of relative path -> sha256"]
    bundle = Path(bundle)
    links = [p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_symlink()]
    problems += [f"{rel}: is a symlink; bundles hold plain files only" for rel in links]
    for rel, expected in listed.items():
        bad = path_problems(bundle, rel)
        if bad:
            problems += bad
            continue
        path = bundle / rel
        if not path.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
        elif sha256_file(path) != expected:
            problems.append(f"{rel}: SHA-256 differs from the manifest (file modified or corrupted)")
    extra = [p.as_posix() for p in bundle_files(bundle) if p.as_posix() not in listed]
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
