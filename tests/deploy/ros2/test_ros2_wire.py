"""Wire compatibility: our DDS types serialize byte for byte as ROS 2's CDR of the official .msg text.

The reference encoder is ``mcap-ros2-support``'s (``mcap_ros2._dynamic.serialize_dynamic``), an
independent implementation of ROS 2's CDR built from the message definition text; both sides
must produce the same bytes, encapsulation header included (``00 01 00 00``: plain CDR, little
endian), for every message type the bridge speaks.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

pytest.importorskip("cyclonedds", reason="needs the ros2 extra (make install installs it)")

from mcap_ros2._dynamic import generate_dynamic, serialize_dynamic

from robot_rl.deploy.ros2 import msgdefs
from robot_rl.deploy.ros2 import types as m

H = m.Header(m.Time(1_700_000_123, 456_789_000), "base_scan")
POSE = m.Pose(m.Point(1.25, -2.5, 0.125), m.Quaternion(0.0, 0.0, math.sin(0.3), math.cos(0.3)))
TWIST = m.Twist(m.Vector3(0.5, -0.25, 0.0), m.Vector3(0.0, 0.125, -1.75))
COV = [0.01 * i for i in range(36)]
LAYOUT = m.MultiArrayLayout([m.MultiArrayDimension("rows", 2, 6), m.MultiArrayDimension("cols", 3, 3)], 1)

#: One non-trivial sample per message type (odd-length strings and sequences exercise padding).
SAMPLES = {
    "builtin_interfaces/msg/Time": m.Time(-3, 999_999_999),
    "std_msgs/msg/Header": H,
    "std_msgs/msg/MultiArrayDimension": m.MultiArrayDimension("x", 7, 7),
    "std_msgs/msg/MultiArrayLayout": LAYOUT,
    "std_msgs/msg/Float64MultiArray": m.Float64MultiArray(LAYOUT, [0.5, -1.0, 3.0, 1e300, -0.0, 2.5]),
    "geometry_msgs/msg/Vector3": m.Vector3(1.0, 2.0, -3.5),
    "geometry_msgs/msg/Point": m.Point(-1.0, 0.0, 9.75),
    "geometry_msgs/msg/Quaternion": m.Quaternion(0.5, 0.5, 0.5, 0.5),
    "geometry_msgs/msg/Pose": POSE,
    "geometry_msgs/msg/PoseStamped": m.PoseStamped(H, POSE),
    "geometry_msgs/msg/PoseWithCovariance": m.PoseWithCovariance(POSE, COV),
    "geometry_msgs/msg/Twist": TWIST,
    "geometry_msgs/msg/TwistStamped": m.TwistStamped(m.Header(m.Time(5, 6), "base_link"), TWIST),
    "geometry_msgs/msg/TwistWithCovariance": m.TwistWithCovariance(TWIST, COV),
    "nav_msgs/msg/Odometry": m.Odometry(
        m.Header(m.Time(7, 8), "odom"),
        "base_footprint",
        m.PoseWithCovariance(POSE, COV),
        m.TwistWithCovariance(TWIST, COV[::-1]),
    ),
    "nav_msgs/msg/Path": m.Path(
        H, [m.PoseStamped(H, POSE), m.PoseStamped(m.Header(m.Time(1, 2), "map"), POSE)]
    ),
    "sensor_msgs/msg/LaserScan": m.LaserScan(
        H, -3.125, 3.0, 0.5, 2**-13, 0.125, 0.0625, 3.5, [1.0, math.inf, 0.25, 2.0, 3.5], [100.0, 0.0, 5.5]
    ),
    "sensor_msgs/msg/JointState": m.JointState(
        H, ["panda_joint1", "j2", "finger"], [0.5, -1.0, 0.04], [0.0, 0.25, 0.0], []
    ),
    "sensor_msgs/msg/Image": m.Image(H, 2, 3, "16UC1", 0, 6, list(range(1, 13))),
    "sensor_msgs/msg/RegionOfInterest": m.RegionOfInterest(1, 2, 30, 40, True),
    "sensor_msgs/msg/CameraInfo": m.CameraInfo(
        H,
        64,
        48,
        "plumb_bob",
        [0.125, -0.25, 0.0, 0.0, 0.5],
        [40.0, 0, 31.5, 0, 41.0, 23.5, 0, 0, 1],
        [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0],
        [40.0, 0, 31.5, 0.0, 0, 41.0, 23.5, 0, 0, 0, 1, 0],
        1,
        2,
        m.RegionOfInterest(0, 0, 48, 64, False),
    ),
    "robot_rl_msgs/msg/DeployTick": m.DeployTick(
        H, 12345678901, True, [0.5, 1.5, -2.0], True, [0.25, -1.0], [0.25, -0.5], 8 | 16
    ),
}


def _plain(value):
    """A message as the nested dicts / lists mcap_ros2's encoder takes."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_every_message_type_has_a_sample_and_a_shipped_definition():
    assert sorted(SAMPLES) == sorted(m.MESSAGES)
    for name, cls in m.MESSAGES.items():
        assert m.ros_type_name(cls) == name
        pkg, _, short = name.split("/")
        assert cls.__idl_typename__ == f"{pkg}::msg::dds_::{short}_"
        assert msgdefs.msg_text(name).startswith(f"# {pkg}/")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_bytes_equal_the_independent_ros2_cdr_encoder(name):
    sample = SAMPLES[name]
    ours = sample.serialize()
    schema = name.replace("/msg/", "/")
    encode = serialize_dynamic(schema, msgdefs.definition(name))[schema]
    ref = encode(_plain(sample))
    assert ours[:4] == b"\x00\x01\x00\x00"  # CDR, little endian (XCDR1), as rmw_cyclonedds writes
    assert ours == bytes(ref), f"{name}: ours {ours.hex()} != reference {bytes(ref).hex()}"
    # and both decode back to the same values
    decoded = generate_dynamic(schema, msgdefs.definition(name))[schema](ours)
    assert type(sample).deserialize(bytes(ref)) == sample
    assert decoded is not None


def test_definition_concatenates_nested_types_once_in_field_order():
    text = msgdefs.definition("nav_msgs/msg/Odometry")
    msgs = [line[5:] for line in text.splitlines() if line.startswith("MSG: ")]
    assert msgs == [
        "std_msgs/Header",
        "builtin_interfaces/Time",
        "geometry_msgs/PoseWithCovariance",
        "geometry_msgs/Pose",
        "geometry_msgs/Point",
        "geometry_msgs/Quaternion",
        "geometry_msgs/TwistWithCovariance",
        "geometry_msgs/Twist",
        "geometry_msgs/Vector3",
    ]
    with pytest.raises(KeyError, match=r"no shipped \.msg definition"):
        msgdefs.msg_text("geometry_msgs/msg/Wrench")


def test_stamp_round_trip():
    t = m.stamp_of(1_700_000_000.123456789)
    assert t.sec == 1_700_000_000 and abs(t.nanosec - 123_456_789) <= 256
    assert abs(m.seconds_of(t) - 1_700_000_000.123456789) < 1e-6
