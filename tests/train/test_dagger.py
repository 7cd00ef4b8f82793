"""DAgger at tiny scale: the student's imitation loss falls, the run is resumable, bad configs refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robot_rl.errors import InputError
from robot_rl.train.config import config_from_dict
from robot_rl.train.dagger import Dataset
from robot_rl.train.trainer import resume_config, train
from tests.train.toy_distill import TOY_PEEK_ID, register

register()


def distill_config(iterations: int = 3, **distill: Any) -> dict[str, Any]:
    return {
        "name": "peek",
        "env": {"id": TOY_PEEK_ID, "n_envs": 2},
        "algo": {
            "name": "ppo",
            "kwargs": {"n_steps": 64, "batch_size": 64},
            "policy_kwargs": {
                "features_extractor": "depth_cnn",
                "features_extractor_kwargs": {
                    "near": 0.0,
                    "far": 1.0,
                    "channels": [4],
                    "kernels": [3],
                    "strides": [1],
                    "cnn_features": 16,
                },
                "net_arch": [32],
            },
        },
        "train": {"total_timesteps": iterations * 400, "eval_freq": 0, "log_interval_s": 3600, "seed": 3},
        "distill": {
            "enabled": True,
            "teacher": "tests.train.toy_distill:ToyTeacher",
            "iterations": iterations,
            "steps_per_iteration": 400,
            "epochs": 30,
            "batch_size": 64,
            "learning_rate": 3e-3,
            "eval_episodes": 10,
            **distill,
        },
    }


def test_dagger_improves_the_student_and_resumes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg = config_from_dict(distill_config(iterations=2))
    outcome = train(cfg, run, command="test")
    assert outcome.status == "finished" and outcome.num_timesteps == 800
    state = json.loads((run / "dagger" / "state.json").read_text())
    history = state["history"]
    assert [row["iteration"] for row in history] == [0, 1]
    assert [row["beta"] for row in history] == [1.0, 0.5]
    assert history[0]["samples"] == 400 and history[1]["samples"] == 800  # the dataset aggregates
    # backprop on the teacher's labels: the imitation loss falls within and across iterations
    assert history[0]["imitation_loss"] < 0.5 * history[0]["imitation_loss_first"]
    run_json = json.loads((run / "run.json").read_text())
    assert run_json["status"] == "finished" and run_json["timing"]["distill"]["iterations"] == 2
    assert {"rollout_s", "label_s", "gradient_s", "eval_s"} <= set(run_json["timing"]["distill"])
    assert (run / "best_model.zip").is_file() and (run / "eval.json").is_file()
    # resume with one more iteration: continues at iteration 2 with the saved dataset
    more = resume_config(run, ["distill.iterations=3", "train.total_timesteps=1200"])
    outcome = train(more, run, command="test --resume", resume=True)
    state = json.loads((run / "dagger" / "state.json").read_text())
    assert [row["iteration"] for row in state["history"]] == [0, 1, 2]
    assert state["history"][2]["samples"] == 1200 and outcome.num_timesteps == 1200
    assert state["history"][2]["eval_success"] >= 0.5  # the student reaches the goal on held-out episodes


def test_interrupted_dagger_resumes_from_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import robot_rl.train.evaluate as evaluate

    run = tmp_path / "run"
    calls = {"n": 0}
    original = evaluate.run_episodes

    def evaluate_then_stop(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C in iteration 2, after iteration 1's checkpoint
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluate, "run_episodes", evaluate_then_stop)
    cfg = config_from_dict(distill_config(iterations=2))
    outcome = train(cfg, run, command="test")
    assert outcome.status == "interrupted"
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert json.loads((run / "dagger" / "state.json").read_text())["iteration"] == 1
    monkeypatch.setattr(evaluate, "run_episodes", original)
    outcome = train(resume_config(run, []), run, command="test --resume", resume=True)
    state = json.loads((run / "dagger" / "state.json").read_text())
    assert [row["iteration"] for row in state["history"]] == [0, 1]
    assert state["history"][1]["samples"] == 800 and outcome.num_timesteps == 800


def test_dataset_keeps_the_newest_samples_and_stores_depth_in_millimetres(tmp_path: Path) -> None:
    data = Dataset(capacity=5)
    for i in range(4):
        depth = np.full((2, 1, 2, 2), 0.1234 + i, np.float32)
        data.add({"depth": depth, "proprio": np.full((2, 1), i, np.float32)}, np.full((2, 1), i, np.float32))
    obs, actions = data.arrays()
    assert len(actions) == 5 and actions[:, 0].tolist() == [1, 2, 2, 3, 3]
    assert obs["depth"].dtype == np.float32 and np.allclose(obs["depth"][-1], 3.123, atol=5e-4)
    data.save(tmp_path / "d.npz")
    again = Dataset.load(tmp_path / "d.npz", capacity=5)
    obs2, actions2 = again.arrays()
    assert np.array_equal(actions2, actions) and np.array_equal(obs2["depth"], obs["depth"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"env": {"id": TOY_PEEK_ID, "normalize": {"enabled": True}}}, "needs env.normalize.enabled=false"),
        ({"algo": {"name": "sac"}}, "trains a PPO policy"),
        ({"train": {"total_timesteps": 100}}, r"total_timesteps=100 is below the DAgger steps .* = 1200"),
    ],
)
def test_bad_distill_configs_are_refused(change: dict[str, Any], message: str) -> None:
    raw = {**distill_config(), **change}
    with pytest.raises(InputError, match=message):
        config_from_dict(raw)


def test_a_state_policy_bundle_teaches_with_the_bundles_own_actions() -> None:
    import gymnasium as gym

    import robot_rl  # noqa: F401
    from robot_rl.deploy.runtime import PolicyRunner
    from robot_rl.train.dagger import BundleTeacher, make_teachers, teacher_bundle
    from robot_rl.zoo import resolve_bundle

    env = gym.make("robot_rl/PandaGrasp-v0", obs_mode="depth")
    layout = env.unwrapped.state_layout

    class Venv:  # what make_teachers reads from a VecEnv
        @staticmethod
        def get_attr(name: str) -> list[Any]:
            return [getattr(env.unwrapped, name)] * 2

    teachers = make_teachers("zoo:grasp_ppo", Venv())
    assert len(teachers) == 2 and all(isinstance(t, BundleTeacher) for t in teachers)
    runner = PolicyRunner(resolve_bundle("zoo:grasp_ppo"))
    rng = np.random.default_rng(0)
    try:
        env.reset(seed=5)
        for _ in range(10):
            state = env.unwrapped.privileged_observation()
            np.testing.assert_allclose(teachers[0](state), runner.act(state), atol=1e-5)
            env.step(rng.uniform(-1, 1, 5).astype(np.float32))
    finally:
        env.close()
    assert teacher_bundle("robot_rl.envs.scripted.grasp_controller:ScriptedGraspController") is None
    with pytest.raises(
        InputError, match=r"observes \['lidar', .*but the env's privileged state is \['ee_position'"
    ):
        BundleTeacher(resolve_bundle("zoo:nav_sac"), layout)
