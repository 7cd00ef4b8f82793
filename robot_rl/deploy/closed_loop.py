"""Closed loop: a reference recorded with SB3 at export time, re-run with the bundle's ONNX policy.

At export, :func:`record_sb3_reference` runs SB3's ``predict(deterministic=True)`` (the same
:func:`~robot_rl.deploy.golden.sb3_actions` path as ``golden.npz``) on ``episodes`` seeded
episodes of a fresh simulated env (seeds ``seed, seed + 1, ...``) and :func:`write_reference`
stores the result in the bundle as ``closed_loop.json`` (so the manifest's SHA-256 list covers
it). At verify time, :func:`compare_with_reference` re-runs the same seeds with the bundle's own
ONNX policy (:class:`~robot_rl.deploy.runtime.PolicyRunner`) and compares: nothing outside the
bundle is read, nothing is unpickled and no SB3 model is loaded.

``closed_loop.json`` (schema 1)::

    {
      "schema": 1,
      "policy": "sb3 predict(deterministic=True)",
      "env": {"id": "...", "kwargs": {...}},
      "seed": 20000,
      "episodes": 10,
      "per_episode": [{"seed": 20000, "success": true | false | null, "return": -1.5, "length": 200}, ...],
      "summary": {"successes": 3 | null, "success_rate": 0.3 | null, "return_mean": -1.5,
                  "length_mean": 200.0}
    }

``success`` is the final ``info["is_success"]`` of the episode, ``null`` when the env reports none
(then ``successes`` and ``success_rate`` are ``null`` too and returns are compared instead).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robot_rl.errors import InputError

if TYPE_CHECKING:
    from robot_rl.deploy.runtime import PolicyRunner
    from robot_rl.deploy.spec import PolicySpec

#: First seed of the closed-loop episodes (episode ``i`` uses ``CLOSED_LOOP_SEED + i``).
CLOSED_LOOP_SEED = 20_000
#: File of the bundle holding the reference.
REFERENCE_FILE = "closed_loop.json"
REFERENCE_SCHEMA = 1
#: Relative (and absolute) tolerance on the mean return for envs without ``is_success``.
RETURN_RTOL = 0.01
RETURN_ATOL = 1e-3


def make_env(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    """``gym.make(env_id, **env_kwargs)`` with the robot_rl ids registered (input errors named)."""
    from robot_rl.envs.make import make_env as make

    return make(env_id, **env_kwargs)


def run_episodes(env: Any, act: Callable[[Any], Any], episodes: int, seed: int) -> dict[str, Any]:
    """Run ``episodes`` episodes with seeds ``seed + i``; success = final ``info["is_success"]``.

    Args:
        env: Gymnasium env (reset with ``seed + i`` before episode ``i``).
        act: Observation -> action.
        episodes: Number of episodes.
        seed: Seed of the first episode.

    Returns:
        ``{"successes": int | None, "success_rate": float | None, "return_mean": float,
        "returns": list[float], "lengths": list[int], "success": list[bool | None]}``;
        ``success[i]`` is None when episode ``i`` ended without ``is_success`` in its info,
        ``successes``/``success_rate`` are None when no episode reported it.
    """
    returns: list[float] = []
    lengths: list[int] = []
    success: list[bool | None] = []
    for i in range(episodes):
        obs, info = env.reset(seed=seed + i)
        total, steps, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            total += float(reward)
            steps += 1
            done = terminated or truncated
        success.append(bool(info["is_success"]) if "is_success" in info else None)
        returns.append(total)
        lengths.append(steps)
    reported = [s for s in success if s is not None]
    return {
        "successes": int(sum(reported)) if reported else None,
        "success_rate": float(np.mean(reported)) if reported else None,
        "return_mean": float(np.mean(returns)) if returns else 0.0,
        "returns": returns,
        "lengths": lengths,
        "success": success,
    }


def _summary(per_episode: Sequence[dict[str, Any]]) -> dict[str, Any]:
    reported = [e["success"] for e in per_episode if e["success"] is not None]
    returns = [float(e["return"]) for e in per_episode]
    return {
        "successes": int(sum(reported)) if reported else None,
        "success_rate": float(np.mean(reported)) if reported else None,
        "return_mean": float(np.mean(returns)) if returns else 0.0,
        "length_mean": float(np.mean([e["length"] for e in per_episode])) if per_episode else 0.0,
    }


def record_reference(env: Any, act: Callable[[Any], Any], episodes: int, seed: int) -> dict[str, Any]:
    """Run the episodes of :func:`run_episodes` and return the JSON-ready record.

    Args:
        env: Gymnasium env.
        act: Observation -> action.
        episodes: Number of seeded episodes.
        seed: Seed of the first episode.

    Returns:
        ``{"seed", "episodes", "per_episode": [{"seed", "success", "return", "length"}], "summary"}``
        (the module docstring's format without ``schema``, ``policy`` and ``env``).
    """
    run = run_episodes(env, act, episodes, seed)
    per_episode = [
        {"seed": seed + i, "success": s, "return": float(r), "length": int(n)}
        for i, (s, r, n) in enumerate(zip(run["success"], run["returns"], run["lengths"], strict=True))
    ]
    return {"seed": seed, "episodes": episodes, "per_episode": per_episode, "summary": _summary(per_episode)}


def record_sb3_reference(
    model: Any,
    vecnormalize: Any | None,
    spec: PolicySpec,
    env_id: str,
    env_kwargs: dict[str, Any],
    episodes: int,
    seed: int = CLOSED_LOOP_SEED,
) -> dict[str, Any]:
    """The reference of ``closed_loop.json``: SB3's deterministic policy on a fresh env.

    Args:
        model: SB3 ``BaseAlgorithm``.
        vecnormalize: ``VecNormalize`` matching ``model`` or None.
        spec: Policy spec of ``model`` (input names, dict observations, postprocess).
        env_id: Gymnasium id (the manifest's ``env.id``).
        env_kwargs: ``gym.make`` keyword arguments (the manifest's ``env.kwargs``).
        episodes: Number of seeded episodes (>= 1).
        seed: Seed of the first episode.

    Returns:
        The full record (module docstring format).
    """
    from robot_rl.deploy.golden import as_inputs, sb3_actions

    if episodes < 1:
        raise InputError(f"episodes={episodes} is not accepted for a closed-loop reference; expected >= 1")

    def sb3_act(obs: Any) -> Any:
        batch = {k: v[None] for k, v in as_inputs(obs, spec).items()}
        return sb3_actions(model, vecnormalize, batch, spec)[0]

    env = make_env(env_id, env_kwargs)
    try:
        record = record_reference(env, sb3_act, episodes, seed)
    finally:
        env.close()
    return {
        "schema": REFERENCE_SCHEMA,
        "policy": "sb3 predict(deterministic=True)",
        "env": {"id": env_id, "kwargs": env_kwargs},
        **record,
    }


def write_reference(path: Path, reference: dict[str, Any]) -> Path:
    """Write ``reference`` as JSON (no NaN/Inf) to ``path``; returns ``path``."""
    path = Path(path)
    path.write_text(json.dumps(reference, indent=2, allow_nan=False) + "\n")
    return path


def load_reference(path: Path) -> dict[str, Any]:
    """Load and check ``closed_loop.json`` (plain JSON, no pickle).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, unknown schema or inconsistent content.
    """
    path = Path(path)
    try:
        reference = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name} is not valid JSON: {exc}") from exc
    if not isinstance(reference, dict) or reference.get("schema") != REFERENCE_SCHEMA:
        schema = reference.get("schema") if isinstance(reference, dict) else None
        raise InputError(
            f"{path.name}: schema {schema!r} is not supported; this verifier reads {REFERENCE_SCHEMA}"
        )
    per_episode = reference.get("per_episode")
    keys = {"seed", "success", "return", "length"}
    if (
        not isinstance(per_episode, list)
        or not isinstance(reference.get("seed"), int)
        or reference.get("episodes") != len(per_episode)
        or not all(isinstance(e, dict) and keys <= e.keys() for e in per_episode)
    ):
        raise InputError(
            f"{path.name}: expected an int 'seed', and 'episodes' entries of 'per_episode' "
            f"each with {sorted(keys)}"
        )
    seeds = [e["seed"] for e in per_episode]
    if seeds != list(range(reference["seed"], reference["seed"] + len(seeds))):
        raise InputError(
            f"{path.name}: per-episode seeds {seeds} are not consecutive from {reference['seed']}"
        )
    return reference


def compare_with_reference(
    runner: PolicyRunner,
    env_id: str,
    env_kwargs: dict[str, Any],
    reference: dict[str, Any],
    episodes: int | None = None,
    success_tolerance: int = 1,
) -> dict[str, Any]:
    """Re-run the reference's seeded episodes with ``runner.act`` and compare.

    Pass criteria: when the reference reports ``is_success``, the ONNX success count is within
    ``success_tolerance`` episodes of the reference's (trajectories of a contact-rich sim may
    diverge after 1e-6 action differences); otherwise the mean returns agree within
    ``RETURN_RTOL`` relative plus ``RETURN_ATOL``.

    Args:
        runner: The bundle's ONNX policy (anything with ``act(obs) -> action``).
        env_id: Gymnasium id of the simulated env (the manifest's ``env.id``).
        env_kwargs: Its ``gym.make`` keyword arguments (the manifest's ``env.kwargs``).
        reference: Content of ``closed_loop.json`` (:func:`load_reference`).
        episodes: Compare the first ``episodes`` recorded episodes (None: all of them).
        success_tolerance: Episodes by which the success counts may differ.

    Returns:
        ``{"ok": bool, "detail": str, "episodes": int, "seed": int, "reference": record,
        "onnx": record}`` where both records have :func:`record_reference`'s format.

    Raises:
        ValueError: more episodes asked for than recorded, or the reference was recorded on
            another env than ``env_id``/``env_kwargs``.
    """
    recorded = int(reference["episodes"])
    n = recorded if episodes is None else episodes
    if n < 1 or n > recorded:
        raise InputError(
            f"{n} closed-loop episodes asked for, but {REFERENCE_FILE} records {recorded}: "
            f"ask for 1..{recorded} episodes (verify --episodes {recorded}) "
            f"or re-export with export_policy(..., reference_episodes={n})"
        )
    ref_env = reference.get("env")
    if ref_env is not None and (ref_env.get("id") != env_id or ref_env.get("kwargs", {}) != env_kwargs):
        raise InputError(
            f"{REFERENCE_FILE} was recorded on {ref_env.get('id')} {ref_env.get('kwargs')}, "
            f"the manifest says {env_id} {env_kwargs}"
        )
    seed = int(reference["seed"])
    per_episode = list(reference["per_episode"][:n])
    ref: dict[str, Any] = {
        "seed": seed,
        "episodes": n,
        "per_episode": per_episode,
        "summary": _summary(per_episode),
    }
    env = make_env(env_id, env_kwargs)
    try:
        onnx = record_reference(env, runner.act, n, seed)
    finally:
        env.close()
    ok, detail = _verdict(ref["summary"], onnx["summary"], n, success_tolerance)
    detail += f" on {n} seeded episodes (seeds {seed}..{seed + n - 1}"
    detail += f" of {recorded} recorded)" if n < recorded else ")"
    return {"ok": ok, "detail": detail, "episodes": n, "seed": seed, "reference": ref, "onnx": onnx}


def _verdict(ref: dict[str, Any], onnx: dict[str, Any], n: int, tol: int) -> tuple[bool, str]:
    returns = f"return {ref['return_mean']:.3f} vs {onnx['return_mean']:.3f}"
    if ref["successes"] is not None:
        if onnx["successes"] is None:
            return False, f"reference reports is_success but the re-run does not; {returns}"
        diff = abs(ref["successes"] - onnx["successes"])
        detail = (
            f"success SB3 reference {ref['successes']}/{n} vs ONNX {onnx['successes']}/{n} "
            f"(differ by {diff}, tolerance {tol}), {returns}"
        )
        return diff <= tol, detail
    ok = abs(ref["return_mean"] - onnx["return_mean"]) <= RETURN_RTOL * abs(ref["return_mean"]) + RETURN_ATOL
    return bool(ok), f"no is_success in info; mean {returns} (SB3 reference vs ONNX, 1% tolerance)"
