"""``robot-rl bench fidelity``: a candidate physics setting against the baseline, guard by guard.

Both settings run the same episodes (seeds) in one process, one after the other, so every
difference is the setting's. The guards (:mod:`robot_rl.envs.fidelity`):

* scripted grasp success on the cube, ``random_train``, ``random_test`` and with domain
  randomization;
* the navigation planner's success and SPL on the test split, standard and hard;
* resting objects: the largest drift of an object left alone on the table for 2 s;
* trained policies (``--policies``, zoo names, bundles or run directories): held-out success (and
  SPL for navigation) on ``--policy-episodes`` episodes from the evaluation seed.

A rate guard holds when the candidate's rate is at least the baseline's minus ``--margin`` and
the candidate is not significantly worse on the paired episodes (McNemar's exact test, p >= 0.05
whenever it lost more episodes than it won); an SPL guard when the candidate's mean SPL is at least
the baseline's minus the margin. The default margin, 0.05, is wider than the scatter that any
change of solver settings shows on 100 scripted grasps with domain randomization (the outcome of
a marginal grasp flips either way: 50 -> 30 -> 20 -> 15 iterations gave 75, 72, 79, 80 of 100).
The resting guard is a rate too: the share of placed objects that, once settled, drift less than
:data:`~robot_rl.envs.fidelity.RESTING_DRIFT_LIMIT` in 2 s (every cube does under both settings;
a mesh placed upright may tip over whatever the solver does, and a marginal one tips under one
setting and not the other, in both directions). Speed is
measured too (``robot-rl bench env``'s timed loop, rounds alternating between the settings), so one
run gives the speed-up and what it costs.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from robot_rl.errors import InputError, MissingInputError
from robot_rl.jsonio import dumps_strict

#: Scripted-grasp guard sets: name -> PandaGrasp-v0 kwargs.
GRASP_SETS: dict[str, dict[str, Any]] = {
    "cube": {},
    "random_train": {"object_set": "random_train"},
    "random_test": {"object_set": "random_test"},
    "domain_randomization": {"domain_randomization": True},
}
#: Planner guard splits: name -> MobileNav-v0 kwargs.
PLANNER_SETS: dict[str, dict[str, Any]] = {
    "test": {"split": "test"},
    "hard": {"split": "test", "difficulty": "hard"},
}
#: Resting-object guard sets (the cube pools of both ranges and the mesh objects).
RESTING_SETS: dict[str, dict[str, Any]] = {
    "cube": {},
    "domain_randomization": {"domain_randomization": True},
    "random_train": {"object_set": "random_train"},
    "random_test": {"object_set": "random_test"},
}
DEFAULT_POLICIES = ("zoo:grasp_ppo", "zoo:nav_sac")


@dataclass
class GuardRow:
    """One guard measured under both settings."""

    guard: str
    metric: str
    baseline: float
    candidate: float
    n: int
    passed: bool
    rule: str
    p_value: float | None = None


#: McNemar p-value below which a candidate that lost more paired episodes than it won fails.
SIGNIFICANCE = 0.05


def _rate_row(guard: str, base: list[bool], cand: list[bool], margin: float) -> GuardRow:
    from robot_rl.benchmark.metrics import mcnemar_exact

    b, c = sum(base) / len(base), sum(cand) / len(cand)
    test = mcnemar_exact(base, cand)
    worse = test.only_a > test.only_b and test.p_value < SIGNIFICANCE
    rule = f">= baseline - {margin}, not worse at McNemar p < {SIGNIFICANCE}"
    return GuardRow(
        guard, "success", b, c, len(base), c >= b - margin - 1e-12 and not worse, rule, test.p_value
    )


def _mean_row(guard: str, metric: str, base: list[float], cand: list[float], margin: float) -> GuardRow:
    b, c = sum(base) / len(base), sum(cand) / len(cand)
    return GuardRow(guard, metric, b, c, len(base), c >= b - margin - 1e-12, f">= baseline - {margin}")


def measure(
    setting: dict[str, Any],
    episodes: int,
    guards: tuple[str, ...],
    policies: tuple[str, ...],
    policy_episodes: int,
) -> dict[str, Any]:
    """Every guard's per-episode results under env kwargs ``setting`` (JSON-ready)."""
    from robot_rl.envs import fidelity

    seeds = range(episodes)
    out: dict[str, Any] = {}
    if "grasp" in guards:
        for name, kwargs in GRASP_SETS.items():
            out[f"grasp/{name}"] = fidelity.scripted_grasps(seeds, **kwargs, **setting)
    if "planner" in guards:
        for name, kwargs in PLANNER_SETS.items():
            out[f"planner/{name}"] = [asdict(r) for r in fidelity.planner_runs(seeds, **kwargs, **setting)]
    if "resting" in guards:
        for name, kwargs in RESTING_SETS.items():
            out[f"resting/{name}"] = fidelity.resting_drift(seeds, **kwargs, **setting)
    for source in policies:
        out[f"policy/{source}"] = _policy_episodes(source, setting, policy_episodes)
    return out


def guard_keys(guards: tuple[str, ...], policies: tuple[str, ...]) -> list[str]:
    """The result keys :func:`measure` writes for these guards and policies, in its order."""
    keys = []
    if "grasp" in guards:
        keys += [f"grasp/{name}" for name in GRASP_SETS]
    if "planner" in guards:
        keys += [f"planner/{name}" for name in PLANNER_SETS]
    if "resting" in guards:
        keys += [f"resting/{name}" for name in RESTING_SETS]
    return keys + [f"policy/{source}" for source in policies]


def load_reference(
    path: Path, baseline: dict[str, Any], episodes: int, policy_episodes: int, keys: list[str]
) -> dict[str, Any]:
    """The baseline's per-episode results from an earlier ``--json``, checked to fit this run.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a bench fidelity JSON, another baseline setting, other episode counts, or a
            guard or policy it did not measure (the message names what it has).
    """
    if not path.is_file():
        raise MissingInputError(
            f"--reference {path}: no such file (expected an earlier --json of bench fidelity)"
        )
    try:
        data = json.loads(path.read_text())
        settings, results = data["settings"], data["results"]
        baseline_setting, baseline_results = settings[0], results[0]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(f"--reference {path} is not a bench fidelity --json file: {exc!r}") from exc
    if not isinstance(baseline_results, dict):
        raise InputError(
            f"--reference {path} is not a bench fidelity --json file: results[0] is not an object"
        )
    if baseline_setting != baseline:
        raise InputError(
            f"--reference {path} measured the baseline {baseline_setting}; this run's baseline is {baseline}"
        )
    uses_policies = any(k.startswith("policy/") for k in keys)
    if data.get("episodes") != episodes or (uses_policies and data.get("policy_episodes") != policy_episodes):
        raise InputError(
            f"--reference {path} has --episodes {data.get('episodes')} and --policy-episodes "
            f"{data.get('policy_episodes')}; this run asks for {episodes} and {policy_episodes}: the "
            "episodes must be the same"
        )
    missing = [k for k in keys if k not in baseline_results]
    if missing:
        raise InputError(
            f"--reference {path} has no results for {missing}; it has {sorted(baseline_results)}"
        )
    return {k: baseline_results[k] for k in keys}


def _policy_episodes(source: str, setting: dict[str, Any], episodes: int) -> list[dict[str, Any]]:
    """Held-out episodes (seed 2,000,000 on; navigation: test split) of a bundle or a run's best model."""
    from robot_rl.benchmark.sources import load_source
    from robot_rl.train.evaluate import DEFAULT_EVAL_SEED, eval_env_kwargs, run_episodes

    src = load_source(source, which="best")
    kwargs = {**eval_env_kwargs(src.info, src.env_id, None, []), **setting}
    result = run_episodes(
        src.model, src.env_id, kwargs, episodes, DEFAULT_EVAL_SEED, vecnormalize=src.vecnormalize
    )
    return [{"success": bool(r["success"]), "spl": r.get("metric_spl")} for r in result.rows]


def _check_policy(source: str) -> None:
    """Raise the loader's own error (naming what exists) for a policy that is not there."""
    from robot_rl.benchmark.sources import is_bundle
    from robot_rl.runs import resolve_model
    from robot_rl.zoo import resolve_bundle

    if is_bundle(source):
        resolve_bundle(source)
    else:
        resolve_model(source, which="best")


def compare(base: dict[str, Any], cand: dict[str, Any], margin: float) -> list[GuardRow]:
    """Guard rows from two :func:`measure` results over the same episodes."""
    from robot_rl.envs.fidelity import RESTING_DRIFT_LIMIT

    rows: list[GuardRow] = []
    for key in base:
        b, c = base[key], cand[key]
        kind = key.split("/", 1)[0]
        if kind == "grasp":
            rows.append(_rate_row(f"scripted grasp, {key.split('/', 1)[1]}", b, c, margin))
        elif kind in ("planner", "policy"):
            label = f"planner, {key.split('/', 1)[1]}" if kind == "planner" else key.split("/", 1)[1]
            rows.append(_rate_row(label, [r["success"] for r in b], [r["success"] for r in c], margin))
            if b and b[0].get("spl") is not None:
                rows.append(_mean_row(label, "SPL", [r["spl"] for r in b], [r["spl"] for r in c], margin))
        elif kind == "resting":
            # The share of placed objects that stay at rest (drift under the limit after settling):
            # a marginal mesh may tip one way under one setting and the other way under another
            # (chaotic either way), so resting is a rate with the rate rule, like success.
            row = _rate_row(f"resting object, {key.split('/', 1)[1]}", [d < RESTING_DRIFT_LIMIT for d in b],
                            [d < RESTING_DRIFT_LIMIT for d in c], margin)  # fmt: skip
            row.metric = "rests (<1 mm)"
            rows.append(row)
    return rows


def speed(env_id: str, settings: list[dict[str, Any]], steps: int, rounds: int) -> list[float]:
    """Median env steps/s of ``env_id`` under each setting, rounds alternating between them."""
    import statistics

    import gymnasium as gym

    from robot_rl.envs.speed import time_env

    envs = [gym.make(env_id, **s) for s in settings]
    try:
        for env in envs:
            env.reset(seed=0)
            env.action_space.seed(0)
        actions = [envs[0].action_space.sample() for _ in range(min(steps, 512))]  # outside the timing
        figures: list[list[float]] = [[] for _ in envs]
        for _ in range(rounds):
            for env, fig in zip(envs, figures, strict=True):
                fig.append(steps / time_env(env, steps, actions))
    finally:
        for env in envs:
            env.close()
    return [statistics.median(f) for f in figures]


def speed_envs(guards: tuple[str, ...]) -> list[str]:
    """The envs whose speed the chosen guards speak for (both when no guard names one)."""
    envs = []
    if {"grasp", "resting"} & set(guards):
        envs.append("robot_rl/PandaGrasp-v0")
    if "planner" in guards:
        envs.append("robot_rl/MobileNav-v0")
    return envs or ["robot_rl/PandaGrasp-v0", "robot_rl/MobileNav-v0"]


def format_rows(rows: list[GuardRow]) -> str:
    """The guard table as text."""
    lines = [
        f"{'guard':<34} {'metric':<15} {'baseline':>9} {'candidate':>9} {'n':>4} {'McNemar p':>9}  verdict"
    ]
    for r in rows:
        p = f"{r.p_value:.3f}" if r.p_value is not None else "-"
        verdict = "keeps" if r.passed else f"FAILS ({r.rule})"
        lines.append(
            f"{r.guard:<34} {r.metric:<15} {r.baseline:>9.3f} {r.candidate:>9.3f} {r.n:>4d} {p:>9}  {verdict}"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl bench fidelity``."""
    parser.add_argument("--candidate", type=int, required=True, help="solver_iterations to test")
    parser.add_argument(
        "--baseline", type=int, default=50, help="solver_iterations to compare with (default 50)"
    )
    parser.add_argument("--episodes", type=int, default=50, help="episodes per scripted/planner/resting set")
    default = ",".join(DEFAULT_POLICIES)
    parser.add_argument(
        "--policies", default=default,
        help=f"comma-separated zoo names, bundles or run dirs (default {default}; '' for none)",
    )  # fmt: skip
    parser.add_argument("--policy-episodes", type=int, default=200, help="held-out episodes per policy")
    parser.add_argument(
        "--guards",
        default="grasp,planner,resting",
        help="comma-separated: grasp, planner, resting (default all)",
    )
    parser.add_argument(
        "--margin", type=float, default=0.05, help="allowed drop of a rate or SPL (default 0.05)"
    )
    parser.add_argument(
        "--speed-steps", type=int, default=1000, help="env steps per timed round (0: skip speed)"
    )
    parser.add_argument("--json", type=Path, help="write settings, per-episode results and rows here")
    parser.add_argument(
        "--reference",
        type=Path,
        help="take the baseline's results from an earlier --json instead of measuring them: checks a "
        "change of code (not of settings) against what the code before it measured, same episodes",
    )


def run(args: argparse.Namespace) -> int:
    """Measure both settings, print the guard table and the speed-up; exit 1 if a guard fails."""
    guards = tuple(g.strip() for g in args.guards.split(",") if g.strip())
    unknown = sorted(set(guards) - {"grasp", "planner", "resting"})
    if unknown:
        raise InputError(f"--guards {unknown} not accepted; choose from grasp, planner, resting")
    if args.episodes < 1 or args.policy_episodes < 1 or args.speed_steps < 0:
        raise InputError("--episodes and --policy-episodes must be >= 1, --speed-steps >= 0")
    policies = tuple(p.strip() for p in args.policies.split(",") if p.strip())
    settings = [{"solver_iterations": args.baseline}, {"solver_iterations": args.candidate}]
    from robot_rl.sim.session import PyBulletSession

    for s in settings:  # reject a bad value before minutes of measuring
        PyBulletSession(**s).close()
    for source in policies:  # and a policy that cannot be found
        _check_policy(source)
    reference = None
    if args.reference is not None:
        reference = load_reference(args.reference, settings[0], args.episodes, args.policy_episodes,
                                   guard_keys(guards, policies))  # fmt: skip
    started = time.time()
    if reference is None:
        results = [measure(s, args.episodes, guards, policies, args.policy_episodes) for s in settings]
        origin = "baseline"
    else:
        results = [reference, measure(settings[1], args.episodes, guards, policies, args.policy_episodes)]
        origin = f"baseline from {args.reference}"
    rows = compare(results[0], results[1], args.margin)
    print(f"solver_iterations {args.baseline} ({origin}) vs {args.candidate} (candidate), same episodes")
    print(format_rows(rows))
    speeds: dict[str, list[float]] = {}
    if args.speed_steps:
        for env_id in speed_envs(guards):
            speeds[env_id] = speed(env_id, settings, args.speed_steps, rounds=3)
            b, c = speeds[env_id]
            on = ", both settings timed on this code, not the reference's" if reference is not None else ""
            print(
                f"{env_id}: {b:.0f} -> {c:.0f} env steps/s (x{c / b:.2f}, median of 3 alternating rounds{on})"
            )
    failed = [r.guard + " " + r.metric for r in rows if not r.passed]
    print("all guards keep" if not failed else f"{len(failed)} guard(s) fail: {', '.join(failed)}")
    print(f"({time.time() - started:.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"settings": settings, "episodes": args.episodes, "policy_episodes": args.policy_episodes,
                   "margin": args.margin, "rows": [asdict(r) for r in rows], "speed": speeds,
                   "results": results, "reference": args.reference and str(args.reference),
                   "speed_timed_on": "this code, both settings"}  # fmt: skip
        args.json.write_text(dumps_strict(payload, indent=2) + "\n")
    return 1 if failed else 0


__all__ = ["compare", "format_rows", "measure", "run", "speed"]
