"""The depth-camera arm adapter and the discrete navigation adapter: ROS 2 messages -> observations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("cyclonedds", reason="needs the ros2 extra (make install installs it)")

from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.arm import ArmAdapter, DepthArmAdapter, depth_metres
from robot_rl.deploy.ros2.bridge import make_adapter
from robot_rl.deploy.ros2.config import Ros2ArmSettings, Ros2Settings
from robot_rl.deploy.ros2.nav import NavAdapter
from robot_rl.deploy.ros2.sim_robot import arm_messages, depth_messages
from robot_rl.errors import InputError


def _image(values: np.ndarray, encoding: str, big: bool = False, pad: int = 0) -> m.Image:
    h, w = values.shape
    dtype = {"16UC1": "u2", "32FC1": "f4"}[encoding]
    arr = values.astype((">" if big else "<") + dtype)
    rows = [arr[r].tobytes() + b"\xee" * pad for r in range(h)]
    step = w * arr.itemsize + pad
    return m.Image(m.Header(), h, w, encoding, int(big), step, b"".join(rows))


@pytest.mark.parametrize("big", [False, True])
def test_16uc1_millimetres_with_padded_rows_and_either_byte_order(big):
    mm = np.array([[0, 70, 500], [1234, 65535, 1]], np.uint16)
    got = depth_metres(_image(mm, "16UC1", big=big, pad=3))
    np.testing.assert_allclose(got, mm.astype(np.float32) * 0.001, rtol=1e-6)
    assert got.dtype == np.float32 and got[0, 0] == 0.0  # 0 mm: no measurement


def test_32fc1_metres_invalid_values_are_no_measurement():
    metres = np.array([[0.25, np.nan, np.inf], [-np.inf, -0.1, 0.0]], np.float32)
    got = depth_metres(_image(metres, "32FC1"))
    np.testing.assert_array_equal(got, [[0.25, 0, 0], [0, 0, 0]])


def test_bad_depth_images_are_refused_with_what_is_accepted():
    img = _image(np.ones((2, 3), np.float32), "32FC1")
    img.encoding = "rgb8"
    with pytest.raises(
        InputError, match=r"encoding 'rgb8' is not accepted; expected one of \['16UC1', '32FC1'"
    ):
        depth_metres(img)
    short = _image(np.ones((2, 3), np.float32), "32FC1")
    short.data = bytes(short.data)[:-1]
    with pytest.raises(InputError, match=r"step=12 and 23 bytes of data; expected step >= 12 and at least"):
        depth_metres(short)


@pytest.fixture(scope="module")
def depth_bundle(make_bundle):
    return make_bundle("grasp_depth_ppo")


@pytest.fixture(scope="module")
def depth_manifest(depth_bundle):
    return json.loads((depth_bundle / "manifest.json").read_text())


def test_depth_observation_from_the_robots_messages_equals_the_envs(depth_manifest):
    import gymnasium as gym

    import robot_rl  # noqa: F401

    settings = Ros2ArmSettings(robot="arm")
    adapter = make_adapter(depth_manifest, settings)
    assert isinstance(adapter, DepthArmAdapter) and adapter.phase_key == "depth_image"
    assert "object_pose" not in adapter.inputs  # the depth policy reads no object state
    env = gym.make("robot_rl/PandaGrasp-v0", obs_mode="depth")
    camera = env.unwrapped.camera_contract()
    rng = np.random.default_rng(3)
    try:
        obs, _ = env.reset(seed=4)
        for step in range(12):
            latest = {**arm_messages(env, 100.0 + step), **depth_messages(obs["depth"][0], camera, 100.0)}
            if step == 0:
                adapter.check_inputs(latest, {k: f"/{k}" for k in latest})
            got = adapter.observe(latest)
            np.testing.assert_array_equal(got["depth"], obs["depth"])
            np.testing.assert_allclose(got["proprio"], obs["proprio"], atol=2e-6, err_msg=f"step {step}")
            flat = adapter.flat(got)
            assert flat.shape == (4096 + 15,) and np.array_equal(flat[4096:], got["proprio"])
            action = rng.uniform(-1, 1, 5).astype(np.float32)
            adapter.commands(action, 100.0)
            obs, *_ = env.step(action)
    finally:
        env.close()


def test_depth_start_up_checks_name_the_camera_field(depth_manifest):
    import gymnasium as gym

    import robot_rl  # noqa: F401

    adapter = DepthArmAdapter(depth_manifest, Ros2ArmSettings(robot="arm"))
    env = gym.make("robot_rl/PandaGrasp-v0", obs_mode="depth")
    try:
        obs, _ = env.reset(seed=0)
        camera = env.unwrapped.camera_contract()
        latest = {**arm_messages(env, 5.0), **depth_messages(obs["depth"][0], camera, 5.0)}
    finally:
        env.close()
    topics = {k: f"/{k}" for k in latest}
    adapter.check_inputs(latest, topics)
    info = latest["camera_info"]
    k = list(info.k)
    info.k = [k[0] * 1.05, *k[1:]]
    with pytest.raises(
        InputError, match=r"/camera_info: k gives fx=47.986 but the camera contract has 45.701"
    ):
        adapter.check_inputs(latest, topics)
    info.k = k
    small = depth_messages(np.zeros((48, 64), np.float32), camera, 5.0)
    with pytest.raises(InputError, match=r"/depth_image: 64x48 but the policy was trained on 64x64"):
        adapter.check_inputs({**latest, "depth_image": small["depth_image"]}, topics)
    bad = {**latest, "depth_image": _image(np.zeros((64, 64), np.float32), "32FC1")}
    bad["depth_image"].header.frame_id = "elsewhere"
    with pytest.raises(InputError, match=r"header.frame_id='elsewhere' but /camera_info is in"):
        adapter.check_inputs(bad, topics)
    # during the run a malformed image is NaN (the safety filter then sends the safe action)
    broken = {**latest, "depth_image": _image(np.zeros((64, 64), np.float32), "32FC1")}
    broken["depth_image"].encoding = "bgr8"
    assert np.isnan(adapter.observe(broken)["depth"]).all()
    # a state bundle is not run by the depth adapter, nor a depth bundle by the state adapter
    with pytest.raises(InputError, match=r"the bundle has 2 inputs \['depth', 'proprio'\]"):
        ArmAdapter(depth_manifest, Ros2ArmSettings(robot="arm"))


def test_discrete_nav_commands_are_the_motion_primitives(make_bundle):
    manifest = json.loads((make_bundle("nav_dqn") / "manifest.json").read_text())
    adapter = make_adapter(manifest, Ros2Settings())
    assert isinstance(adapter, NavAdapter) and adapter.table is not None
    table = np.asarray(manifest["action"]["discrete_actions"])
    per_unit = [s["per_unit"] for s in manifest["action"]["semantics"]]
    for index, row in enumerate(table):
        twist = adapter.commands(index, 10.0)["cmd_vel"]
        assert (twist.linear.x, twist.angular.z) == pytest.approx(
            (row[0] * per_unit[0], row[1] * per_unit[1])
        )
        np.testing.assert_allclose(adapter.previous_action, row)  # what the env puts in the observation
    assert adapter.commands(6, 10.0)["cmd_vel"].linear.x == 0.0  # the safe action: the stop primitive
    assert math.isclose(table[0][0] * per_unit[0], 0.5)  # forward: 0.5 m/s
