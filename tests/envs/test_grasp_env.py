"""PandaGrasp-v0 / PandaGraspGoal-v0: API contracts (checkers, spaces, determinism, errors)."""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import robot_rl  # noqa: F401  (registers the ids)
from robot_rl.envs.grasp_env import PandaGraspEnv, PandaGraspGoalEnv
from robot_rl.envs.robots.panda import MAX_OPENING, MOTOR_JOINTS, POSITION_STEP, PandaState
from robot_rl.envs.robots.panda_model import PANDA_URDF, panda_model
from robot_rl.sim.session import PYBULLET_DATA

GRASP_IDS = ("robot_rl/PandaGrasp-v0", "robot_rl/PandaGraspGoal-v0")


@pytest.fixture
def env() -> Iterator[PandaGraspEnv]:
    environment = PandaGraspEnv()
    yield environment
    environment.close()


@pytest.mark.parametrize("obs_mode", ["state", "rgbd"])
@pytest.mark.parametrize("env_id", GRASP_IDS)
def test_both_env_checkers_pass_without_warnings(env_id: str, obs_mode: str) -> None:
    environment = gym.make(env_id, obs_mode=obs_mode, image_size=48)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            gym_check_env(environment.unwrapped, skip_render_check=True)
            sb3_check_env(environment.unwrapped, warn=True)
    finally:
        environment.close()


def test_spaces_and_layout(env: PandaGraspEnv) -> None:
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
    assert env.observation_space.shape == (env.obs_layout.size,)
    assert env.obs_layout.names == (
        "ee_position", "ee_velocity", "ee_yaw", "gripper_opening", "finger_contacts", "object_position",
        "object_orientation", "object_linear_velocity", "object_angular_velocity",
        "object_relative_position", "previous_action",
    )  # fmt: skip
    assert env.dt == pytest.approx(0.05)
    assert env.max_episode_steps == 100
    obs, info = env.reset(seed=3)
    parts = env.obs_layout.unpack(obs)
    assert info == {"is_success": False}
    assert parts["gripper_opening"][0] == pytest.approx(MAX_OPENING, abs=1e-3)
    np.testing.assert_allclose(parts["ee_position"], [0.55, 0.0, 0.15], atol=2e-3)
    np.testing.assert_allclose(
        parts["object_relative_position"], parts["object_position"] - parts["ee_position"], atol=1e-6
    )
    for field in ("ee_displacement", "yaw_rate", "gripper"):
        assert (
            "1.0 =" in next(f for f in env.action_layout.fields if f.name == field).description
            or field == "gripper"
        )


def test_one_action_unit_moves_the_grasp_point_by_the_documented_step(env: PandaGraspEnv) -> None:
    obs, _ = env.reset(seed=0)
    start = env.obs_layout.unpack(obs)["ee_position"].copy()
    for _ in range(5):
        obs, *_ = env.step(np.array([1.0, 0.0, 0.0, 0.0, 1.0], np.float32))
    for _ in range(10):  # let the motors settle on the last target
        obs, *_ = env.step(np.zeros(5, np.float32) + np.array([0, 0, 0, 0, 1], np.float32))
    moved = env.obs_layout.unpack(obs)["ee_position"] - start
    assert moved[0] == pytest.approx(5 * POSITION_STEP, abs=3e-3)
    assert abs(moved[1]) < 3e-3 and abs(moved[2]) < 3e-3


def test_workspace_clip_keeps_the_gripper_above_the_table(env: PandaGraspEnv) -> None:
    env.reset(seed=1)
    for _ in range(40):
        obs, *_ = env.step(np.array([0.0, 0.0, -1.0, 0.0, 1.0], np.float32))
    z = env.obs_layout.unpack(obs)["ee_position"][2]
    assert 0.012 < z < 0.02


def _rollout(env: PandaGraspEnv, seed: int, actions: np.ndarray) -> np.ndarray:
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for action in actions:
        obs, *_ = env.step(action)
        out.append(obs)
    return np.array(out)


@pytest.mark.parametrize("kwargs", [{}, {"domain_randomization": True}, {"object_set": "random_test"}])
def test_determinism_also_after_an_intervening_episode(kwargs: dict[str, object]) -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, (30, 5)).astype(np.float32)
    first, second = PandaGraspEnv(**kwargs), PandaGraspEnv(**kwargs)  # type: ignore[arg-type]
    try:
        a = _rollout(first, 7, actions)
        _rollout(first, 8, actions[::-1])  # intervening episode, other object / pose
        b = _rollout(first, 7, actions)
        c = _rollout(second, 7, actions)
    finally:
        first.close()
        second.close()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a[0], _first_obs(kwargs, 8))


@pytest.mark.parametrize("kwargs", [{"domain_randomization": True}, {"object_set": "random_test"}])
def test_an_episode_does_not_depend_on_the_same_object_s_previous_episode(kwargs: dict[str, object]) -> None:
    # The object stays active (never parked) from one episode to the next; as a rigid body it kept
    # a stale world-frame inertia from its last pose until ObjectSet.place stepped it once.
    actions = np.random.default_rng(1).uniform(-1, 1, (30, 5)).astype(np.float32)
    env = PandaGraspEnv(**kwargs)  # type: ignore[arg-type]
    try:
        runs = [_rollout(env, 7, actions) for _ in range(3)]
    finally:
        env.close()
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


def _first_obs(kwargs: dict[str, object], seed: int) -> np.ndarray:
    environment = PandaGraspEnv(**kwargs)  # type: ignore[arg-type]
    try:
        return environment.reset(seed=seed)[0]
    finally:
        environment.close()


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.array([0, 0, np.nan, 0, 0], np.float32), "NaN or Inf"),
        (np.array([0, np.inf, 0, 0, 0], np.float32), "NaN or Inf"),
        (np.zeros(4, np.float32), "shape"),
        (np.zeros((1, 5), np.float32), "shape"),
    ],
)
def test_bad_actions_raise_value_error(env: PandaGraspEnv, action: np.ndarray, message: str) -> None:
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"object_set": "sphere"}, r"object_set='sphere'.*'cube', 'random_train', 'random_test'"),
        ({"reward_type": "shaped"}, r"reward_type='shaped'.*'dense', 'sparse'"),
        ({"obs_mode": "pixels"}, r"obs_mode='pixels'.*'state', 'rgbd'"),
        ({"render_mode": "video"}, r"render_mode='video'.*'rgb_array', 'human'"),
        ({"domain_randomization": "yes"}, r"domain_randomization='yes'.*False, True"),
        ({"max_episode_seconds": 0.0}, r"max_episode_seconds=0.0.*\[0.05, inf\]"),
        ({"physics_hz": 100.0}, "240"),
        ({"control_hz": 7.0}, "whole number"),
        ({"image_size": 8}, r"image_size=8.*\[36, 512\]"),
    ],
)
def test_bad_constructor_arguments_list_what_is_accepted(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PandaGraspEnv(**kwargs)  # type: ignore[arg-type]


def test_goal_env_rejects_dense_reward() -> None:
    with pytest.raises(ValueError, match=r"reward_type='dense'.*\['sparse'\]"):
        PandaGraspGoalEnv(reward_type="dense")


def test_time_limit_is_given_in_seconds() -> None:
    environment = PandaGraspEnv(max_episode_seconds=1.0, control_hz=40.0)
    try:
        assert environment.dt == pytest.approx(0.025)
        environment.reset(seed=0)
        steps, truncated, terminated = 0, False, False
        while not (truncated or terminated):
            _, _, terminated, truncated, info = environment.step(np.zeros(5, np.float32))
            steps += 1
        assert truncated and not terminated and steps == 40
        assert set(info["metrics"]) == {"success", "max_lift_m", "final_distance_m"}
    finally:
        environment.close()


def test_rgb_array_render_and_rgbd_observation() -> None:
    environment = PandaGraspEnv(render_mode="rgb_array", obs_mode="rgbd", image_size=64)
    try:
        obs, _ = environment.reset(seed=0)
        frame = environment.render()
        assert frame is not None and frame.shape == (360, 480, 3) and frame.dtype == np.uint8
        assert frame.std() > 5  # a scene, not a blank frame
        assert set(obs) == {"state", "rgbd"}
        assert obs["rgbd"].shape == (64, 64, 4) and obs["rgbd"].dtype == np.uint8
        depth = obs["rgbd"][..., 3].astype(float)
        assert depth.min() < depth.max()  # table and objects at different distances
        assert environment.observation_space.contains(obs)
    finally:
        environment.close()


def test_domain_randomization_switches_everything_on() -> None:
    environment = PandaGraspEnv(domain_randomization=True)
    try:
        assert environment.obs_noise_std > 0 and environment.action_latency_steps == 1
        assert environment.robot.pose_jitter > 0
        cube_sizes = environment.task.objects.sizes  # type: ignore[attr-defined]
        assert min(cube_sizes) == pytest.approx(0.03) and max(cube_sizes) == pytest.approx(0.06)
        starts = [
            environment.obs_layout.unpack(environment.reset(seed=s)[0])["ee_position"] for s in range(3)
        ]
        assert np.ptp(np.array(starts), axis=0).max() > 1e-3
        obs, _ = environment.reset(seed=0)
        assert environment.observation_space.contains(obs)  # noise is clipped into the bounds
    finally:
        environment.close()


def test_docs_tables_match_the_layouts(env: PandaGraspEnv) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "grasp.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (\d+):(\d+) \|", docs, flags=re.MULTILINE)
    documented = [(name, int(start), int(stop)) for name, start, stop in rows]
    expected = [
        (f.name, layout.slice(f.name).start, layout.slice(f.name).stop)
        for layout in (env.action_layout, env.obs_layout)
        for f in layout.fields
    ]
    assert documented == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="display check is Linux-only")
def test_human_render_without_a_display_raises_instead_of_exiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(RuntimeError, match=r"needs a display.*rgb_array"):
        PandaGraspEnv(render_mode="human")


def test_lowpoly_panda_keeps_the_physics_and_only_swaps_visual_meshes() -> None:
    meshes = str(Path(PYBULLET_DATA) / PANDA_URDF).replace("panda.urdf", "meshes/")
    original = Path(panda_model(False).urdf).read_text().replace(meshes, "package://meshes/")
    lowpoly = Path(panda_model(True).urdf).read_text().replace(meshes, "package://meshes/")

    def blocks(text: str, tag: str) -> list[str]:
        return re.findall(rf"<{tag}[ >].*?</{tag}>", text, re.S)

    for tag in ("collision", "inertial", "joint"):
        assert blocks(lowpoly, tag) == blocks(original, tag)
    visuals = blocks(lowpoly, "visual")
    assert len(visuals) == len(blocks(original, "visual")) > 0
    assert "meshes/visual/" in original and all("meshes/visual/" not in v for v in visuals)


def test_panda_state_is_measured_once_per_physics_step(env: PandaGraspEnv) -> None:
    robot, sim = env.robot, env.sim
    reads = []
    get_link_state = sim.getLinkState
    sim.__dict__["getLinkState"] = lambda *a, **k: reads.append(1) or get_link_state(*a, **k)
    try:
        env.reset(seed=0)
        first = robot.state
        assert robot.state is first and robot.ee_position is first.ee_position
        for _ in range(3):
            env.step(np.array([0.5, -0.5, 0.2, 0.3, -1.0], np.float32))
        assert len(reads) == 4  # one measurement after the reset and one per control step
        now = robot.state
        # the reset's one step (placing the object: objects.ObjectSet.place), then 3 control steps
        assert now.physics_step == sim.physics_steps == 1 + 3 * env.timing.substeps
        again = PandaState.read(sim, robot.body, panda_model().grasp)
        assert (now.ee_xyz, now.ee_quaternion, now.ee_velocity) == (again.ee_xyz, again.ee_quaternion,
                                                                    again.ee_velocity)  # fmt: skip
        joints = tuple(s[0] for s in sim.getJointStates(robot.body, MOTOR_JOINTS))
        assert now.joints == joints and now.opening == pytest.approx(joints[7] + joints[8])
        with pytest.raises(ValueError, match="read-only"):
            robot.ee_position[0] = 0.0
        robot.reset(env.np_random)  # re-poses the joints without a physics step: measured again
        after_reset = robot.state
        assert after_reset is not now and after_reset.physics_step == now.physics_step
        again = PandaState.read(sim, robot.body, panda_model().grasp)
        assert after_reset.ee_xyz == again.ee_xyz and after_reset.ee_xyz != now.ee_xyz
    finally:
        del sim.__dict__["getLinkState"]
