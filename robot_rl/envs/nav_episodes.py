"""Frozen navigation episode sets: JSON files that pin every episode of an evaluation.

An episode set (``robot-rl episodes``, shipped ones in ``assets/episodes/``) is one JSON object::

    {"format": "robot_rl.nav_episodes", "version": 1, "name": "test", "env_id": "robot_rl/MobileNav-v0",
     "env_kwargs": {"split": "test", ...},          # what defines the episodes (not the agent's)
     "map": null | {"name": "office", "sha256": "..."},
     "episodes": [{"id": "test-0000", "seed": 2000000, "layout_seed": 1147607 | null,
                   "start": [x, y], "start_yaw": yaw, "goal": [x, y], "geodesic_distance": g}, ...],
     "digest": "sha256:..."}

Positions are env-frame metres (for maps: :mod:`robot_rl.envs.nav_map`), ``start_yaw`` in rad,
``geodesic_distance`` the string-pulled shortest path (m) the env computed. ``digest`` is the
SHA-256 of the canonical JSON (sorted keys, no spaces) of everything else, checked on load.

Replay: ``env.reset(seed=ep["seed"], options={"episode": ep})`` rebuilds the layout (or uses the
map, checking its SHA-256), puts the robot at ``start`` facing ``start_yaw`` and the goal at
``goal``, and recomputes the shortest path; a geodesic that differs from the file's means the file
was made by other code or another map and is refused. The same episode therefore replays bit for
bit, and an episode frozen from a sampled reset replays exactly that reset.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.errors import InputError, MissingInputError

FORMAT = "robot_rl.nav_episodes"
VERSION = 1
EPISODE_KEYS = ("id", "seed", "layout_seed", "start", "start_yaw", "goal", "geodesic_distance")
#: Env kwargs that define episodes; a benchmark takes them from the file, never from the agent.
EPISODE_KWARGS = (
    "split",
    "difficulty",
    "geodesic_range",
    "map",
    "max_episode_seconds",
    "terminate_on_collision",
)
#: Shipped sets live here inside the assets.
EPISODES_DIR = "episodes"
#: Relative tolerance between a replayed and a recorded geodesic (floating-point noise only).
GEODESIC_RTOL = 1e-9


def canonical_json(data: Any) -> str:
    """Sorted keys, no whitespace, strict (NaN/Infinity refused): what the digest hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest_of(data: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``data`` without its ``digest`` key."""
    body = {k: v for k, v in data.items() if k != "digest"}
    return "sha256:" + hashlib.sha256(canonical_json(body).encode()).hexdigest()


def make_set(
    name: str,
    env_id: str,
    env_kwargs: Mapping[str, Any],
    episodes: list[dict[str, Any]],
    map_info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An episode set with its digest."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "env_id": env_id,
        "env_kwargs": dict(env_kwargs),
        "map": dict(map_info) if map_info is not None else None,
        "episodes": [{k: ep[k] for k in EPISODE_KEYS} for ep in episodes],
    }
    data["digest"] = digest_of(data)
    return data


def write_set(data: Mapping[str, Any], path: Path) -> Path:
    """Write an episode set as indented strict JSON (one trailing newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def shipped_sets() -> dict[str, Path]:
    """Shipped episode sets by name (``test`` -> ``.../episodes/test.json``)."""
    from robot_rl.resources import assets_dir

    root = assets_dir() / EPISODES_DIR
    return {p.stem: p for p in sorted(root.glob("*.json"))} if root.is_dir() else {}


def resolve_set(arg: str | Path) -> Path:
    """An existing file, or a shipped set's name (``test``, ``office``).

    Raises:
        MissingInputError: neither (the message lists the shipped names).
    """
    path = Path(arg)
    if path.is_file():
        return path
    shipped = shipped_sets()
    if str(arg) in shipped:
        return shipped[str(arg)]
    names = ", ".join(shipped) or "none"
    raise MissingInputError(
        f"episode set {str(arg)!r} is neither a file nor a shipped set (shipped: {names})"
    )


def load_set(arg: str | Path) -> dict[str, Any]:
    """Read and check an episode set (format, version, keys, digest).

    Raises:
        MissingInputError: no such file or shipped name.
        InputError: not an episode set, another version, missing keys, or a digest mismatch.
    """
    path = resolve_set(arg)
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path} is not a robot_rl episode set (format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise InputError(
            f"{path}: episode set version {data.get('version')!r}; this robot_rl reads {VERSION}"
        )
    for i, ep in enumerate(data.get("episodes") or []):
        missing = [k for k in EPISODE_KEYS if k not in ep]
        if missing:
            raise InputError(f"{path}: episode {i} lacks {missing}")
    if not data.get("episodes"):
        raise InputError(f"{path} holds no episodes")
    if data.get("digest") != digest_of(data):
        raise InputError(
            f"{path}: digest mismatch (file says {data.get('digest')}, content is {digest_of(data)}); "
            "the file was edited after it was written"
        )
    return data


def _refuse_constant(name: str) -> Any:
    raise InputError(f"episode sets are strict JSON; {name} is not allowed")


def record_from_reset(episode_id: str, seed: int, info: Mapping[str, Any]) -> dict[str, Any]:
    """The frozen record of an episode from ``env.reset(seed=seed)``'s ``info``."""
    layout_seed = info.get("layout_seed")
    return {
        "id": episode_id,
        "seed": int(seed),
        "layout_seed": None if info.get("map") is not None else int(layout_seed),  # type: ignore[arg-type]
        "start": [float(v) for v in info["start"]],
        "start_yaw": float(info["start_yaw"]),
        "goal": [float(v) for v in info["goal"]],
        "geodesic_distance": float(info["geodesic_distance"]),
    }


def check_record(record: Any, map_sha256: str | None, split_seeds: tuple[int, int]) -> None:
    """Check an episode record against the env it is replayed in (called by the env's ``reset``).

    Raises:
        InputError: a malformed record, a layout seed outside the env's split, a layout episode in
            a map env or the reverse, or a map episode from another map (SHA-256).
    """
    if not isinstance(record, Mapping):
        raise InputError(
            f"options['episode'] must be an episode record (a mapping), got {type(record).__name__}"
        )
    missing = [k for k in EPISODE_KEYS if k not in record]
    if missing:
        raise InputError(f"episode record lacks {missing}")
    for key in ("start", "goal"):
        xy = record[key]
        if not (isinstance(xy, list | tuple) and len(xy) == 2 and all(_finite(v) for v in xy)):
            raise InputError(f"episode {record['id']!r}: {key} must be [x, y] in m, got {xy!r}")
    if not _finite(record["start_yaw"]) or not _finite(record["geodesic_distance"]):
        raise InputError(f"episode {record['id']!r}: start_yaw and geodesic_distance must be finite numbers")
    layout_seed, map_ref = record["layout_seed"], record.get("map_sha256")
    if map_sha256 is None:
        if layout_seed is None:
            raise InputError(
                f"episode {record['id']!r} is a map episode; make the env with the episode set's map"
            )
        lo, hi = split_seeds
        if not isinstance(layout_seed, int) or not lo <= layout_seed < hi:
            raise InputError(
                f"episode {record['id']!r}: layout_seed={layout_seed!r} is outside the split [{lo}, {hi})"
            )
    else:
        if layout_seed is not None:
            raise InputError(
                f"episode {record['id']!r} is a procedural-layout episode; this env runs on a map"
            )
        if map_ref is not None and map_ref != map_sha256:
            raise InputError(
                f"episode {record['id']!r} was frozen on a map with SHA-256 {map_ref}, this env's map is "
                f"{map_sha256}"
            )


def check_replayed_geodesic(record: Mapping[str, Any], geodesic: float) -> None:
    """Refuse a replay whose shortest path differs from the recorded one.

    Raises:
        InputError: the difference exceeds :data:`GEODESIC_RTOL` (relative).
    """
    recorded = float(record["geodesic_distance"])
    if not math.isclose(geodesic, recorded, rel_tol=GEODESIC_RTOL, abs_tol=1e-12):
        raise InputError(
            f"episode {record['id']!r}: replayed geodesic {geodesic!r} m differs from the recorded "
            f"{recorded!r} m; the episode set was made by other code or on another map"
        )


def episodes_with_map(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The set's episode records, each carrying the set's map SHA-256 (``map_sha256``) for the env."""
    sha = (data.get("map") or {}).get("sha256")
    return [{**ep, "map_sha256": sha} if sha else dict(ep) for ep in data["episodes"]]


def _finite(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and math.isfinite(float(v))


class EpisodeSequence:
    """The episodes of a set, replayed in file order by successive resets (``episodes=FILE``).

    ``MobileNavEnv(episodes=FILE)`` (a path or a shipped set's name) loads the set (digest checked),
    checks that the env was made with the set's episode-defining kwargs (:data:`EPISODE_KWARGS`) and
    then hands :meth:`next` to every ``reset`` that does not name an episode itself. After the last
    episode the sequence wraps around to the first: a vectorized env resets on its own when an
    episode ends, and a loop over exactly ``len(sequence)`` episodes must not fail on that extra
    reset. ``passes`` counts completed passes over the file.

    Args:
        arg: The episode set (a file or a shipped set's name).
        env_kwargs: The env's values of :data:`EPISODE_KWARGS` (``map`` as given, ``None`` without).
        map_sha256: The SHA-256 of the env's map (``None`` on procedural layouts).

    Raises:
        MissingInputError: no such file or shipped set.
        InputError: not a valid set (format, digest), or a kwarg that differs from the set's
            (named, with both values).
    """

    def __init__(self, arg: str | Path, env_kwargs: Mapping[str, Any], map_sha256: str | None) -> None:
        data = load_set(arg)
        check_env_kwargs(data, env_kwargs, map_sha256)
        self.name: str = data["name"]
        self.records = episodes_with_map(data)
        self.index = 0
        self.passes = 0

    def __len__(self) -> int:
        return len(self.records)

    def next(self) -> dict[str, Any]:
        """The next record in file order (the first again after the last)."""
        record = self.records[self.index]
        self.index += 1
        if self.index == len(self.records):
            self.index, self.passes = 0, self.passes + 1
        return record


def check_env_kwargs(data: Mapping[str, Any], env_kwargs: Mapping[str, Any], map_sha256: str | None) -> None:
    """Refuse an env whose episode-defining kwargs differ from those the set was frozen with.

    A kwarg the set does not record was frozen at the env's default. Maps compare by SHA-256, so a
    shipped map's name and the path of its YAML are the same map.

    Raises:
        InputError: naming the first differing kwarg, the set's value and the env's.
    """
    import inspect

    from robot_rl.envs.nav_env import MobileNavEnv

    defaults = {k: p.default for k, p in inspect.signature(MobileNavEnv.__init__).parameters.items()}
    frozen = data["env_kwargs"]
    for key in EPISODE_KWARGS:
        want = frozen.get(key, defaults[key])
        have = env_kwargs.get(key, defaults[key])
        if key == "map":
            want_sha = (data.get("map") or {}).get("sha256") if want is not None else None
            if want is not None and have is not None and want_sha != map_sha256:
                raise InputError(
                    f"episode set {data['name']!r} was frozen on map={want!r} (SHA-256 {want_sha}), this "
                    f"env's map={have!r} has SHA-256 {map_sha256}; make the env with the set's map"
                )
            same = (want is None) == (have is None)
        elif key == "geodesic_range":
            same = [float(v) for v in want] == [float(v) for v in have]
        else:
            same = want == have
        if not same:
            raise InputError(
                f"episode set {data['name']!r} was frozen with {key}={want!r}, this env has {key}={have!r}; "
                f"make the env with {key}={want!r} (the set's env_kwargs: {dict(frozen)})"
            )
