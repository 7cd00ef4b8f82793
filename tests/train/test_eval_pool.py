"""Evaluation in worker processes gives exactly the rows of the in-process loop."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from robot_rl.envs.make import make_env
from robot_rl.errors import InputError
from robot_rl.train.evaluate import EvalPool, eval_workers, run_episodes

NAV = "robot_rl/MobileNav-v0"
KWARGS = {"split": "val", "max_episode_seconds": 6.0}


def _model_and_stats() -> tuple[PPO, VecNormalize]:
    venv = DummyVecEnv([lambda: make_env(NAV, **KWARGS)])
    vecnorm = VecNormalize(venv, norm_reward=False)
    # statistics that change the actions: the workers must apply them as the trainer does
    rng = np.random.default_rng(0)
    vecnorm.obs_rms.mean = rng.normal(0.0, 0.5, vecnorm.obs_rms.mean.shape)
    vecnorm.obs_rms.var = rng.uniform(0.5, 2.0, vecnorm.obs_rms.var.shape)
    model = PPO("MlpPolicy", vecnorm, seed=3, device="cpu")
    return model, vecnorm


def test_pool_rows_equal_the_in_process_rows() -> None:
    model, vecnorm = _model_and_stats()
    try:
        expected = run_episodes(model, NAV, KWARGS, 5, seed=1_000_000, vecnormalize=vecnorm)
        pool = EvalPool(NAV, KWARGS, workers=2)
        try:
            first = pool.run(model, 5, seed=1_000_000, vecnormalize=vecnorm)
            again = pool.run(model, 5, seed=1_000_000, vecnormalize=vecnorm)  # reused worker envs
        finally:
            pool.close()
    finally:
        vecnorm.close()
    assert [r["episode"] for r in first.rows] == [0, 1, 2, 3, 4]
    # exact equality, NaN (time_to_goal of a failed episode) equal to NaN
    np.testing.assert_equal(first.rows, expected.rows)
    np.testing.assert_equal(again.rows, expected.rows)
    np.testing.assert_equal(first.summary, expected.summary)
    assert "spl" in first.summary["metrics"]


def test_pool_sees_the_current_policy() -> None:
    model, vecnorm = _model_and_stats()
    pool = EvalPool(NAV, KWARGS, workers=2)
    try:
        before = pool.run(model, 2, seed=7, vecnormalize=vecnorm)
        with np.errstate(all="ignore"):
            for p in model.policy.action_net.parameters():
                p.data.mul_(-1.0)  # a different policy: other actions, other returns
        after = pool.run(model, 2, seed=7, vecnormalize=vecnorm)
        expected = run_episodes(model, NAV, KWARGS, 2, seed=7, vecnormalize=vecnorm)
    finally:
        pool.close()
        vecnorm.close()
    np.testing.assert_equal(after.rows, expected.rows)
    assert [r["return"] for r in after.rows] != [r["return"] for r in before.rows]


def test_worker_count_rules() -> None:
    import os

    cores = os.cpu_count() or 1
    assert eval_workers(1, 50) == 1
    assert eval_workers(3, 2) == 2  # never more workers than episodes
    assert eval_workers(0, 50) == max(1, min(4, cores))
    assert eval_workers(0, 5) == 1  # auto: one worker per 4 episodes at most
    with pytest.raises(InputError, match="eval_workers=-1 is not accepted"):
        eval_workers(-1, 10)
    with pytest.raises(InputError, match="needs workers >= 2"):
        EvalPool(NAV, KWARGS, workers=1)


def test_subproc_and_dummy_vec_envs_train_the_same_weights() -> None:
    # SubprocVecEnv stacks rewards as float64, DummyVecEnv stores float32: the cast makes the
    # choice of vec env a matter of speed only (the rewards' last bits changed every update after)
    import torch
    from stable_baselines3.common.vec_env import VecNormalize

    from robot_rl.train.sb3 import make_vec_env

    weights = []
    for kind in ("dummy", "subproc"):
        venv = VecNormalize(make_vec_env(NAV, {"split": "train"}, 2, 0, kind))
        try:
            model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=2, seed=0, device="cpu")
            model.learn(64 * 2 * 2)
            weights.append(torch.cat([p.detach().flatten() for p in model.policy.parameters()]))
        finally:
            venv.close()
    assert torch.equal(weights[0], weights[1])
