"""The nav adapter: ROS 2 messages -> the MobileNav observation, exactly as the env builds it."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("cyclonedds", reason="needs the ros2 extra (make install installs it)")

from robot_rl.deploy.deploy_config import load_deploy_config
from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.nav import NavAdapter, trained_angles
from robot_rl.deploy.ros2.sim_robot import TransportFaults, sensor_messages
from robot_rl.envs.robots.diff_drive import LidarConfig
from robot_rl.errors import InputError


@pytest.mark.parametrize(("beams", "fov"), [(24, 360.0), (10, 180.0), (1, 90.0), (7, 270.0)])
def test_trained_angles_are_the_envs(beams, fov):
    np.testing.assert_array_equal(trained_angles(beams, fov), LidarConfig(beams, math.radians(fov)).angles())


def test_observation_from_the_robots_messages_equals_the_envs_observation(nav_manifest):
    import gymnasium as gym

    import robot_rl  # noqa: F401

    env = gym.make("robot_rl/MobileNav-v0")
    adapter = NavAdapter(nav_manifest)
    rng = np.random.default_rng(3)
    try:
        obs, _ = env.reset(seed=5)
        for step in range(30):
            msgs = sensor_messages(env, 1000.0 + step)
            got = adapter.observation(msgs["scan"], msgs["odom"], msgs["goal"], msgs["plan"])
            assert got.shape == obs.shape == (34,) and got.dtype == np.float32
            np.testing.assert_allclose(got, obs, atol=2e-6, err_msg=f"step {step}")
            action = rng.uniform(-1, 1, 2).astype(np.float32)
            adapter.command(action)
            obs, *_ = env.step(action)
    finally:
        env.close()


def _scan(n: int, angle_min: float, ranges, inc: float | None = None) -> m.LaserScan:
    inc = 2 * math.pi / n if inc is None else inc
    return m.LaserScan(
        m.Header(), angle_min, angle_min + (n - 1) * inc, inc, 0.0, 0.1, 0.05, 12.0, list(ranges)
    )


def test_scan_is_resampled_to_the_trained_beams_with_rep117_values(nav_manifest):
    adapter = NavAdapter(nav_manifest)
    n = 720
    angle_min = 0.0  # a scanner that starts straight ahead: the trained -pi beam is index 360
    angles = angle_min + np.arange(n) * 2 * math.pi / n
    ranges = 1.0 + 0.5 * np.cos(angles)  # 0.5 .. 1.5 m, angle-dependent
    out = adapter.ranges(_scan(n, angle_min, ranges))
    expected = 1.0 + 0.5 * np.cos(trained_angles(24, 360.0).astype(np.float64))
    np.testing.assert_allclose(out, expected, atol=1e-6)
    ranges[0] = np.inf  # forward: no return -> trained max range (3 m)
    ranges[360] = -np.inf  # behind (-pi): too close -> 0
    ranges[540] = np.nan  # right (-pi/2): invalid -> NaN
    ranges[180] = 25.0  # left (+pi/2): beyond the trained range -> clipped to 3 m
    out = adapter.ranges(_scan(n, angle_min, ranges))
    beams = {a: i for i, a in enumerate(np.round(trained_angles(24, 360.0), 4))}
    assert out[beams[0.0]] == 3.0 and out[beams[round(-math.pi, 4)]] == 0.0
    assert np.isnan(out[beams[round(-math.pi / 2, 4)]]) and out[beams[round(math.pi / 2, 4)]] == 3.0
    assert np.isnan(out).sum() == 1


def test_a_scan_narrower_than_the_trained_field_of_view_is_refused(nav_manifest):
    adapter = NavAdapter(nav_manifest)
    half = _scan(181, -math.pi / 2, [1.0] * 181, inc=math.pi / 180)  # -90 .. +90 degrees
    with pytest.raises(
        InputError, match=r"/scan \(sensor_msgs/LaserScan\): angle_min..angle_max covers 181.0 deg"
    ):
        adapter.check_scan(half, "/scan")
    adapter.check_scan(_scan(360, -math.pi, [1.0] * 360), "/scan")  # a full circle passes
    with pytest.raises(InputError, match=r"angle_increment=-0\.1 rad"):
        adapter.check_scan(_scan(10, 0.0, [1.0] * 10, inc=-0.1), "/scan")
    partial = {**nav_manifest, "env": {**nav_manifest["env"], "kwargs": {"lidar_fov_deg": 180.0}}}
    narrow = NavAdapter(partial)
    narrow.check_scan(half, "/scan")
    with pytest.raises(InputError, match=r"do not cover the trained field of view \[-1.5708, 1.5708\]"):
        narrow.check_scan(_scan(90, -math.pi / 4, [1.0] * 90, inc=math.pi / 180), "/scan")


def test_goal_in_another_frame_is_refused_and_a_missing_input_is_nan(nav_manifest):
    adapter = NavAdapter(nav_manifest)
    odom = m.Odometry(m.Header(m.Time(), "odom"))
    goal = m.PoseStamped(m.Header(m.Time(), "map"), m.Pose(m.Point(1.0, 0.0, 0.0)))
    topics = {"odom": "/odom", "goal": "/goal_pose", "plan": "/plan"}
    with pytest.raises(InputError, match=r"/goal_pose: header.frame_id='map' but /odom is in 'odom'"):
        adapter.check_frames(odom, goal, None, topics)
    scan = _scan(24, -math.pi, [1.0] * 24)
    obs = adapter.observation(scan, odom, None, None)
    nan = np.isnan(obs)
    assert nan[26:32].all() and not nan[:26].any() and not nan[32:].any()  # goal and waypoint missing


def test_new_goal_resets_previous_action_and_commands_are_in_si_units(nav_manifest):
    adapter = NavAdapter(nav_manifest)
    assert adapter.command(np.array([0.5, -0.25], np.float32)) == (0.25, -0.5)  # 0.5 m/s, 2 rad/s per unit
    np.testing.assert_array_equal(adapter.previous_action, [0.5, -0.25])
    adapter.new_goal()
    np.testing.assert_array_equal(adapter.previous_action, [0.0, 0.0])


def test_bundles_the_adapter_cannot_serve_are_refused(nav_manifest):
    grasp = {**nav_manifest, "env": {**nav_manifest["env"], "id": "robot_rl/PandaGrasp-v0"}}
    with pytest.raises(
        InputError,
        match="runs robot_rl/MobileNav-v0 and MobileNavDiscrete-v0 bundles; this bundle is for 'rob",
    ):
        NavAdapter(grasp)
    action = {**nav_manifest["action"], "type": "discrete"}  # discrete without its primitive table
    with pytest.raises(
        InputError, match=r"continuous, or discrete with its motion-primitive table; got 'discrete'"
    ):
        NavAdapter({**nav_manifest, "action": action})
    layout = [*nav_manifest["observation"]["inputs"][0]["layout"], {"name": "camera", "size": 1, "start": 34,
              "stop": 35, "low": 0, "high": 1}]  # fmt: skip
    odd = {**nav_manifest, "observation": {"inputs": [{"name": "obs", "size": 35, "layout": layout}]}}
    with pytest.raises(InputError, match=r"observation fields \['camera'\] have no ROS 2 source"):
        NavAdapter(odd)


def test_shipped_ros2_config_validates_and_bad_keys_are_named(tmp_path):
    ros2 = load_deploy_config("deploy_nav_ros2").ros2
    assert ros2 is not None and ros2.scan.topic == "/scan" and ros2.scan.qos == "sensor_data"
    assert ros2.odom.qos == "default" and ros2.cmd_vel.topic == "/cmd_vel" and not ros2.cmd_vel.stamped
    bad = tmp_path / "bad.yaml"
    bad.write_text("ros2:\n  scan: {topic: /scan, qos: reliable}\n")
    with pytest.raises(
        InputError, match=r"ros2.scan.qos='reliable' is not accepted; choose one of \['sensor_data', 'de"
    ):
        load_deploy_config(bad)
    arm = tmp_path / "arm.yaml"
    arm.write_text("ros2:\n  robot: arm\n  domain_id: 400\n")
    with pytest.raises(InputError, match=r"ros2.domain_id=400 is not accepted; expected an integer <= 232"):
        load_deploy_config(arm)


def test_transport_faults_parse_and_refuse():
    f = TransportFaults.parse(["drop=0.2,delay=0.05", "stop@3", "nan@4.5"])
    assert (f.drop, f.delay, f.stop_at, f.nan_at) == (0.2, 0.05, 3.0, 4.5)
    for bad in ["drop=2", "delay@1", "stop=3", "boom@1", "nan@x"]:
        with pytest.raises(InputError, match="expected drop=P"):
            TransportFaults.parse([bad])
