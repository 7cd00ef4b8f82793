"""collect_while_training: gradient steps run between step_async and step_wait, nothing else changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper

from robot_rl.cli import main
from robot_rl.errors import InputError
from robot_rl.train.config import config_from_dict
from robot_rl.train.overlap import OverlapVecEnv, attach, flush, overlapped_class
from tests.train.conftest import pendulum_config


class Recorder(VecEnvWrapper):
    """Records the order of env calls; the model's train is recorded by the test."""

    def __init__(self, venv: Any, events: list[str]) -> None:
        super().__init__(venv)
        self.events = events

    def step_async(self, actions: Any) -> None:
        self.events.append("step_async")
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        self.events.append("step_wait")
        return self.venv.step_wait()

    def reset(self) -> Any:
        return self.venv.reset()


def _sac(cls: type, venv: Any) -> Any:
    return cls("MlpPolicy", venv, learning_starts=8, batch_size=16, buffer_size=1000, seed=0,
               policy_kwargs={"net_arch": [8]}, device="cpu")  # fmt: skip


def _venv() -> DummyVecEnv:
    venv = DummyVecEnv([lambda: gym.make("Pendulum-v1")] * 2)
    venv.seed(0)
    return venv


def test_gradient_steps_run_while_the_envs_step_and_none_is_lost() -> None:
    events: list[str] = []
    model = _sac(overlapped_class(SAC), OverlapVecEnv(Recorder(_venv(), events)))
    attach(model)
    original = SAC.train

    def recorded(self: Any, gradient_steps: int, batch_size: int = 64) -> None:
        events.append("train")
        original(self, gradient_steps, batch_size)

    SAC.train = recorded  # type: ignore[method-assign]
    try:
        model.learn(40)
        flush(model)
    finally:
        SAC.train = original  # type: ignore[method-assign]
    plain = _sac(SAC, _venv())
    plain.learn(40)
    assert model._n_updates == plain._n_updates > 0  # the same number of gradient steps
    trains = [i for i, e in enumerate(events) if e == "train"]
    # every train but the flushed last one sits between a step_async and its step_wait
    for i in trains[:-1]:
        assert events[i - 1] == "step_async" and events[i + 1] == "step_wait", events[i - 2 : i + 2]
    assert trains[-1] == len(events) - 1  # the flush, after the last env step


def test_the_same_seed_gives_the_same_parameters() -> None:
    params = []
    for _ in range(2):
        model = attach(_sac(overlapped_class(SAC), OverlapVecEnv(_venv())))
        model.learn(48)
        flush(model)
        params.append(torch.cat([p.detach().flatten() for p in model.policy.parameters()]))
    assert torch.equal(params[0], params[1])


def test_config_refuses_what_cannot_overlap() -> None:
    raw = pendulum_config(collect_while_training=True)
    with pytest.raises(InputError, match=r"needs env.vec_env=subproc .*; got vec_env='dummy'"):
        config_from_dict(raw)
    raw["env"]["vec_env"] = "subproc"
    config_from_dict(raw)  # accepted
    raw["env"]["n_envs"] = 1
    config_from_dict(raw)  # accepted too: one env steps in this process, nothing overlaps
    raw["algo"] = {"name": "ppo", "kwargs": {"n_steps": 64, "batch_size": 32}}
    with pytest.raises(
        InputError, match=r"needs an off-policy learner \(sac, td3, tqc, dqn\); algo.name='ppo'"
    ):
        config_from_dict(raw)


def test_train_and_resume_with_collect_while_training(tmp_path: Path, write_config: Any) -> None:
    raw = pendulum_config(collect_while_training=True)
    raw["env"]["vec_env"] = "subproc"
    config = write_config(raw)
    run = tmp_path / "run"
    assert main(["train", str(config), "--run-dir", str(run)]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["num_timesteps"] == 400
    assert "collect_while_training: true" in (run / "config.yaml").read_text()
    # the gradient steps ran inside the env steps and are counted as gradient time
    timing = info["timing"]
    assert timing["gradient_s"] > 0 and timing["rollout_s"] >= 0
    assert timing["gradient_fraction"] == pytest.approx(
        timing["gradient_s"] / (timing["gradient_s"] + timing["rollout_s"]), abs=1e-3
    )
    # the saved model is a plain SAC zip: evaluate/export load it with the SB3 class
    loaded = SAC.load(str(run / "model.zip"), device="cpu")
    assert type(loaded) is SAC and loaded.num_timesteps == 400
    assert np.isfinite(loaded.predict(np.zeros(3, np.float32), deterministic=True)[0]).all()
    # resuming with more budget continues the counter
    assert main(["train", str(config), "--run-dir", str(run), "--resume", "--timesteps", "600"]) == 0
    assert json.loads((run / "run.json").read_text())["num_timesteps"] == 600
