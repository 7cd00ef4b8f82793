"""RobotTaskEnv behaviour on a toy robot: validation, limits, latency, noise, goal obs."""

import dataclasses

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from robot_rl.envs.core import EnvSettings, RobotTaskEnv
from robot_rl.sim.session import PyBulletSession
from robot_rl.sim.timing import SimTiming
from tests.envs.toy import Puck, ReachOrigin, ToyEnv


@pytest.fixture
def env():
    e = ToyEnv(max_episode_seconds=1.0)
    yield e
    e.close()


def test_time_limit_in_seconds_truncates_and_reports_metrics(env):
    env.reset(seed=0)
    assert env.max_episode_steps == 20  # 1 s at 20 Hz
    for i in range(20):
        _, _, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        assert truncated == (i == 19) and not terminated
    assert "final_distance" in info["metrics"]
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.zeros(2, np.float32))


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.array([np.nan, 0], np.float32), "NaN or Inf at index \\[0\\]"),
        (np.array([0, np.inf], np.float32), "NaN or Inf at index \\[1\\]"),
        (np.zeros(3, np.float32), "shape \\(2,\\) \\(vx, vy\\), got shape \\(3,\\)"),
        ("left", "numeric"),
    ],
)
def test_bad_actions_raise_value_error(env, action, message):
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_huge_finite_actions_are_clipped_not_refused(env):
    env.reset(seed=0)
    for action in ([3e38, 3e38], [-3e38, -3e38], [3e38, -1e-3]):
        vec = env.action_to_vector(np.array(action, np.float32))
        assert vec.dtype == np.float32
        np.testing.assert_array_equal(vec, np.clip(np.array(action, np.float32), -1, 1))
    with pytest.raises(ValueError, match="NaN or Inf at index \\[0, 1\\]"):
        env.action_to_vector(np.array([np.inf, -np.inf], np.float32))


def test_clipped_action_is_a_new_array(env):
    env.reset(seed=0)
    action = np.array([0.5, -0.25], np.float32)
    vec = env.action_to_vector(action)
    assert vec is not action and not np.shares_memory(vec, action)
    np.testing.assert_array_equal(vec, action)


def test_out_of_range_actions_are_clipped_and_moved_at_documented_speed(env):
    obs, _ = env.reset(seed=1)
    start = env.obs_layout.unpack(obs)["position"]
    obs, *_ = env.step(np.array([5.0, 0.0], np.float32))
    parts = env.obs_layout.unpack(obs)
    np.testing.assert_allclose(parts["previous_action"], [1.0, 0.0])
    # 1.0 means 1 m/s for one control period of 0.05 s
    assert parts["position"][0] - start[0] == pytest.approx(0.05, abs=0.01)


def test_action_latency_delays_what_the_robot_receives():
    env = ToyEnv(max_episode_seconds=1.0, action_latency_steps=2)
    env.reset(seed=0)
    for k in range(4):
        env.step(np.array([0.1 * (k + 1), 0], np.float32))
    applied = [float(a[0]) for a in env.robot.applied]
    assert applied == pytest.approx([0.0, 0.0, 0.1, 0.2])
    env.close()


def test_observation_noise_is_seeded():
    a, b = (
        ToyEnv(max_episode_seconds=1, obs_noise_std=0.01),
        ToyEnv(max_episode_seconds=1, obs_noise_std=0.01),
    )
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    np.testing.assert_array_equal(oa, ob)
    clean = ToyEnv(max_episode_seconds=1)
    oc, _ = clean.reset(seed=3)
    assert not np.array_equal(oa, oc)
    for e in (a, b, clean):
        e.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_episode_seconds": -1}, "max_episode_seconds"),
        ({"max_episode_seconds": 1, "render_mode": "video"}, "render_mode='video' is not accepted"),
        ({"max_episode_seconds": 1, "action_latency_steps": -1}, "action_latency_steps"),
        ({"max_episode_seconds": 1, "obs_noise_std": float("nan")}, "obs_noise_std"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ToyEnv(**kwargs)


def test_goal_env_dict_obs_and_vectorized_reward():
    env = ToyEnv(goal=True, max_episode_seconds=1)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"}
    ag = np.array([[0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(env.compute_reward(ag, np.zeros((2, 2)), [{}, {}]), [0.0, -1.0])
    _, reward, *_ = env.step(np.zeros(2, np.float32))
    assert reward == env.compute_reward(env.task.achieved_goal(), np.zeros(2), {})
    env.close()


def test_discrete_action_table():
    env = ToyEnv(discrete=True, max_episode_seconds=1)
    env.reset(seed=0)
    env.step(1)
    np.testing.assert_array_equal(env.robot.applied[-1], [1, 0])
    with pytest.raises(ValueError, match="integer index in \\[0, 4\\]"):
        env.step(5)
    env.close()


@pytest.mark.parametrize("kwargs", [{}, {"goal": True}, {"discrete": True}])
def test_env_checkers_pass_on_the_core(kwargs):
    env = ToyEnv(max_episode_seconds=1, **kwargs)
    check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=True, skip_render_check=True)
    env.close()


def test_settings_are_checked_before_anything_is_built():
    timing = SimTiming(240, 20)
    settings = EnvSettings(timing, max_episode_seconds=1.0, obs_noise_std=0.5, action_latency_steps=2)
    assert settings.max_episode_steps == 20
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_episode_seconds = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"max_episode_seconds=0\.01 is not accepted"):
        EnvSettings(timing, max_episode_seconds=0.01)  # shorter than one control period
    with pytest.raises(ValueError, match="action_latency_steps must be an int"):
        EnvSettings(timing, max_episode_seconds=1.0, action_latency_steps=1.5)  # type: ignore[arg-type]


def test_the_env_keeps_what_its_settings_say():
    env = ToyEnv(max_episode_seconds=1.5, obs_noise_std=0.25, action_latency_steps=1, discrete=True)
    assert env.settings.max_episode_seconds == 1.5
    assert env.max_episode_steps == env.settings.max_episode_steps == 30
    assert (env.obs_noise_std, env.action_latency_steps, env.timing) == (0.25, 1, env.settings.timing)
    assert env.action_space == spaces.Discrete(5) and env.sim is env.robot.sim
    env.close()


def test_a_task_built_on_another_robot_is_refused():
    settings = EnvSettings(SimTiming(240, 20), max_episode_seconds=1.0)
    sim = PyBulletSession(physics_dt=settings.timing.physics_dt)
    try:
        robot, other = Puck(sim, settings.timing), Puck(sim, settings.timing)
        with pytest.raises(ValueError, match="built on the env's robot"):
            RobotTaskEnv(robot, ReachOrigin(sim, other), settings)
        with pytest.raises(ValueError, match="at the settings' timing"):
            RobotTaskEnv(robot, ReachOrigin(sim, robot), EnvSettings(SimTiming(240, 40), 1.0))
        with pytest.raises(ValueError, match="discrete_actions must be an \\(n, 2\\) table"):
            RobotTaskEnv(
                robot, ReachOrigin(sim, robot), EnvSettings(settings.timing, 1.0, None, ((1, 0, 0),))
            )
    finally:
        sim.close()
