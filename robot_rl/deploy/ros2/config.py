"""The ``ros2`` section of a deploy YAML: topics, QoS, frames (validated with pydantic).

Shipped: ``launch/deploy_nav_ros2.yaml`` (``--config deploy_nav_ros2``), the default of
``robot-rl deploy BUNDLE --hardware ros2`` for a MobileNav bundle. Keys (unknown keys refused):

``ros2.robot``
    The adapter: ``nav`` (MobileNav bundles, :class:`Ros2Settings`) or ``arm`` (PandaGrasp
    bundles, :class:`Ros2ArmSettings`; its keys are described in :mod:`robot_rl.deploy.ros2.arm`).
``ros2.domain_id``
    DDS domain (``ROS_DOMAIN_ID``), 0..232; ``--domain-id`` overrides it.
``ros2.scan`` / ``ros2.odom`` / ``ros2.goal`` / ``ros2.plan``
    Inputs, each ``{topic, qos, stamp}``: the ROS 2 topic name, the QoS profile the publisher
    uses (``sensor_data`` or ``default``), and how the watchdog ages it: ``header`` (the
    message's ``header.stamp``, which needs clocks synchronised with the robot, e.g. chrony)
    or ``arrival`` (the time the bridge received it). ``plan`` may be ``null`` for a bundle
    without the map-aware ``waypoint`` fields; one that has them needs it.
``ros2.plan_lookahead_m``
    The waypoint is the first pose of the plan at least this far from the robot (m), else the
    plan's last pose. 0: the plan's first pose (a planner that publishes the path from its
    lookahead point on, as ``robot-rl sim-robot`` does).
``ros2.cmd_vel``
    Output ``{topic, qos, stamped, frame_id}``: ``geometry_msgs/Twist``, or ``TwistStamped``
    with ``header.frame_id = frame_id`` when ``stamped`` is true.
``ros2.wait_for_inputs_s``
    Start-up waits this long for a first message on every input, then names the ones missing.
``ros2.phase_offset_s``
    Sensor pacing: each policy tick runs this long after a fresh phase input arrived (``/scan``
    for navigation, ``/joint_states`` for the arm), so a sensor message waits about this long for
    its command instead of up to a policy period. The loop waits on the input (a DDS WaitSet)
    between ticks and re-locks to every arrival, so the robot's clock phase, drift or a
    restarted driver do not matter (:class:`robot_rl.deploy.loop.ControlLoop`). A margin for
    the message's arrival jitter. ``null``: free-running ticks. Applies while the input comes at
    the policy rate or slower.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

QosName = Literal["sensor_data", "default"]


class InputTopic(BaseModel):
    """One subscribed topic."""

    model_config = ConfigDict(extra="forbid", strict=True)

    topic: str = Field(pattern=r"^/?[A-Za-z_~{][A-Za-z0-9_/{}~]*$")
    qos: QosName = "default"
    stamp: Literal["header", "arrival"] = "header"


class CommandTopic(BaseModel):
    """The published velocity command."""

    model_config = ConfigDict(extra="forbid", strict=True)

    topic: str = Field(default="/cmd_vel", pattern=r"^/?[A-Za-z_~{][A-Za-z0-9_/{}~]*$")
    qos: QosName = "default"
    stamped: bool = False
    frame_id: str = "base_link"


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    domain_id: int = Field(default=0, ge=0, le=232)
    wait_for_inputs_s: float = Field(default=5.0, gt=0.0, le=600.0)
    phase_offset_s: float | None = Field(default=0.0005, ge=0.0, le=1.0)


class Ros2Settings(_Common):
    """The ``ros2`` section for a navigation bundle (see module docstring)."""

    robot: Literal["nav"] = "nav"
    scan: InputTopic = InputTopic(topic="/scan", qos="sensor_data")
    odom: InputTopic = InputTopic(topic="/odom")
    goal: InputTopic = InputTopic(topic="/goal_pose")
    plan: InputTopic | None = InputTopic(topic="/plan")
    plan_lookahead_m: float = Field(default=0.0, ge=0.0, le=10.0)
    cmd_vel: CommandTopic = CommandTopic()


class GripperCommand(BaseModel):
    """The gripper command: ``std_msgs/Float64MultiArray`` with one position per finger joint."""

    model_config = ConfigDict(extra="forbid", strict=True)

    topic: str = Field(default="/gripper_controller/commands", pattern=r"^/?[A-Za-z_~{][A-Za-z0-9_/{}~]*$")
    qos: QosName = "default"
    joints: int = Field(default=2, ge=1, le=8)


class Ros2ArmSettings(_Common):
    """The ``ros2`` section for a PandaGrasp bundle (``robot: arm``; see :mod:`robot_rl.deploy.ros2.arm`)."""

    robot: Literal["arm"]
    joint_states: InputTopic = InputTopic(topic="/joint_states")
    finger_joints: list[str] = Field(default=["panda_finger_joint1", "panda_finger_joint2"], min_length=1)
    ee_pose: InputTopic = InputTopic(topic="/ee_pose")
    ee_twist: InputTopic = InputTopic(topic="/ee_twist")
    object_pose: InputTopic = InputTopic(topic="/object_pose")
    object_twist: InputTopic = InputTopic(topic="/object_twist")
    finger_contacts: InputTopic = InputTopic(topic="/finger_contacts", stamp="arrival")
    depth_image: InputTopic = InputTopic(topic="/camera/depth/image_rect_raw", qos="sensor_data")
    camera_info: InputTopic = InputTopic(topic="/camera/depth/camera_info", qos="sensor_data")
    intrinsics_tolerance: float = Field(default=0.01, gt=0.0, le=0.2)
    twist_cmd: CommandTopic = CommandTopic(
        topic="/servo_node/delta_twist_cmds", stamped=True, frame_id="world"
    )
    gripper_cmd: GripperCommand = GripperCommand()


def _robot(value: Any) -> str:
    """The model of a ``ros2`` section: ``robot: arm`` -> the arm's, anything else -> the nav's."""
    robot = value.get("robot", "nav") if isinstance(value, dict) else getattr(value, "robot", "nav")
    return "Ros2ArmSettings" if robot == "arm" else "Ros2Settings"


#: The ``ros2`` section: ``robot`` selects the model (nav by default), so errors name that one's keys
#: (the tags are the class names, which :func:`robot_rl.configfile.validate` leaves out of a key).
Ros2Section = Annotated[
    Annotated[Ros2Settings, Tag("Ros2Settings")] | Annotated[Ros2ArmSettings, Tag("Ros2ArmSettings")],
    Discriminator(_robot),
]


def dds_topic(ros_topic: str) -> str:
    """ROS 2 topic name -> DDS topic name: ``/cmd_vel`` -> ``rt/cmd_vel`` (rmw's ``rt`` prefix)."""
    return "rt/" + ros_topic.lstrip("/")
