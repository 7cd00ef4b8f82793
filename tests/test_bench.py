"""The env benchmark runs end to end and prints consistent figures (no timing assertions)."""

import json
import re

import gymnasium as gym
import pytest

from robot_rl import bench

TOY = "robot_rl_test/Toy-v0"
if TOY not in gym.registry:
    gym.register(TOY, entry_point="tests.envs.toy:ToyEnv", kwargs={"max_episode_seconds": 1.0})


def test_bench_env_prints_env_bare_loop_ratio_and_memory(tmp_path, capsys):
    out_json = tmp_path / "bench.json"
    args = [TOY, "--steps", "60", "--rounds", "2", "--resets", "30", "--json", str(out_json)]
    assert bench.run_env(args) == 0
    out = capsys.readouterr().out
    assert "bare PyBullet loop, same scene" in out
    ratio = float(re.search(r"env / bare-loop ratio: ([0-9.]+)", out).group(1))
    data = json.loads(out_json.read_text())
    env_row, bare_row = data["rows"][:2]
    assert ratio == pytest.approx(env_row["steps_per_s"] / bare_row["steps_per_s"], rel=1e-2)
    # sim/wall factor is steps/s times the control period
    assert env_row["realtime_factor"] == pytest.approx(env_row["steps_per_s"] * 0.05)
    assert env_row["substeps"] == 12
    assert data["rss_mb"]["resets"] == 30 and data["rss_mb"]["after"] > 0


def test_bench_env_rejects_bad_counts():
    with pytest.raises(ValueError, match="--steps must be >= 10"):
        bench.run_env([TOY, "--steps", "1"])


def test_bench_env_warm_resets_load_the_objects_of_that_many_episodes(monkeypatch):
    from robot_rl.envs.grasp_env import PandaGraspEnv

    seen = []
    reset = PandaGraspEnv.reset

    def counting(self, *, seed=None, options=None):
        seen.append((seed, self.task.objects.body_count))
        return reset(self, seed=seed, options=options)

    monkeypatch.setattr(PandaGraspEnv, "reset", counting)
    bench.bench_env("robot_rl/PandaGrasp-v0", 10, 1, warm_resets=5, object_set="random_train")
    assert [s for s, _ in seen[:5]] == [10_000, 10_001, 10_002, 10_003, 10_004]
    assert seen[5][1] >= 3  # the timed rounds start with the objects of the warm-up episodes loaded
    with pytest.raises(ValueError, match="--warm-resets >= 0"):
        bench.run_env([TOY, "--warm-resets", "-1"])
