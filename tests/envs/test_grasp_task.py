"""Grasp task semantics: rewards, success, termination, goal variant, object sets, memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from robot_rl.envs.grasp_env import PandaGraspEnv, PandaGraspGoalEnv
from robot_rl.envs.objects import RANDOM_OBJECT_EXTENT, RANDOM_SPLITS, CubeSet, RandomUrdfSet
from robot_rl.envs.tasks.grasp import GOAL_THRESHOLD, LIFT_HEIGHT, GraspTask
from robot_rl.sim.session import PYBULLET_DATA

OPEN = np.array([0.0, 0.0, 0.0, 0.0, 1.0], np.float32)


@pytest.fixture
def env() -> Iterator[PandaGraspEnv]:
    environment = PandaGraspEnv()
    yield environment
    environment.close()


def _move_object(env: PandaGraspEnv, position: list[float]) -> None:
    task = env.task
    assert isinstance(task, GraspTask) and task.object is not None
    env.sim.resetBasePositionAndOrientation(task.object.body, position, [0, 0, 0, 1])


def test_dense_components_sum_to_the_reward_and_stay_in_minus_one_zero(env: PandaGraspEnv) -> None:
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        _, reward, terminated, _, info = env.step(rng.uniform(-1, 1, 5).astype(np.float32))
        parts = {k: v for k, v in info.items() if k.startswith("reward_")}
        assert set(parts) == {f"reward_{n}" for n in ("time", "reach", "grasp", "lift", "success", "dropped")}
        assert reward == pytest.approx(sum(parts.values()))
        if not terminated:
            assert -1.0 <= reward <= 0.0
            assert 0.0 <= info["reward_reach"] <= 0.3


def test_reach_reward_grows_as_the_gripper_approaches(env: PandaGraspEnv) -> None:
    obs, _ = env.reset(seed=2)
    _, _, _, _, far = env.step(OPEN)
    for _ in range(15):
        rel = env.obs_layout.unpack(obs)["object_relative_position"]
        action = np.array([*np.clip(rel / 0.02, -1, 1), 0.0, 1.0], np.float32)
        obs, _, _, _, near = env.step(action)
    assert near["reward_reach"] > far["reward_reach"] + 0.1


def test_object_off_the_table_terminates_with_the_remaining_time_as_penalty(env: PandaGraspEnv) -> None:
    env.reset(seed=0)
    env.step(OPEN)
    _move_object(env, [0.5, 0.0, -0.3])
    _, reward, terminated, truncated, info = env.step(OPEN)
    assert terminated and not truncated and not info["is_success"]
    assert info["reward_dropped"] == -(env.max_episode_steps - 2)
    assert reward < -env.max_episode_steps + 3


def test_a_lifted_object_without_a_grasp_is_not_a_success(env: PandaGraspEnv) -> None:
    env.reset(seed=0)
    for _ in range(8):  # "throw" it: hold it 15 cm up without touching the fingers
        _move_object(env, [0.7, 0.2, 0.15])
        _, _, terminated, _, info = env.step(OPEN)
        assert not info["is_success"] and not terminated
        assert info["reward_grasp"] == 0.0 and info["reward_lift"] == 0.0
    assert env.task.episode_metrics()["max_lift_m"] >= LIFT_HEIGHT


def test_sparse_reward_is_minus_one_per_step() -> None:
    environment = PandaGraspEnv(reward_type="sparse")
    try:
        environment.reset(seed=0)
        _, reward, *_, info = environment.step(OPEN)
        assert reward == -1.0 and info["reward_time"] == -1.0 and info["reward_dropped"] == 0.0
    finally:
        environment.close()


def test_goal_env_goals_rewards_and_no_termination() -> None:
    environment = PandaGraspGoalEnv()
    try:
        obs, _ = environment.reset(seed=4)
        assert set(obs) == {"observation", "achieved_goal", "desired_goal"}
        lift = obs["desired_goal"][2] - obs["achieved_goal"][2]
        assert LIFT_HEIGHT - 1e-6 <= lift <= 2 * LIFT_HEIGHT + 1e-6
        assert np.abs(obs["desired_goal"][:2] - obs["achieved_goal"][:2]).max() <= 0.05 + 1e-6
        _, reward, terminated, _, info = environment.step(OPEN)
        assert reward == -1.0 and not terminated and not info["is_success"]
        _move_object(environment, [*obs["desired_goal"][:2].tolist(), float(obs["desired_goal"][2])])
        obs, reward, terminated, _, info = environment.step(OPEN)
        assert reward == 0.0 and info["is_success"] and not terminated
        _move_object(environment, [0.5, 0.0, -0.3])  # dropped: still no termination (HER)
        _, reward, terminated, truncated, _ = environment.step(OPEN)
        assert reward == -1.0 and not terminated and not truncated
    finally:
        environment.close()


def test_goal_compute_reward_is_vectorized() -> None:
    environment = PandaGraspGoalEnv()
    try:
        achieved = np.zeros((5, 3), np.float32)
        desired = np.zeros((5, 3), np.float32)
        desired[:, 2] = [0.0, GOAL_THRESHOLD * 0.9, GOAL_THRESHOLD * 1.1, 0.2, 0.01]
        rewards = environment.compute_reward(achieved, desired, [{}] * 5)
        assert rewards.shape == (5,)
        np.testing.assert_array_equal(rewards, [0.0, 0.0, -1.0, -1.0, 0.0])
        assert environment.compute_reward(achieved[0], desired[3], {}) == -1.0
    finally:
        environment.close()


def test_random_splits_are_disjoint_and_exist() -> None:
    train, test = set(RANDOM_SPLITS["random_train"]), set(RANDOM_SPLITS["random_test"])
    assert not train & test
    assert len(train) == 800 and len(test) == 100
    for index in (*RANDOM_SPLITS["random_train"][:3], *RANDOM_SPLITS["random_test"][-3:]):
        assert (Path(PYBULLET_DATA) / f"random_urdfs/{index:03d}/{index:03d}.urdf").is_file()


def test_random_objects_are_loaded_lazily_scaled_and_reused() -> None:
    environment = PandaGraspEnv(object_set="random_test")
    try:
        objects = environment.task.objects
        assert isinstance(objects, RandomUrdfSet) and objects.body_count == 0
        names = set()
        for seed in range(6):
            environment.reset(seed=seed)
            body = environment.task.object
            assert body is not None and body.name.startswith("random_urdfs/")
            assert 900 <= int(body.name.split("/")[1]) <= 999
            names.add(body.name)
            low, high = environment.sim.getAABB(body.body)
            assert max(high[0] - low[0], high[1] - low[1]) < RANDOM_OBJECT_EXTENT * 1.5 + 0.004
        assert objects.body_count == len(names)
        bodies = environment.sim.getNumBodies()
        for seed in range(6):  # same seeds: same objects, no new body
            environment.reset(seed=seed)
        assert environment.sim.getNumBodies() == bodies
    finally:
        environment.close()


def test_cube_pool_and_parking(env: PandaGraspEnv) -> None:
    objects = env.task.objects
    assert isinstance(objects, CubeSet)
    assert objects.sizes == pytest.approx((0.04, 0.045, 0.05))
    bodies = env.sim.getNumBodies()
    seen = set()
    for seed in range(12):
        env.reset(seed=seed)
        active = env.task.object
        assert active is not None
        seen.add(active.name)
        for cube in objects._cubes:
            position = env.sim.getBasePositionAndOrientation(cube.body)[0]
            on_table = position[2] > -1.0
            assert on_table == (cube.body == active.body)
        mass = env.sim.getDynamicsInfo(active.body, -1)[0]
        assert 0.05 <= mass <= 0.15
    assert len(seen) == 3 and env.sim.getNumBodies() == bodies


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_memory_stays_flat_over_resets(env: PandaGraspEnv) -> None:
    for seed in range(50):  # warm-up: allocator pools, numpy caches
        env.reset(seed=seed)
        env.step(OPEN)
    before = _rss_mb()
    for seed in range(400):
        env.reset(seed=1000 + seed)
        env.step(OPEN)
    grown = _rss_mb() - before
    assert grown < 2.0, f"resident memory grew {grown:.2f} MB over 400 resets"
