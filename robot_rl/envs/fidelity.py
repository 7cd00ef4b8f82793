"""Fidelity guards: what a change of physics settings must not change.

A faster simulation that grasps or drives differently is not faster. Each guard measures one
behaviour of the envs under given env kwargs (``solver_iterations`` for instance), episode by
episode, so that ``robot-rl bench fidelity`` can compare a candidate setting with the baseline on
the *same* episodes (seeds) in one run, and the tests can pin the shipped default:

* :func:`scripted_grasps`: the scripted grasp controller's success per episode (object set, domain
  randomization as given);
* :func:`planner_runs`: the A* + pure-pursuit planner's success and SPL per navigation episode;
* :func:`resting_drift`: how far an object placed at rest on the table moves while nothing touches
  it (the arm holds its start pose 15 cm above the table).

The trained policies' guard (a zoo bundle's held-out success) needs the deploy runtime and lives in
:mod:`robot_rl.benchmark.fidelity`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_rl.envs.grasp_env import PandaGraspEnv
from robot_rl.envs.nav_env import MobileNavEnv
from robot_rl.envs.scripted.grasp_controller import ScriptedGraspController
from robot_rl.envs.scripted.nav_planner import NavPlanner

#: Simulated seconds an object must rest still for :func:`resting_drift` (the guard's horizon).
RESTING_SECONDS = 2.0
#: Simulated seconds an object gets to come to rest before :func:`resting_drift` measures.
RESTING_SETTLE_SECONDS = 1.0
#: Largest drift (m) a resting object may show over :data:`RESTING_SECONDS`.
RESTING_DRIFT_LIMIT = 1e-3


def scripted_grasps(seeds: range | list[int], **env_kwargs: Any) -> list[bool]:
    """Success of the scripted grasp controller in one ``PandaGraspEnv(**env_kwargs)`` episode per seed."""
    env = PandaGraspEnv(**env_kwargs)
    controller = ScriptedGraspController(env.obs_layout)
    results: list[bool] = []
    try:
        for seed in seeds:
            obs, _ = env.reset(seed=int(seed))
            controller.reset()
            terminated = truncated = False
            info: dict[str, Any] = {}
            while not (terminated or truncated):
                obs, _, terminated, truncated, info = env.step(controller(obs))
            results.append(bool(info["is_success"]))
    finally:
        env.close()
    return results


@dataclass(frozen=True)
class PlannerRun:
    """One navigation episode driven by :class:`~robot_rl.envs.scripted.nav_planner.NavPlanner`."""

    seed: int
    success: bool
    spl: float


def planner_runs(seeds: range | list[int], **env_kwargs: Any) -> list[PlannerRun]:
    """The planner's success and SPL in one ``MobileNavEnv(**env_kwargs)`` episode per seed."""
    env = MobileNavEnv(**env_kwargs)
    planner = NavPlanner(env.obs_layout, env.dt)
    runs: list[PlannerRun] = []
    try:
        for seed in seeds:
            obs, info = env.reset(seed=int(seed))
            planner.reset(obs, info)
            while True:
                obs, _, terminated, truncated, info = env.step(planner.act(obs))
                if terminated or truncated:
                    break
            metrics = info["metrics"]
            runs.append(PlannerRun(int(seed), bool(metrics["success"]), float(metrics["spl"])))
    finally:
        env.close()
    return runs


def resting_drift(
    seeds: range | list[int],
    seconds: float = RESTING_SECONDS,
    settle_seconds: float = RESTING_SETTLE_SECONDS,
    **env_kwargs: Any,
) -> list[float]:
    """Displacement (m) of the episode's object over ``seconds`` at rest, one value per seed.

    Each seed resets a ``PandaGraspEnv(**env_kwargs)`` (the object is placed upright at its resting
    height at a random spot and yaw) and then holds the arm still (no move, gripper open, 15 cm above
    the table). The object first gets ``settle_seconds`` to come to rest: a cube placed on its face
    is at rest at once, a mesh placed upright may tip onto a stable face (or keep rolling, which the
    value then shows). The value is the distance between the object's base position after settling
    and ``seconds`` later: creep and jitter of a resting contact, what solver settings change.
    """
    env = PandaGraspEnv(**env_kwargs)
    settle, steps = env.timing.steps_for(settle_seconds), env.timing.steps_for(seconds)
    hold = np.array([0.0 if a is None else a for a in env.robot.safe_action()], np.float32)
    hold[-1] = 1.0  # gripper open, as after a reset
    drifts: list[float] = []
    try:
        for seed in seeds:
            env.reset(seed=int(seed))
            assert env.task.object is not None
            body = env.task.object.body
            for _ in range(settle):
                env.step(hold)
            start = np.array(env.sim.getBasePositionAndOrientation(body)[0])
            for _ in range(steps):
                env.step(hold)
            end = np.array(env.sim.getBasePositionAndOrientation(body)[0])
            drifts.append(float(np.linalg.norm(end - start)))
    finally:
        env.close()
    return drifts
