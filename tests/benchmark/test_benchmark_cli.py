"""robot-rl benchmark nav end to end on a shipped map: outputs, determinism across workers, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from robot_rl.benchmark.agents import resolve_agent
from robot_rl.cli import main
from robot_rl.errors import InputError, MissingInputError

SEEKER = "robot_rl.benchmark.examples:GoalSeeker"


def _strict_load(path: Path) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"{path} holds {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.mark.xdist_group("benchmark")
def test_benchmark_on_a_map_is_complete_strict_and_identical_with_two_workers(tmp_path: Path, capsys) -> None:
    args = ["benchmark", "nav", "--episodes", "office", "--agents", "planner", SEEKER, "zoo:nav_sac"]
    assert main([*args, "--limit", "6", "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--limit", "6", "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "| `planner` |" in out and "McNemar exact p" in out
    one, two = tmp_path / "one", tmp_path / "two"
    for name in ("episodes.csv", "summary.json", "leaderboard.md"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name

    rows = list(csv.DictReader((one / "episodes.csv").open()))
    assert len(rows) == 18
    assert [r["episode"] for r in rows[:6]] == [f"office-{i:04d}" for i in range(6)]
    assert {r["agent"] for r in rows} == {"planner", SEEKER, "zoo:nav_sac"}
    for r in rows:
        assert r["layout"] == "map"
        assert (r["failure"] == "success") == (r["success"] == "1")
        assert (r["time_to_goal"] == "") == (r["success"] == "0")
        assert 0.0 <= float(r["soft_spl"]) <= 1.0 and 0.0 <= float(r["spl"]) <= 1.0
        if r["success"] == "0":
            assert float(r["spl"]) == 0.0 and float(r["final_euclidean"]) > 0.3

    summary = _strict_load(one / "summary.json")
    assert summary["episode_set"]["name"] == "office" and summary["episode_set"]["episodes"] == 6
    planner = summary["agents"]["planner"]
    assert planner["successes"] == sum(r["success"] == "1" for r in rows if r["agent"] == "planner")
    assert planner["success_ci95"][0] <= planner["success_rate"] <= planner["success_ci95"][1]
    assert "layout_seed" not in planner["means"] and "seed" not in planner["means"]
    ok_times = [float(r["time_to_goal"]) for r in rows if r["agent"] == "planner" and r["success"] == "1"]
    assert planner["time_to_goal_mean_over_successes"] == pytest.approx(sum(ok_times) / len(ok_times))
    assert sum(planner["failures"].values()) == 6
    assert len(summary["pairs"]) == 3
    for pair in summary["pairs"]:
        lo, hi = pair["spl_difference_ci95"]
        assert lo <= pair["spl_difference"] <= hi
        assert 0.0 <= pair["mcnemar_exact_p"] <= 1.0
        shown = sorted((one / "disagreements").glob("*.png")) if pair["disagreements"] else []
        for episode in pair["disagreements"]:
            assert any(p.name.startswith(episode) for p in shown)
    assert (one / "paths_planner.png").stat().st_size > 1000
    assert (one / "paths_robot_rl.benchmark.examples_GoalSeeker.png").is_file()
    timing = _strict_load(two / "timing.json")
    assert timing["workers"] == 2 and timing["agent_episodes"] == 18


def test_bad_agents_and_arguments_are_named() -> None:
    with pytest.raises(MissingInputError, match="is not 'planner'"):
        resolve_agent("no_such_agent")
    with pytest.raises(MissingInputError, match="cannot import module"):
        resolve_agent("no_such_module_xyz:Agent")
    with pytest.raises(MissingInputError, match="has no class 'Nope'"):
        resolve_agent("robot_rl.benchmark.examples:Nope")
    with pytest.raises(InputError, match="lacks reset"):
        resolve_agent("robot_rl.benchmark.metrics:McNemar")
    with pytest.raises(InputError, match="not a navigation env"):
        resolve_agent("zoo:grasp_ppo")
    with pytest.raises(FileNotFoundError, match="no pretrained policy"):
        resolve_agent("zoo:nope")


def test_cli_refuses_bad_options(tmp_path: Path, capsys) -> None:
    base = ["benchmark", "nav", "--episodes", "office", "--out", str(tmp_path)]
    assert main([*base, "--agents", "planner", "planner"]) == 2
    assert "lists an agent twice" in capsys.readouterr().err
    assert main([*base, "--agents", "planner", "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    assert (
        main(["benchmark", "nav", "--episodes", "nope", "--agents", "planner", "--out", str(tmp_path)]) == 2
    )
    assert "shipped: apartment" in capsys.readouterr().err


class DiscreteStop:
    """A user agent asking for the discrete env: always the stop primitive (index 6)."""

    env_kwargs = {"action_type": "discrete"}  # noqa: RUF012

    def reset(self, obs, info) -> None:
        self.start = info["start"]

    def act(self, obs) -> int:
        return 6


def test_a_tiny_trained_run_and_a_discrete_user_agent_on_a_shipped_map(tmp_path: Path) -> None:
    run_dir = tmp_path / "tiny"
    train = ["train", "nav_sac", "--run-dir", str(run_dir), "--timesteps", "128"]
    sets = ["env.n_envs=1", "algo.kwargs.learning_starts=32", "algo.kwargs.batch_size=16",
            "train.eval_freq=128", "train.eval_episodes=1", "train.checkpoint_freq=128"]  # fmt: skip
    assert main([*train, *(a for s in sets for a in ("--set", s))]) == 0
    spec = resolve_agent(str(run_dir))
    assert spec.kind == "run" and spec.env_kwargs["split"] == "train"
    stop = resolve_agent("tests.benchmark.test_benchmark_cli:DiscreteStop")
    assert stop.env_id == "robot_rl/MobileNavDiscrete-v0"
    out = tmp_path / "bench"
    args = ["benchmark", "nav", "--episodes", "apartment", "--limit", "2", "--out", str(out)]
    assert (
        main([*args, "--agents", "planner", str(run_dir), "tests.benchmark.test_benchmark_cli:DiscreteStop"])
        == 0
    )
    summary = _strict_load(out / "summary.json")
    # the run trained on split=train; the episodes' kwargs (the apartment map) win
    assert summary["agents"][str(run_dir)]["env_kwargs"]["map"] == "apartment"
    stopped = summary["agents"]["tests.benchmark.test_benchmark_cli:DiscreteStop"]
    assert stopped["env_id"] == "robot_rl/MobileNavDiscrete-v0"
    assert (
        stopped["successes"] == 0 and stopped["failures"]["stuck"] + stopped["failures"]["stopped_short"] == 2
    )
    # a stopped base jitters by millimetres on its wheels (at 10 solver iterations: up to 3 cm of
    # path and 2.6 mm of net displacement in 25 s; docs/training.md, "Physics settings")
    assert stopped["means"]["path_length"] < 0.05 and stopped["means"]["soft_spl"] < 0.005


def test_a_discrete_dqn_run_replays_the_continuous_sets_episodes(tmp_path: Path) -> None:
    """A MobileNavDiscrete-v0 run (nav_dqn) on a MobileNav-v0 set: the same layouts, starts and goals."""
    import numpy as np

    from robot_rl.benchmark.agents import build_agent
    from robot_rl.benchmark.runner import env_for, run_benchmark
    from robot_rl.envs.nav_episodes import load_set

    run_dir = tmp_path / "dqn"
    train = ["train", "nav_dqn", "--run-dir", str(run_dir), "--timesteps", "128"]
    sets = ["env.n_envs=1", "algo.kwargs.learning_starts=32", "algo.kwargs.batch_size=16",
            "train.eval_freq=128", "train.eval_episodes=1", "train.checkpoint_freq=128"]  # fmt: skip
    assert main([*train, *(a for s in sets for a in ("--set", s))]) == 0
    episode_set = load_set("test")
    specs = [resolve_agent("planner"), resolve_agent(str(run_dir))]
    env_id, kwargs = env_for(specs[1], episode_set)
    assert env_id == "robot_rl/MobileNavDiscrete-v0" and kwargs == {"split": "test"}  # not the run's "train"

    results = run_benchmark(episode_set, specs, limit=3)
    assert [(r.agent_index, r.row["episode"]) for r in results] == [
        (a, f"test-{i:04d}") for a in (0, 1) for i in range(3)
    ]
    for planner, dqn, record in zip(results[:3], results[3:], episode_set["episodes"][:3], strict=True):
        for r in (planner, dqn):
            assert r.row["layout"] == record["layout_seed"] and r.row["seed"] == record["seed"]
            assert r.row["geodesic_distance"] == record["geodesic_distance"]
            assert np.allclose(r.path[0], record["start"], atol=1e-3)  # both start where the record says
        assert dqn.row["steps"] > 0

    import gymnasium as gym

    env = gym.make(env_id, disable_env_checker=True, **kwargs)
    try:
        agent = build_agent(specs[1], env.unwrapped)
        obs, info = env.reset(seed=2_000_000, options={"episode": episode_set["episodes"][0]})
        agent.reset(obs, info)
        action = agent.act(obs)
        assert np.asarray(action).shape == () and int(action) in range(7)  # a motion primitive index
        env.step(action)
    finally:
        env.close()
