"""``robot-rl episodes ENV_ID --split test --n 200 --out FILE [--map MAP.yaml] [--difficulty hard]``.

Freezes ``n`` episodes of a navigation env into an episode set (:mod:`robot_rl.envs.nav_episodes`):
episode ``i`` is the env's ``reset(seed=SEED + i)``; the file records its layout seed (or the map
and its SHA-256), start pose, goal and geodesic distance, and the env kwargs that define it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from robot_rl.errors import InputError

#: Default first reset seed per split: selection (val) and reports (test) never share a seed.
DEFAULT_SEEDS = {"train": 0, "val": 1_000_000, "test": 2_000_000}
NAV_IDS = ("robot_rl/MobileNav-v0", "robot_rl/MobileNavDiscrete-v0")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl episodes``."""
    parser.add_argument("env_id", help=f"navigation env ({', '.join(NAV_IDS)})")
    parser.add_argument(
        "--split", default="test", choices=list(DEFAULT_SEEDS), help="layout split (default test)"
    )
    parser.add_argument("--n", type=int, default=200, help="episodes (default 200)")
    parser.add_argument("--out", type=Path, required=True, help="episode set JSON to write")
    parser.add_argument("--map", help="ROS map YAML or shipped map name (office, apartment, warehouse)")
    parser.add_argument("--difficulty", choices=["standard", "hard"], default="standard")
    parser.add_argument("--seed", type=int, help="first reset seed (default: val 1000000, test 2000000)")
    parser.add_argument("--name", help="set name recorded in the file (default: the file's stem)")


def freeze(
    env_id: str,
    env_kwargs: dict[str, Any],
    n: int,
    seed: int,
    name: str,
    progress: bool = False,
) -> dict[str, Any]:
    """Reset ``env_id(**env_kwargs)`` with seeds ``seed .. seed + n - 1`` and freeze each episode."""
    import gymnasium as gym

    from robot_rl.envs.nav_episodes import make_set, record_from_reset
    from robot_rl.envs.registration import register_all

    register_all()
    env = gym.make(env_id, disable_env_checker=True, **env_kwargs)
    records = []
    map_info = None
    try:
        seeds = range(seed, seed + n)
        if progress:
            from tqdm import tqdm

            seeds = tqdm(seeds, unit="episode", desc=f"freezing {name}", dynamic_ncols=True)  # type: ignore[assignment]
        for i, s in enumerate(seeds):
            _, info = env.reset(seed=s)
            records.append(record_from_reset(f"{name}-{i:04d}", s, info))
            if info.get("map") is not None:
                map_info = {"name": info["map"], "sha256": info["map_sha256"]}
    finally:
        env.close()
    return make_set(name, env_id, env_kwargs, records, map_info)


def run(args: argparse.Namespace) -> int:
    """Write the episode set and print where it went."""
    from robot_rl.envs.nav_episodes import write_set

    if args.env_id not in NAV_IDS:
        raise InputError(f"episode sets are for navigation envs ({', '.join(NAV_IDS)}), got {args.env_id!r}")
    if args.n < 1:
        raise InputError(f"--n must be >= 1, got {args.n}")
    kwargs: dict[str, Any] = {"split": args.split}
    if args.difficulty != "standard":
        kwargs["difficulty"] = args.difficulty
    if args.map is not None:
        kwargs["map"] = args.map
    seed = DEFAULT_SEEDS[args.split] if args.seed is None else args.seed
    name = args.name or args.out.stem
    data = freeze(args.env_id, kwargs, args.n, seed, name, progress=sys.stderr.isatty())
    write_set(data, args.out)
    print(f"{args.out}: {len(data['episodes'])} episodes of {args.env_id} {kwargs}, {data['digest']}")
    return 0
