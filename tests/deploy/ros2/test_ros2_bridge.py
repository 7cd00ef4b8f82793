"""Ros2Hardware over DDS on loopback, against publishers in the same process (own domain per test)."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

pytest.importorskip("cyclonedds", reason="needs the ros2 extra (make install installs it)")

from robot_rl.deploy.interface import HardwareInterface
from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.bridge import Ros2Hardware
from robot_rl.deploy.ros2.config import InputTopic, Ros2Settings
from robot_rl.deploy.ros2.node import Ros2Node, wait_until
from robot_rl.deploy.ros2.qos import DEFAULT, SENSOR_DATA, loopback_config, network_config
from robot_rl.errors import InputError

WALL = 1_800_000_000.0  # the injected epoch clock of the deploy side


class Clocks:
    """Injected monotonic and epoch clocks (the same instants, different origins)."""

    def __init__(self) -> None:
        self.mono = 100.0

    def clock(self) -> float:
        return self.mono

    def wall(self) -> float:
        return WALL + self.mono - 100.0


def _robot(domain_id: int, sensor_qos=SENSOR_DATA):
    node = Ros2Node(domain_id)
    writers = {
        "scan": node.writer("/scan", m.LaserScan, sensor_qos),
        "odom": node.writer("/odom", m.Odometry, DEFAULT),
        "goal": node.writer("/goal_pose", m.PoseStamped, DEFAULT),
        "plan": node.writer("/plan", m.Path, DEFAULT),
    }
    return node, writers


def _publish(writers, stamp: float, ranges=None) -> None:
    h = m.Header(m.stamp_of(stamp), "odom")
    n = 24
    inc = 2 * math.pi / n
    ranges = [1.5] * n if ranges is None else ranges
    scan = m.LaserScan(m.Header(h.stamp, "base_scan"), -math.pi, math.pi - inc, inc, 0, 0.1, 0, 3.5, ranges)
    writers["scan"].write(scan)
    twist = m.Twist(m.Vector3(0.2, 0, 0), m.Vector3(0, 0, -0.5))
    writers["odom"].write(
        m.Odometry(h, "base_link", m.PoseWithCovariance(m.Pose()), m.TwistWithCovariance(twist))
    )
    goal = m.PoseStamped(h, m.Pose(m.Point(0.0, 2.0, 0.0)))  # 2 m to the left
    writers["goal"].write(goal)
    writers["plan"].write(m.Path(h, [m.PoseStamped(h, m.Pose(m.Point(1.0, 0.0, 0.0))), goal]))


def _received(reader, cls, timeout_s: float = 10.0) -> list:
    """Messages that arrive on ``reader`` (waits for the first, at most ``timeout_s``)."""
    got: list = []
    assert wait_until(lambda: bool(got.extend(Ros2Node.take_all(reader, cls)) or got), timeout_s)
    return got


def test_loopback_config_keeps_dds_on_this_host(monkeypatch):
    xml = loopback_config()
    for part in ('<NetworkInterface name="lo"/>', "<AllowMulticast>false</AllowMulticast>",
                 '<Peer address="127.0.0.1"/>', "<ParticipantIndex>auto</ParticipantIndex>"):  # fmt: skip
        assert part in xml
    monkeypatch.delenv("CYCLONEDDS_URI", raising=False)
    assert network_config(None) == (xml, "loopback only (lo, no multicast, peer 127.0.0.1)")
    assert 'name="eth1"' in network_config("eth1")[0]
    monkeypatch.setenv("CYCLONEDDS_URI", "file:///etc/cyclone.xml")
    assert network_config(None) == (None, "the network configured by CYCLONEDDS_URI")
    with pytest.raises(InputError, match="is not an interface name"):
        network_config('lo"/><Peer address="10.0.0.1')


def test_missing_publishers_are_named_with_type_and_qos(nav_manifest, domain_id):
    hw = Ros2Hardware(nav_manifest, Ros2Settings(), domain_id)
    try:
        with pytest.raises(InputError) as err:
            hw.wait_for_inputs(timeout_s=0.3)
    finally:
        hw.close()
    text = str(err.value)
    assert f"no message within 0.3 s on domain {domain_id} (loopback only" in text
    assert "/scan (sensor_msgs/msg/LaserScan, DDS rt/scan, QoS sensor_data): no publisher matched" in text
    assert "/goal_pose (geometry_msgs/msg/PoseStamped, DDS rt/goal_pose, QoS default)" in text


def test_a_reliable_reader_does_not_match_a_best_effort_writer(nav_manifest, domain_id):
    settings = Ros2Settings(
        scan=InputTopic(topic="/scan", qos="default")
    )  # wrong: drivers publish best effort
    node, writers = _robot(domain_id)
    hw = Ros2Hardware(nav_manifest, settings, domain_id)
    try:
        assert wait_until(lambda: bool(hw.readers["odom"].get_matched_publications()), 10.0)
        _publish(writers, WALL)
        with pytest.raises(
            InputError, match=r"/scan \(sensor_msgs/msg/LaserScan, DDS rt/scan, QoS default\): no pub"
        ):
            hw.wait_for_inputs(timeout_s=1.0)
    finally:
        hw.close()
        node.close()


def test_observation_stamp_and_command_on_the_wire(nav_manifest, domain_id):
    clocks = Clocks()
    node, writers = _robot(domain_id)
    cmd = node.reader("/cmd_vel", m.Twist, DEFAULT)
    hw = Ros2Hardware(nav_manifest, Ros2Settings(), domain_id, clock=clocks.clock, wall_clock=clocks.wall)
    try:
        assert isinstance(hw, HardwareInterface)
        assert wait_until(lambda: all(r.get_matched_publications() for r in hw.readers.values()), 10.0)
        _publish(writers, WALL - 0.04)  # stamped 40 ms before the deploy side's "now"
        hw.wait_for_inputs(timeout_s=10.0)
        obs, stamp = hw.read_observation()
        assert obs.shape == (34,) and obs.dtype == np.float32
        np.testing.assert_allclose(obs[:24], 1.5)
        np.testing.assert_allclose(obs[24:26], [0.2, -0.5])
        np.testing.assert_allclose(obs[26:29], [2.0, 0.0, 1.0], atol=1e-6)  # goal 2 m, bearing +90 deg
        np.testing.assert_allclose(obs[29:32], [1.0, 1.0, 0.0], atol=1e-6)  # waypoint = first plan pose
        np.testing.assert_array_equal(obs[32:], [0.0, 0.0])
        assert stamp == pytest.approx(clocks.mono - 0.04, abs=1e-6)  # age from header.stamp
        hw.write_action(np.array([0.5, -1.0], np.float32))
        twist = _received(cmd, m.Twist)[-1]
        assert (twist.linear.x, twist.angular.z) == (0.25, -2.0)  # 0.5 m/s and 2 rad/s per unit
        assert hw.read_observation()[0][32:].tolist() == [0.5, -1.0]  # previous_action
        _publish(writers, WALL - 0.01, ranges=[math.nan] * 24)
        assert wait_until(lambda: bool(np.isnan(hw.read_observation()[0][:24]).all()), 10.0)
        hw.close()
        assert wait_until(lambda: not writers["odom"].get_matched_subscriptions(), 10.0)  # the bridge left
        hw.close()  # idempotent
    finally:
        hw.close()
        node.close()


def test_without_the_extra_ros2_says_how_to_install_it(monkeypatch):
    import importlib.util

    from robot_rl.cli import main
    from robot_rl.deploy.ros2 import require

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "cyclonedds" else real(name, *a)
    )
    with pytest.raises(InputError, match=r"pip install 'robot_rl\[ros2\]'.*missing: cyclonedds"):
        require()
    assert main(["deploy", "zoo:nav_sac", "--hardware", "ros2"]) == 2


def test_deploy_cli_names_the_missing_topics(domain_id, capsys, tmp_path):
    from robot_rl.cli import main

    cfg = tmp_path / "fast.yaml"
    cfg.write_text("env_id: robot_rl/MobileNav-\nros2:\n  wait_for_inputs_s: 0.3\n")
    code = main(
        ["deploy", "zoo:nav_sac", "--hardware", "ros2", "--config", str(cfg), "--domain-id", str(domain_id)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"robot-rl deploy: error: no message within 0.3 s on domain {domain_id}" in err
    assert "/odom (nav_msgs/msg/Odometry, DDS rt/odom, QoS default): no publisher matched" in err
    assert main(["deploy", "zoo:nav_sac", "--record", str(tmp_path / "x.mcap")]) == 2
    assert "--record, --domain-id and --interface apply to --hardware ros2" in capsys.readouterr().err


def test_wait_for_new_ignores_queued_messages_and_returns_on_the_next(nav_manifest, domain_id):
    node, writers = _robot(domain_id)
    hw = Ros2Hardware(nav_manifest, Ros2Settings(), domain_id)
    try:
        assert wait_until(lambda: all(r.get_matched_publications() for r in hw.readers.values()), 10.0)
        _publish(writers, WALL)
        hw.wait_for_inputs(timeout_s=10.0)
        _publish(writers, WALL + 0.1)  # queued before the wait: not new
        assert wait_until(lambda: bool(hw.readers["scan"].read(N=1)), 10.0)
        assert hw.wait_for_new("scan", 0.2) is False
        later = threading.Timer(0.3, _publish, (writers, WALL + 0.2))  # arrives while waiting
        later.start()
        assert hw.wait_for_new("scan", 10.0) is True
        later.join()
        assert m.seconds_of(hw.latest["scan"].header.stamp) == pytest.approx(WALL + 0.2)
        assert hw.delivery.count == 3 and hw.stamp_to_command.count == 0  # no command sent yet
    finally:
        hw.close()
        node.close()
