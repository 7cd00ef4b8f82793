"""ROS 2 message types as DDS types (cyclonedds IDL), wire-compatible with ROS 2 nodes.

ROS 2's Cyclone DDS middleware (rmw_cyclonedds) maps a message ``pkg/msg/Name`` to the DDS type
``pkg::msg::dds_::Name_``: a *final*, unkeyed struct serialized as plain CDR (XCDR1, little
endian, encapsulation header ``00 01 00 00``). Each class here mirrors the official ``.msg``
definition of the same name, shipped beside this module in ``msg/<pkg>/<Name>.msg`` field by field
(same order, same types); ``tests/deploy/ros2/test_ros2_wire.py`` serializes every type with
these classes and with the independent ROS 2 CDR encoder of ``mcap-ros2-support`` built from the
``.msg`` text, and compares the bytes.

Field types: ``float64`` -> ``types.float64``, ``float32`` -> ``types.float32``, ``uint32`` ->
``types.uint32``, ``int32`` -> ``types.int32``, ``T[]`` -> ``types.sequence[T]``, ``T[N]`` ->
``types.array[T, N]``, ``string`` -> ``str``, ``bool`` -> ``bool``.

``robot_rl_msgs/DeployTick`` is the project's own message (one control-loop tick, written by
``robot-rl deploy --record``); its definition travels inside every MCAP log, so Foxglove decodes
it without the package.

No ``from __future__ import annotations`` here: cyclonedds reads the field annotations as
objects when it builds a type.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cyclonedds.idl.types as t
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.annotations import final

if TYPE_CHECKING:  # to mypy a sequence field is the list it holds at run time
    from builtins import list as sequence
else:
    sequence = t.sequence


def _ros2(pkg: str, name: str) -> str:
    return f"{pkg}::msg::dds_::{name}_"


@final
@dataclass
class Time(IdlStruct, typename=_ros2("builtin_interfaces", "Time")):
    sec: t.int32 = 0
    nanosec: t.uint32 = 0


@final
@dataclass
class Header(IdlStruct, typename=_ros2("std_msgs", "Header")):
    stamp: Time = field(default_factory=Time)
    frame_id: str = ""


@final
@dataclass
class MultiArrayDimension(IdlStruct, typename=_ros2("std_msgs", "MultiArrayDimension")):
    label: str = ""
    size: t.uint32 = 0
    stride: t.uint32 = 0


@final
@dataclass
class MultiArrayLayout(IdlStruct, typename=_ros2("std_msgs", "MultiArrayLayout")):
    dim: sequence[MultiArrayDimension] = field(default_factory=list)
    data_offset: t.uint32 = 0


@final
@dataclass
class Float64MultiArray(IdlStruct, typename=_ros2("std_msgs", "Float64MultiArray")):
    layout: MultiArrayLayout = field(default_factory=MultiArrayLayout)
    data: sequence[t.float64] = field(default_factory=list)


@final
@dataclass
class Vector3(IdlStruct, typename=_ros2("geometry_msgs", "Vector3")):
    x: t.float64 = 0.0
    y: t.float64 = 0.0
    z: t.float64 = 0.0


@final
@dataclass
class Point(IdlStruct, typename=_ros2("geometry_msgs", "Point")):
    x: t.float64 = 0.0
    y: t.float64 = 0.0
    z: t.float64 = 0.0


@final
@dataclass
class Quaternion(IdlStruct, typename=_ros2("geometry_msgs", "Quaternion")):
    x: t.float64 = 0.0
    y: t.float64 = 0.0
    z: t.float64 = 0.0
    w: t.float64 = 1.0


@final
@dataclass
class Pose(IdlStruct, typename=_ros2("geometry_msgs", "Pose")):
    position: Point = field(default_factory=Point)
    orientation: Quaternion = field(default_factory=Quaternion)


@final
@dataclass
class PoseStamped(IdlStruct, typename=_ros2("geometry_msgs", "PoseStamped")):
    header: Header = field(default_factory=Header)
    pose: Pose = field(default_factory=Pose)


@final
@dataclass
class PoseWithCovariance(IdlStruct, typename=_ros2("geometry_msgs", "PoseWithCovariance")):
    pose: Pose = field(default_factory=Pose)
    covariance: t.array[t.float64, 36] = field(default_factory=lambda: [0.0] * 36)


@final
@dataclass
class Twist(IdlStruct, typename=_ros2("geometry_msgs", "Twist")):
    linear: Vector3 = field(default_factory=Vector3)
    angular: Vector3 = field(default_factory=Vector3)


@final
@dataclass
class TwistStamped(IdlStruct, typename=_ros2("geometry_msgs", "TwistStamped")):
    header: Header = field(default_factory=Header)
    twist: Twist = field(default_factory=Twist)


@final
@dataclass
class TwistWithCovariance(IdlStruct, typename=_ros2("geometry_msgs", "TwistWithCovariance")):
    twist: Twist = field(default_factory=Twist)
    covariance: t.array[t.float64, 36] = field(default_factory=lambda: [0.0] * 36)


@final
@dataclass
class Odometry(IdlStruct, typename=_ros2("nav_msgs", "Odometry")):
    header: Header = field(default_factory=Header)
    child_frame_id: str = ""
    pose: PoseWithCovariance = field(default_factory=PoseWithCovariance)
    twist: TwistWithCovariance = field(default_factory=TwistWithCovariance)


@final
@dataclass
class Path(IdlStruct, typename=_ros2("nav_msgs", "Path")):
    header: Header = field(default_factory=Header)
    poses: sequence[PoseStamped] = field(default_factory=list)


@final
@dataclass
class LaserScan(IdlStruct, typename=_ros2("sensor_msgs", "LaserScan")):
    header: Header = field(default_factory=Header)
    angle_min: t.float32 = 0.0
    angle_max: t.float32 = 0.0
    angle_increment: t.float32 = 0.0
    time_increment: t.float32 = 0.0
    scan_time: t.float32 = 0.0
    range_min: t.float32 = 0.0
    range_max: t.float32 = 0.0
    ranges: sequence[t.float32] = field(default_factory=list)
    intensities: sequence[t.float32] = field(default_factory=list)


@final
@dataclass
class JointState(IdlStruct, typename=_ros2("sensor_msgs", "JointState")):
    header: Header = field(default_factory=Header)
    name: sequence[str] = field(default_factory=list)
    position: sequence[t.float64] = field(default_factory=list)
    velocity: sequence[t.float64] = field(default_factory=list)
    effort: sequence[t.float64] = field(default_factory=list)


@final
@dataclass
class Image(IdlStruct, typename=_ros2("sensor_msgs", "Image")):
    header: Header = field(default_factory=Header)
    height: t.uint32 = 0
    width: t.uint32 = 0
    encoding: str = ""
    is_bigendian: t.uint8 = 0
    step: t.uint32 = 0
    data: sequence[t.uint8] = field(default_factory=list)


@final
@dataclass
class RegionOfInterest(IdlStruct, typename=_ros2("sensor_msgs", "RegionOfInterest")):
    x_offset: t.uint32 = 0
    y_offset: t.uint32 = 0
    height: t.uint32 = 0
    width: t.uint32 = 0
    do_rectify: bool = False


@final
@dataclass
class CameraInfo(IdlStruct, typename=_ros2("sensor_msgs", "CameraInfo")):
    header: Header = field(default_factory=Header)
    height: t.uint32 = 0
    width: t.uint32 = 0
    distortion_model: str = ""
    d: sequence[t.float64] = field(default_factory=list)
    k: t.array[t.float64, 9] = field(default_factory=lambda: [0.0] * 9)
    r: t.array[t.float64, 9] = field(default_factory=lambda: [0.0] * 9)
    p: t.array[t.float64, 12] = field(default_factory=lambda: [0.0] * 12)
    binning_x: t.uint32 = 0
    binning_y: t.uint32 = 0
    roi: RegionOfInterest = field(default_factory=RegionOfInterest)


@final
@dataclass
class DeployTick(IdlStruct, typename=_ros2("robot_rl_msgs", "DeployTick")):
    header: Header = field(default_factory=Header)
    tick: t.uint64 = 0
    policy_step: bool = False
    observation: sequence[t.float32] = field(default_factory=list)
    has_raw_action: bool = False
    raw_action: sequence[t.float32] = field(default_factory=list)
    action: sequence[t.float32] = field(default_factory=list)
    flags: t.uint32 = 0


#: ROS 2 type name (``pkg/msg/Name``) -> DDS type, for every message this package speaks.
MESSAGES: dict[str, type[IdlStruct]] = {
    "builtin_interfaces/msg/Time": Time,
    "std_msgs/msg/Header": Header,
    "std_msgs/msg/MultiArrayDimension": MultiArrayDimension,
    "std_msgs/msg/MultiArrayLayout": MultiArrayLayout,
    "std_msgs/msg/Float64MultiArray": Float64MultiArray,
    "geometry_msgs/msg/Vector3": Vector3,
    "geometry_msgs/msg/Point": Point,
    "geometry_msgs/msg/Quaternion": Quaternion,
    "geometry_msgs/msg/Pose": Pose,
    "geometry_msgs/msg/PoseStamped": PoseStamped,
    "geometry_msgs/msg/PoseWithCovariance": PoseWithCovariance,
    "geometry_msgs/msg/Twist": Twist,
    "geometry_msgs/msg/TwistStamped": TwistStamped,
    "geometry_msgs/msg/TwistWithCovariance": TwistWithCovariance,
    "nav_msgs/msg/Odometry": Odometry,
    "nav_msgs/msg/Path": Path,
    "sensor_msgs/msg/LaserScan": LaserScan,
    "sensor_msgs/msg/JointState": JointState,
    "sensor_msgs/msg/Image": Image,
    "sensor_msgs/msg/RegionOfInterest": RegionOfInterest,
    "sensor_msgs/msg/CameraInfo": CameraInfo,
    "robot_rl_msgs/msg/DeployTick": DeployTick,
}


def ros_type_name(cls: type[IdlStruct]) -> str:
    """``geometry_msgs::msg::dds_::Twist_`` -> ``geometry_msgs/msg/Twist``."""
    pkg, _, _, name = cls.__idl_typename__.split("::")
    return f"{pkg}/msg/{name.rstrip('_')}"


def stamp_of(seconds: float) -> Time:
    """A ``builtin_interfaces/Time`` for a time in seconds since the epoch (>= 0)."""
    sec = int(seconds // 1)
    nanosec = min(round((seconds - sec) * 1e9), 999_999_999)
    return Time(sec, nanosec)


def seconds_of(stamp: Time) -> float:
    """A ``builtin_interfaces/Time`` in seconds."""
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)
