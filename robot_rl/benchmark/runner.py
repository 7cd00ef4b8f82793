"""Run benchmark episodes: every agent on every episode of a frozen set, in parallel if asked.

Each episode is replayed from its record (``reset(seed=record["seed"], options={"episode":
record})``), so its result depends on the agent and the record only, never on which worker ran it
or what ran before: ``--workers N`` (processes here) and ``--address`` (actors on a Ray cluster,
joined as ``robot-rl sweep --address`` joins it) give the same per-episode results as one worker.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_rl.benchmark.agents import AgentSpec, build_agent
from robot_rl.benchmark.metrics import classify, soft_spl
from robot_rl.envs.nav_episodes import EPISODE_KWARGS, episodes_with_map
from robot_rl.errors import InputError

#: Columns of ``episodes.csv``, in order.
COLUMNS = (
    "agent", "episode", "seed", "layout", "success", "failure", "spl", "soft_spl", "final_distance",
    "final_euclidean", "path_length", "geodesic_distance", "collisions", "time_s", "time_to_goal", "steps",
)  # fmt: skip


@dataclass
class EpisodeResult:
    """One agent on one episode: the CSV row and the driven path (``(steps + 1, 2)`` env-frame m)."""

    agent_index: int
    episode_index: int
    row: dict[str, Any]
    path: np.ndarray


def env_for(spec: AgentSpec, episode_set: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Env id and kwargs of ``spec`` on ``episode_set``: the agent's kwargs (observation and action
    settings), with every episode-defining kwarg taken from the set (and none from the agent; nor an
    ``episodes`` file the agent was made with: each episode is replayed from its record)."""
    own = {k: v for k, v in spec.env_kwargs.items() if k not in (*EPISODE_KWARGS, "episodes")}
    return spec.env_id, {**own, **episode_set["env_kwargs"]}


def run_episode(
    env: Any, agent: Any, record: dict[str, Any], agent_name: str
) -> tuple[dict[str, Any], np.ndarray]:
    """Run ``agent`` on one frozen episode; returns the CSV row and the driven path."""
    u = env.unwrapped
    obs, info = env.reset(seed=int(record["seed"]), options={"episode": record})
    agent.reset(obs, info)
    distances = [u.task.goal_geodesic]
    done, terminated, steps = False, False, 0
    while not done:
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        distances.append(u.task.goal_geodesic)
        steps += 1
        done = terminated or truncated
    metrics = info["metrics"]
    success = bool(info["is_success"])
    path = np.asarray(u.task.path, dtype=np.float64)
    goal = np.asarray(record["goal"], np.float64)
    geodesic = float(metrics["geodesic_distance"])
    travelled = float(metrics["path_length"])
    time_s = round(steps * float(u.dt), 9)  # 7.3, not 7.300000000000001
    row = {
        "agent": agent_name,
        "episode": record["id"],
        "seed": int(record["seed"]),
        "layout": record["layout_seed"] if record["layout_seed"] is not None else "map",
        "success": int(success),
        "failure": classify(success, bool(terminated), distances, float(u.dt)),
        "spl": float(metrics["spl"]),
        "soft_spl": soft_spl(distances[0], distances[-1], geodesic, travelled),
        "final_distance": float(distances[-1]),
        "final_euclidean": float(np.linalg.norm(path[-1] - goal)),
        "path_length": travelled,
        "geodesic_distance": geodesic,
        "collisions": int(metrics["collisions"]),
        "time_s": time_s,
        "time_to_goal": time_s if success else None,
        "steps": steps,
    }
    return row, path.astype(np.float32)


# ---------------------------------------------------------------------- workers
_STATE: dict[str, Any] = {}


def _init(episode_set: dict[str, Any], specs: list[AgentSpec]) -> None:
    """Per process: the records and agent specs; envs and agents are built on first use."""
    _STATE.clear()
    _STATE.update(records=episodes_with_map(episode_set), set=episode_set, specs=specs, built={})


def _built(agent_index: int) -> tuple[Any, Any]:
    built = _STATE["built"]
    if agent_index not in built:
        import gymnasium as gym

        from robot_rl.envs.registration import register_all

        register_all()
        spec = _STATE["specs"][agent_index]
        env_id, kwargs = env_for(spec, _STATE["set"])
        env = gym.make(env_id, disable_env_checker=True, **kwargs)
        built[agent_index] = (env, build_agent(spec, env.unwrapped))
    return built[agent_index]


def _run_chunk(task: tuple[int, list[int]]) -> list[EpisodeResult]:
    agent_index, indices = task
    env, agent = _built(agent_index)
    name = _STATE["specs"][agent_index].arg
    out = []
    for i in indices:
        row, path = run_episode(env, agent, _STATE["records"][i], name)
        out.append(EpisodeResult(agent_index, i, row, path))
    return out


def _close() -> None:
    for env, _ in _STATE.get("built", {}).values():
        env.close()
    _STATE.clear()


def _worker_init(episode_set: dict[str, Any], specs: list[AgentSpec]) -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    _init(episode_set, specs)


class _RayWorker:
    """A Ray actor: one process that builds the envs and agents once and runs chunks of episodes."""

    def __init__(self, episode_set: dict[str, Any], specs: list[AgentSpec]) -> None:
        _worker_init(episode_set, specs)

    def run(self, task: tuple[int, list[int]]) -> list[EpisodeResult]:
        return _run_chunk(task)

    def close(self) -> None:
        _close()


RAY_HINT = "robot-rl benchmark --address needs Ray: pip install 'robot_rl[ray]'"


def ray_workers(address: str, workers: int | None) -> int:
    """Join the Ray cluster at ``address``; the number of actors to start (default: its CPUs).

    Raises:
        InputError: Ray is not installed, or ``workers`` exceeds the cluster's CPUs (the extra
            actors would wait forever).
    """
    from robot_rl.ray_cluster import require_ray, start_ray

    require_ray(RAY_HINT)
    import ray

    start_ray(address)
    cpus = int(float(ray.cluster_resources().get("CPU", 0.0)))
    if cpus < 1:
        raise InputError(f"the Ray cluster at {address} has no CPUs to run episodes on")
    if workers is not None and workers > cpus:
        raise InputError(
            f"--workers {workers} asks for more actors than the Ray cluster at {address} has CPUs ({cpus}); "
            f"use --workers <= {cpus}, or leave it out to use them all"
        )
    return workers or cpus


def _run_on_ray(
    episode_set: dict[str, Any], specs: list[AgentSpec], tasks: list[tuple[int, list[int]]], workers: int
) -> Iterator[list[EpisodeResult]]:
    import ray
    from ray.util import ActorPool

    actor: Any = ray.remote(num_cpus=1)(_RayWorker)
    set_ref = ray.put(episode_set)
    actors = [actor.remote(set_ref, specs) for _ in range(workers)]
    try:
        pool = ActorPool(actors)
        yield from pool.map_unordered(lambda a, t: a.run.remote(t), tasks)
        ray.get([a.close.remote() for a in actors])
    finally:
        for a in actors:
            ray.kill(a)


def run_benchmark(
    episode_set: dict[str, Any],
    specs: list[AgentSpec],
    workers: int | None = 1,
    limit: int | None = None,
    progress: bool | None = None,
    address: str | None = None,
) -> list[EpisodeResult]:
    """Every agent on the first ``limit`` (default all) episodes; results in (agent, episode) order.

    Args:
        workers: Processes (``1``: this process); episodes are handed out in small chunks. With
            ``address``: Ray actors, one CPU each (``None``: one per CPU of the cluster).
        progress: Show a tqdm bar (default: when stderr is a terminal).
        address: A Ray cluster to run on (``auto``, ``HOST:PORT`` or ``ray://HOST:10001``), joined
            as ``robot-rl sweep --address`` joins it; the results are those of one local worker.
    """
    from tqdm import tqdm

    if address:
        workers = ray_workers(address, workers)
    workers = workers or 1
    n = len(episode_set["episodes"]) if limit is None else min(limit, len(episode_set["episodes"]))
    chunk = max(1, min(10, math.ceil(n / (4 * workers))))
    tasks = [(a, list(range(s, min(s + chunk, n)))) for a in range(len(specs)) for s in range(0, n, chunk)]
    bar = tqdm(
        total=n * len(specs), unit="episode", desc="benchmark", dynamic_ncols=True,
        disable=not (sys.stderr.isatty() if progress is None else progress),
    )  # fmt: skip
    results: list[EpisodeResult] = []
    try:
        if address:
            for done in _run_on_ray(episode_set, specs, tasks, workers):
                results += done
                bar.update(len(done))
        elif workers <= 1:
            _init(episode_set, specs)
            try:
                for t in tasks:
                    results += _run_chunk(t)
                    bar.update(len(t[1]))
            finally:
                _close()
        else:
            import multiprocessing as mp

            # spawn: workers start clean (no forked ONNX Runtime / torch thread pools)
            with mp.get_context("spawn").Pool(workers, _worker_init, (episode_set, specs)) as pool:
                for done in pool.imap_unordered(_run_chunk, tasks):
                    results += done
                    bar.update(len(done))
    finally:
        bar.close()
    return sorted(results, key=lambda r: (r.agent_index, r.episode_index))
