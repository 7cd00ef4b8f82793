"""The arm adapter: ROS 2 messages -> the PandaGrasp observation, and commands for MoveIt Servo."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("cyclonedds", reason="needs the ros2 extra (make install installs it)")

from robot_rl.deploy.deploy_config import load_deploy_config
from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.arm import ArmAdapter
from robot_rl.deploy.ros2.config import Ros2ArmSettings
from robot_rl.deploy.ros2.sim_robot import ArmIO, arm_messages
from robot_rl.errors import InputError
from tests.deploy.ros2.conftest import ROOT

GRASP_BUNDLE = ROOT / "assets/policies/grasp_ppo/bundle"


@pytest.fixture(scope="module")
def grasp_manifest() -> dict:
    return json.loads((GRASP_BUNDLE / "manifest.json").read_text())


def test_observation_from_the_arms_messages_equals_the_envs_observation(grasp_manifest):
    import gymnasium as gym

    import robot_rl  # noqa: F401

    env = gym.make("robot_rl/PandaGrasp-v0")
    adapter = ArmAdapter(grasp_manifest, Ros2ArmSettings(robot="arm"))
    rng = np.random.default_rng(1)
    try:
        obs, _ = env.reset(seed=2)
        for step in range(25):
            got = adapter.observe(arm_messages(env, 1000.0 + step))
            assert got.shape == obs.shape == (31,) and got.dtype == np.float32
            np.testing.assert_allclose(got, obs, atol=2e-6, err_msg=f"step {step}")
            action = rng.uniform(-1, 1, 5).astype(np.float32)
            adapter.commands(action, 1000.0)
            obs, *_ = env.step(action)
    finally:
        env.close()


def test_commands_invert_on_the_robot_side(grasp_manifest):
    adapter = ArmAdapter(grasp_manifest, Ros2ArmSettings(robot="arm"))
    action = np.array([0.5, -0.25, 1.0, -0.5, -1.0], np.float32)
    msgs = adapter.commands(action, 1234.5)
    twist, grip = msgs["twist_cmd"], msgs["gripper_cmd"]
    assert twist.header.frame_id == "world" and m.seconds_of(twist.header.stamp) == pytest.approx(1234.5)
    assert (twist.twist.linear.x, twist.twist.linear.z) == pytest.approx((0.2, 0.4))  # 0.4 m/s per unit
    assert twist.twist.angular.z == pytest.approx(-1.0)  # 2 rad/s per unit
    assert grip.data == [0.0, 0.0]  # -1 = closed
    io = ArmIO.__new__(ArmIO)  # the sim robot's decoding, without a DDS node
    io.linear_per_s, io.yaw_per_s, io.offset, io.per_unit = 0.4, 2.0, 0.04, 0.04

    class Node:
        @staticmethod
        def take_all(reader, cls):
            return [twist] if reader == "twist" else [grip]

    io.twist, io.gripper = "twist", "gripper"
    back, n = io.take(Node, np.zeros(5, np.float32))
    np.testing.assert_allclose(back, action, atol=1e-6)
    assert n == 2


def test_arm_start_up_checks_name_the_field(grasp_manifest):
    adapter = ArmAdapter(grasp_manifest, Ros2ArmSettings(robot="arm"))
    import gymnasium as gym

    import robot_rl  # noqa: F401

    env = gym.make("robot_rl/PandaGrasp-v0")
    try:
        env.reset(seed=0)
        latest = arm_messages(env, 1000.0)
    finally:
        env.close()
    topics = {k: f"/{k}" for k in latest}
    adapter.check_inputs(latest, topics)
    latest["object_pose"].header.frame_id = "camera"
    with pytest.raises(
        InputError, match=r"/object_pose: header.frame_id='camera' but /ee_pose is in 'world'"
    ):
        adapter.check_inputs(latest, topics)
    latest["object_pose"].header.frame_id = "world"
    latest["joint_states"].name = ["j1", "j2"]
    with pytest.raises(InputError, match=r"name has no \['panda_finger_joint1', 'panda_finger_joint2'\]"):
        adapter.check_inputs(latest, topics)
    with pytest.raises(InputError, match="MoveIt Servo takes geometry_msgs/TwistStamped"):
        ArmAdapter(grasp_manifest, Ros2ArmSettings(robot="arm", twist_cmd={"stamped": False}))
    nav = {**grasp_manifest, "env": {**grasp_manifest["env"], "id": "robot_rl/MobileNav-v0"}}
    with pytest.raises(InputError, match="runs robot_rl/PandaGrasp-v0 bundles"):
        ArmAdapter(nav, Ros2ArmSettings(robot="arm"))


def test_shipped_arm_config_and_the_robot_key_selects_the_adapter():
    ros2 = load_deploy_config("deploy_grasp_ros2").ros2
    assert isinstance(ros2, Ros2ArmSettings) and ros2.twist_cmd.topic == "/servo_node/delta_twist_cmds"
    assert ros2.finger_contacts.stamp == "arrival" and ros2.gripper_cmd.joints == 2
