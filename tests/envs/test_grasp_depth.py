"""PandaGrasp-v0(obs_mode="depth"): checkers, determinism, no object state, the camera sees the object."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from robot_rl.envs.grasp_depth import PROPRIO_FIELDS
from robot_rl.envs.grasp_env import PandaGraspEnv


@pytest.mark.parametrize("dr", [False, True])
def test_both_env_checkers_pass_without_warnings(dr: bool) -> None:
    env = gym.make("robot_rl/PandaGrasp-v0", obs_mode="depth", domain_randomization=dr)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gym_check_env(env.unwrapped, skip_render_check=True)
            sb3_check_env(env.unwrapped, warn=True)
        # SB3's two image warnings are by design: its image policies expect uint8 in [0, 255], our
        # depth is float32 metres, which the depth features extractor (robot_rl.nets) clips and scales
        by_design = (
            "observation depth is an image but its `dtype` is (float32)",
            "space depth is an image but",
        )
        messages = [str(w.message) for w in caught]
        assert all(any(k in m for k in by_design) for m in messages), messages
    finally:
        env.close()


def _rollout(env: PandaGraspEnv, seed: int, actions: np.ndarray) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed)
    out = [np.concatenate([obs["depth"].ravel(), obs["proprio"]])]
    for a in actions:
        obs, *_ = env.step(a)
        out.append(np.concatenate([obs["depth"].ravel(), obs["proprio"]]))
    return out


def test_deterministic_with_noise_also_after_an_intervening_episode() -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, (10, 5)).astype(np.float32)
    first = PandaGraspEnv(obs_mode="depth", domain_randomization=True)
    second = PandaGraspEnv(obs_mode="depth", domain_randomization=True)
    try:
        a = _rollout(first, 5, actions)
        _rollout(first, 6, actions[::-1])
        b = _rollout(first, 5, actions)
        c = _rollout(second, 5, actions)
    finally:
        first.close()
        second.close()
    np.testing.assert_array_equal(np.array(a), np.array(b))
    np.testing.assert_array_equal(np.array(a), np.array(c))


def test_observation_holds_proprioception_only_and_the_teacher_gets_the_state() -> None:
    env = PandaGraspEnv(obs_mode="depth")
    try:
        obs, _ = env.reset(seed=1)
        state = env.privileged_observation()
        fields = env.state_layout.unpack(state)
        expected = np.concatenate([fields[name].ravel() for name in PROPRIO_FIELDS])
        np.testing.assert_array_equal(obs["proprio"], expected)
        assert obs["proprio"].shape == (15,) and "object_position" in fields
        # moving the object changes the image but not the proprioception: no object state leaks
        body = env.task.object.body
        pos, orn = env.sim.getBasePositionAndOrientation(body)
        before = env._observation()
        env.sim.resetBasePositionAndOrientation(body, [pos[0] + 0.03, pos[1], pos[2]], orn)
        after = env._observation()
        np.testing.assert_array_equal(before["proprio"], after["proprio"])
        assert np.abs(before["depth"] - after["depth"]).max() > 0.01
    finally:
        env.close()


def test_the_object_appears_where_the_camera_contract_projects_it() -> None:
    env = PandaGraspEnv(obs_mode="depth")
    try:
        obs, _ = env.reset(seed=2)
        cam = env.depth_observer.camera
        world_cam = cam.world_pose(*env.robot.hand_pose())
        pos, _ = env.sim.getBasePositionAndOrientation(env.task.object.body)
        top = np.array([pos[0], pos[1], pos[2], 1.0])
        in_cam = np.linalg.inv(world_cam) @ top
        u, v = cam.project(in_cam[:3])
        assert 0 <= u < cam.width and 0 <= v < cam.height  # the object is in view at the start
        depth = obs["depth"][0]
        # at that pixel the camera sees the object (nearer than the table around it)
        assert depth[round(v), round(u)] < in_cam[2] + 0.03
        assert depth[round(v), round(u)] < np.median(depth[depth > 0])
        assert env.camera_contract()["proprio_fields"] == list(PROPRIO_FIELDS)
    finally:
        env.close()
