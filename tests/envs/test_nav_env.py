"""MobileNav-v0 / MobileNavDiscrete-v0: API contracts, determinism, errors, rendering, physics checks."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import SubprocVecEnv

import robot_rl  # noqa: F401  (registers the ids)
from robot_rl.envs.nav_env import MOTION_PRIMITIVES, MobileNavEnv
from robot_rl.envs.nav_layout import SPLIT_SEEDS


@pytest.fixture
def env():
    e = MobileNavEnv()
    yield e
    e.close()


def rollout(env: MobileNavEnv, seed: int, steps: int = 40) -> np.ndarray:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(123)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        out.append(np.append(obs, reward))
        if terminated or truncated:
            break
    return np.concatenate(out)


@pytest.mark.parametrize("env_id", ["robot_rl/MobileNav-v0", "robot_rl/MobileNavDiscrete-v0"])
def test_both_env_checkers_pass_without_warnings(env_id: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = gym.make(env_id, render_mode="rgb_array")
        check_env(e.unwrapped)
        sb3_check_env(e.unwrapped)
        e.close()
    assert [str(w.message) for w in caught] == []


def test_spaces_and_named_layout(env: MobileNavEnv) -> None:
    assert env.observation_space.shape == (env.obs_layout.size,)
    assert env.obs_layout.names == (
        "lidar",
        "base_speed",
        "base_yaw_rate",
        "goal_distance",
        "goal_bearing",
        "waypoint_distance",
        "waypoint_bearing",
        "previous_action",
    )
    assert env.obs_layout.slice("lidar") == slice(0, 24)
    assert env.dt == pytest.approx(0.1) and env.timing.substeps == 24
    assert env.max_episode_steps == 250
    pure = MobileNavEnv(map_aware=False, lidar_beams=16, lidar_fov_deg=180)
    assert "waypoint_bearing" not in pure.obs_layout.names and pure.obs_layout.slice("lidar") == slice(0, 16)
    pure.close()


def test_discrete_actions_map_to_motion_primitives() -> None:
    e = MobileNavEnv(action_type="discrete")
    assert e.action_space.n == len(MOTION_PRIMITIVES)
    e.reset(seed=0)
    obs, *_ = e.step(3)
    np.testing.assert_allclose(obs[e.obs_layout.slice("previous_action")], MOTION_PRIMITIVES[3])
    with pytest.raises(ValueError, match="integer index"):
        e.step(len(MOTION_PRIMITIVES))
    e.close()


def test_same_seed_same_episode_even_after_another_episode(env: MobileNavEnv) -> None:
    first = rollout(env, seed=11)
    rollout(env, seed=99, steps=80)
    again = rollout(env, seed=11)
    np.testing.assert_array_equal(first, again)
    other = MobileNavEnv()
    np.testing.assert_array_equal(first, rollout(other, seed=11))
    other.close()


@pytest.mark.parametrize(
    ("action", "match"),
    [
        ([math.nan, 0.0], "NaN or Inf"),
        ([0.0, math.inf], "NaN or Inf"),
        ([0.0, 0.0, 0.0], "shape"),
        ([1.0], "shape"),
    ],
)
def test_bad_actions_raise_value_error(env: MobileNavEnv, action: list, match: str) -> None:
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(np.asarray(action, np.float32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "validation"}, r"\['train', 'val', 'test'\]"),
        ({"action_type": "box"}, "continuous"),
        ({"difficulty": "expert"}, "standard"),
        ({"lidar_beams": 0}, "beams"),
        ({"lidar_fov_deg": 400}, "lidar_fov_deg"),
        ({"geodesic_range": (5, 1)}, "geodesic_range"),
        ({"render_mode": "human"}, "rgb_array"),
        ({"control_hz": 7}, "whole number"),
        ({"max_episode_seconds": 0.0}, "max_episode_seconds"),
    ],
)
def test_bad_constructor_arguments_list_what_is_accepted(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MobileNavEnv(**kwargs)


def test_reset_options_pin_the_layout_within_the_split(env: MobileNavEnv) -> None:
    lo, hi = SPLIT_SEEDS["train"]
    _, info = env.reset(seed=0, options={"layout_seed": lo + 5})
    assert info["layout_seed"] == lo + 5
    with pytest.raises(ValueError, match="outside"):
        env.reset(options={"layout_seed": hi})
    with pytest.raises(ValueError, match="accepted"):
        env.reset(options={"start": (0, 0)})


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_resets_draw_layouts_from_their_split_only(split: str) -> None:
    e = MobileNavEnv(split=split)
    lo, hi = SPLIT_SEEDS[split]
    seeds = {e.reset(seed=s)[1]["layout_seed"] for s in range(15)}
    assert all(lo <= s < hi for s in seeds) and len(seeds) > 10
    e.close()


def test_reward_components_sum_and_metrics_at_episode_end(env: MobileNavEnv) -> None:
    env.reset(seed=3)
    zero = np.zeros(2, np.float32)
    for _ in range(env.max_episode_steps):
        _, reward, terminated, truncated, info = env.step(zero)
        parts = [info[k] for k in ("reward_progress", "reward_collision", "reward_time", "reward_success")]
        assert reward == pytest.approx(sum(parts))
        if terminated or truncated:
            break
    assert truncated and not terminated
    metrics = info["metrics"]
    assert metrics["success"] == 0.0 and metrics["spl"] == 0.0 and math.isnan(metrics["time_to_goal"])
    assert metrics["path_length"] < 0.05  # standing still
    assert metrics["geodesic_distance"] >= 1.5


def test_driving_into_a_wall_counts_a_collision_and_can_terminate() -> None:
    e = MobileNavEnv(terminate_on_collision=True)
    e.reset(seed=0)
    layout = e.task.layout
    assert layout is not None
    # Face the east outer wall from a free spot 0.25 m in front of it.
    rows = [i for i in range(layout.config.cells) if layout.clearance[i, -4] > 0.34]
    x, y = layout.to_world(rows[len(rows) // 2], layout.config.cells - 4)
    e.robot.place(x, y, 0.0)
    e.task._phi = e.task._potential(x, y)
    for _ in range(30):
        _, _, terminated, truncated, info = e.step(np.array([1.0, 0.0], np.float32))
        if terminated or truncated:
            break
    assert terminated and info["reward_collision"] < 0 and info["metrics"]["collisions"] == 1.0
    e.close()


def test_lidar_measures_the_nearest_surface() -> None:
    e = MobileNavEnv(lidar_beams=360)
    e.reset(seed=4)
    layout = e.task.layout
    assert layout is not None
    i, j = layout.to_cell(*e.robot.position)
    nearest = float(layout.clearance[i, j])
    ranges = e.robot.ranges
    assert nearest - 0.08 <= ranges.min() <= nearest + 0.08  # cell-centre vs true position
    assert ranges.max() <= e.robot.lidar.max_range
    e.close()


def test_forward_action_drives_forward_at_the_documented_speed(env: MobileNavEnv) -> None:
    env.reset(seed=0)
    for _ in range(15):
        obs, *_ = env.step(np.array([1.0, 0.0], np.float32))
    assert obs[env.obs_layout.slice("base_speed")][0] == pytest.approx(0.5, abs=0.05)
    for _ in range(15):
        obs, *_ = env.step(np.array([0.0, 0.5], np.float32))
    assert obs[env.obs_layout.slice("base_yaw_rate")][0] == pytest.approx(1.0, abs=0.15)


def test_render_draws_a_top_down_frame() -> None:
    e = MobileNavEnv(render_mode="rgb_array", render_size=128)
    e.reset(seed=2)
    for _ in range(5):
        e.step(np.array([0.5, 0.0], np.float32))
    frame = e.render()
    assert frame is not None and frame.shape == (128, 128, 3) and frame.dtype == np.uint8
    colours = {tuple(c) for c in frame.reshape(-1, 3)}
    assert {(110, 110, 120), (40, 180, 60), (60, 60, 70)} <= colours  # walls, goal, robot
    e.close()


def test_subproc_vec_env_with_two_workers() -> None:
    # Workers unpickle the factory by reference to the env class, so they import robot_rl themselves.
    venv = SubprocVecEnv([MobileNavEnv for _ in range(2)])
    try:
        venv.seed(5)
        obs = venv.reset()
        assert obs.shape == (2, venv.observation_space.shape[0])
        obs, rewards, _dones, _infos = venv.step(np.zeros((2, 2), np.float32))
        assert obs.shape[0] == 2 and rewards.shape == (2,) and np.all(np.isfinite(obs))
    finally:
        venv.close()


def test_bodies_are_pooled_across_many_layouts(env: MobileNavEnv) -> None:
    env.reset(seed=0)
    bodies = env.sim.getNumBodies()
    layouts = {env.reset()[1]["layout_seed"] for _ in range(60)}
    assert len(layouts) == 60 and env.sim.getNumBodies() == bodies


def test_docs_list_every_observation_field_and_primitive() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "navigation.md").read_text()
    env = MobileNavEnv()
    for field in env.obs_layout.fields:
        assert f"| `{field.name}` |" in docs, field.name
    for index, row in enumerate(MOTION_PRIMITIVES):
        linear, angular = (repr(round(float(v), 2)).replace("-0.0", "0.0") for v in row)
        assert f"| {index} |" in docs and f"({linear}, {angular})" in docs
    env.close()
