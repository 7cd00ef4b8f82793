"""Closed-loop comparison: the exported ONNX policy vs the SB3 policy on the same seeded episodes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.deploy.runtime import PolicyRunner


def run_episodes(env: Any, act: Callable[[Any], Any], episodes: int, seed: int) -> dict[str, Any]:
    """Run ``episodes`` episodes with seeds ``seed + i``; success = final ``info["is_success"]``.

    Returns:
        ``{"successes": int, "success_rate": float | None (None if the env reports no
        is_success), "return_mean": float, "returns": list, "success": list}``.
    """
    returns, success, has_success = [], [], False
    for i in range(episodes):
        obs, info = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        has_success = has_success or "is_success" in info
        success.append(bool(info.get("is_success", False)))
        returns.append(total)
    return {
        "successes": int(sum(success)),
        "success_rate": float(np.mean(success)) if has_success else None,
        "return_mean": float(np.mean(returns)),
        "returns": returns,
        "success": success,
    }


def compare_closed_loop(
    runner: PolicyRunner, manifest: dict[str, Any], episodes: int, seed: int
) -> dict[str, Any]:
    """Both policies on the same seeds; the SB3 model comes from the manifest's ``source``.

    Raises:
        FileNotFoundError: the source model recorded in the manifest is gone.
    """
    from robot_rl.deploy.export import _make_env
    from robot_rl.deploy.golden import as_inputs, sb3_actions
    from robot_rl.deploy.source import load_source
    from robot_rl.deploy.spec import extract_spec

    model_path = Path(manifest["source"]["model_path"])
    if not model_path.exists():
        raise FileNotFoundError(f"source model {model_path} (recorded in the manifest) no longer exists")
    src = load_source(model_path)
    spec = extract_spec(src.model, src.vecnormalize, src.algo)

    def sb3_act(obs: Any) -> Any:
        batch = {k: v[None] for k, v in as_inputs(obs, spec).items()}
        return sb3_actions(src.model, src.vecnormalize, batch, spec)[0]

    env = _make_env(manifest["env"]["id"], manifest["env"]["kwargs"])
    try:
        sb3 = run_episodes(env, sb3_act, episodes, seed)
        onnx = run_episodes(env, runner.act, episodes, seed)
    finally:
        env.close()
    return {"sb3": sb3, "onnx": onnx, "episodes": episodes, "seed": seed}
