"""Warm starts from the scripted grasp controller: replay-buffer seeding and behaviour cloning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robot_rl.train.config import config_from_dict
from robot_rl.train.demos import behaviour_clone, load_controller_class, prefill_with_demos
from robot_rl.train.sb3 import make_model, make_vec_env, wrap_normalize

CONTROLLER = "robot_rl.envs.scripted.grasp_controller:ScriptedGraspController"


def grasp_model(algo: str, normalize: bool) -> object:
    kwargs = (
        {"buffer_size": 2000, "learning_starts": 10} if algo == "sac" else {"n_steps": 16, "batch_size": 16}
    )
    cfg = config_from_dict(
        {
            "name": "t",
            "env": {"id": "robot_rl/PandaGrasp-v0", "n_envs": 2, "normalize": {"enabled": normalize}},
            "algo": {"name": algo, "kwargs": kwargs, "policy_kwargs": {"net_arch": [32, 32]}},
        }
    )
    venv = wrap_normalize(make_vec_env(cfg.env.id, {}, 2, seed=0), cfg)
    return make_model(cfg, venv)


def test_prefill_puts_real_env_steps_in_the_replay_buffer() -> None:
    model = grasp_model("sac", normalize=False)
    stats = prefill_with_demos(model, CONTROLLER, episodes=2)
    steps = int(stats["steps"])
    assert stats["episodes"] >= 2 and stats["success_rate"] == 1.0  # the scripted grasp works on cubes
    assert model.num_timesteps == steps  # demonstrations count as env steps
    buffer = model.replay_buffer
    assert buffer.pos == steps // 2  # two envs per vector step
    rewards = buffer.rewards[: buffer.pos]
    assert np.all(rewards <= 1.0) and np.any(rewards > 0.0)  # success steps (+1 bonus) are in there
    assert buffer.dones[: buffer.pos].sum() >= 2
    model.get_env().close()


def test_behaviour_cloning_fits_the_controller() -> None:
    model = grasp_model("ppo", normalize=True)
    torch.manual_seed(0)
    stats = behaviour_clone(model, CONTROLLER, episodes=4, epochs=300)
    assert stats["bc_loss"] < 0.5 * stats["bc_loss_initial"]
    assert model.get_vec_normalize_env().obs_rms.count > 100  # statistics saw the demonstrations
    model.get_env().close()


def test_controller_spec_errors() -> None:
    with pytest.raises(ValueError, match="expected 'module:Class'"):
        load_controller_class("robot_rl.envs.scripted.grasp_controller")
    with pytest.raises(ValueError, match="cannot be imported"):
        load_controller_class("robot_rl.envs.scripted.grasp_controller:NoSuchController")


def test_demo_keys_go_together() -> None:
    with pytest.raises(ValueError, match=r"demo_episodes=5 > 0 and train\.demo_controller"):
        config_from_dict({"name": "t", "env": {"id": "Pendulum-v1"}, "train": {"demo_episodes": 5}})
