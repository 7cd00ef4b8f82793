"""The task is solvable through the public spaces; the env works in SB3's vector envs and HER."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import SubprocVecEnv

import robot_rl  # noqa: F401  (registers the ids)
from robot_rl.envs.grasp_env import PandaGraspEnv, PandaGraspGoalEnv
from robot_rl.envs.scripted.grasp_controller import ScriptedGraspController


def _scripted_successes(seeds: range, **kwargs: Any) -> tuple[int, list[float]]:
    env = PandaGraspEnv(**kwargs)
    controller = ScriptedGraspController(env.obs_layout)
    successes, lifts = 0, []
    try:
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            controller.reset()
            terminated = truncated = False
            while not (terminated or truncated):
                obs, _, terminated, truncated, info = env.step(controller(obs))
            successes += int(info["is_success"])
            lifts.append(info["metrics"]["max_lift_m"])
            assert info["is_success"] == bool(info["metrics"]["success"])
    finally:
        env.close()
    return successes, lifts


def test_scripted_controller_lifts_the_default_cube() -> None:
    successes, lifts = _scripted_successes(range(10))
    assert successes >= 8, f"scripted grasp lifted the cube in only {successes}/10 episodes"
    assert np.median(lifts) >= 0.10


def test_scripted_controller_with_pixels_in_the_observation() -> None:
    successes, _ = _scripted_successes(range(2), obs_mode="rgbd", image_size=48)
    assert successes >= 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kwargs", "minimum"),
    [
        ({"domain_randomization": True}, 7),
        ({"object_set": "random_train"}, 6),
        ({"object_set": "random_test"}, 6),
    ],
)
def test_scripted_controller_on_harder_settings(kwargs: dict[str, Any], minimum: int) -> None:
    successes, _ = _scripted_successes(range(10), **kwargs)
    assert successes >= minimum, f"{kwargs}: {successes}/10"


def test_scripted_controller_carries_the_object_to_the_goal() -> None:
    env = PandaGraspGoalEnv()
    controller = ScriptedGraspController(env.obs_layout)
    held = 0
    try:
        for seed in range(10):
            obs, _ = env.reset(seed=seed)
            controller.reset()
            terminated = truncated = False
            while not (terminated or truncated):
                obs, reward, terminated, truncated, info = env.step(controller(obs))
            assert truncated and not terminated  # goal episodes end at the time limit only
            held += int(info["is_success"] and reward == 0.0)
    finally:
        env.close()
    assert held >= 8, f"object at the goal at the last step in only {held}/10 episodes"


def test_random_actions_rarely_succeed() -> None:
    env = PandaGraspEnv()
    rng = np.random.default_rng(0)
    try:
        env.reset(seed=0)
        successes = 0
        for _ in range(200):
            *_, terminated, truncated, info = env.step(rng.uniform(-1, 1, 5).astype(np.float32))
            successes += int(info["is_success"])
            if terminated or truncated:
                env.reset()
        assert successes == 0  # success is not free: the scripted result above means something
    finally:
        env.close()


def _make(env_id: str) -> Any:
    # "module:id" makes a spawned worker import robot_rl (which registers the ids) first.
    return lambda: gym.make(f"robot_rl:{env_id}")


@pytest.mark.parametrize("env_id", ["robot_rl/PandaGrasp-v0", "robot_rl/PandaGraspGoal-v0"])
def test_subproc_vec_env_with_two_workers(env_id: str) -> None:
    vec = SubprocVecEnv([_make(env_id), _make(env_id)], start_method="spawn")
    try:
        vec.seed(11)
        first = vec.reset()
        rng = np.random.default_rng(0)
        for _ in range(30):
            obs, rewards, dones, infos = vec.step(rng.uniform(-1, 1, (2, 5)).astype(np.float32))
        assert rewards.shape == (2,) and dones.shape == (2,) and len(infos) == 2
        assert all("is_success" in info for info in infos)
        space = vec.observation_space
        flat = first["observation"] if isinstance(first, dict) else first
        size = space["observation"].shape[0] if isinstance(space, gym.spaces.Dict) else space.shape[0]
        assert size == 31 and flat.shape == (2, size)
        assert not np.array_equal(flat[0], flat[1])  # workers got different seeds
        assert np.all(np.isfinite(obs["observation"] if isinstance(obs, dict) else obs))
    finally:
        vec.close()


def test_her_replay_buffer_accepts_the_goal_env() -> None:
    from stable_baselines3 import SAC, HerReplayBuffer

    env = gym.make("robot_rl/PandaGraspGoal-v0")
    model = SAC(
        "MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
        learning_starts=110, batch_size=32, buffer_size=1000, seed=0, device="cpu",
        policy_kwargs={"net_arch": [32, 32]},
    )  # fmt: skip
    model.learn(total_timesteps=140)
    batch = model.replay_buffer.sample(16)  # type: ignore[union-attr]
    rewards = batch.rewards.numpy().ravel()
    assert set(np.unique(rewards)) <= {-1.0, 0.0}
    env.close()
