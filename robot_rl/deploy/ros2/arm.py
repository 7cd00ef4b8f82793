"""ROS 2 messages <-> a PandaGrasp bundle's observation and command (numpy only).

Each observation field of the bundle's layout comes from named message fields (world frame = the
frame of ``/ee_pose``; every pose and twist must be in it, no TF lookups; m, rad, m/s, rad/s):

============================ ==================================================================
field                        source
============================ ==================================================================
``ee_position``              ``/ee_pose`` ``geometry_msgs/PoseStamped`` ``pose.position`` (the
                             grasp point between the fingertips)
``ee_velocity``              ``/ee_twist`` ``geometry_msgs/TwistStamped`` ``twist.linear``
``ee_yaw``                   heading of the ``/ee_pose`` orientation's x axis on the xy plane
                             (0: fingers close along y, as the env's ``quaternion_yaw``)
``gripper_opening``          ``/joint_states`` ``sensor_msgs/JointState``: the sum of the
                             ``finger_joints`` positions (m), clipped to [0, 0.08]
``finger_contacts``          ``/finger_contacts`` ``std_msgs/Float64MultiArray`` ``data[0:2]``
                             (left, right: 1 = touching the object; a tactile or contact node)
``object_position`` /        ``/object_pose`` ``geometry_msgs/PoseStamped`` (e.g. a perception
``object_orientation``       node): position, quaternion (x, y, z, w)
``object_linear_velocity`` / ``/object_twist`` ``geometry_msgs/TwistStamped`` ``twist.linear`` /
``object_angular_velocity``  ``twist.angular``
``object_relative_position`` object position minus grasp point
``previous_action``          the last command sent, in action units
============================ ==================================================================

Commands: a Cartesian velocity for MoveIt Servo, ``geometry_msgs/TwistStamped`` on
``twist_cmd.topic`` (frame ``twist_cmd.frame_id``): ``linear = action[0:3] * per_unit_per_s``
(0.4 m/s per unit: 0.02 m per 50 ms step), ``angular.z = action[3] * per_unit_per_s`` (2 rad/s);
and the finger opening for a forward position controller, ``std_msgs/Float64MultiArray`` on
``gripper_cmd.topic``: ``joints`` entries of ``opening / joints`` with ``opening = offset +
per_unit * action[4]`` (0 to 0.08 m). Every input is a sensor the watchdog ages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.config import InputTopic, Ros2ArmSettings
from robot_rl.deploy.ros2.nav import yaw_of
from robot_rl.errors import InputError

FIELDS = (
    "ee_position",
    "ee_velocity",
    "ee_yaw",
    "gripper_opening",
    "finger_contacts",
    "object_position",
    "object_orientation",
    "object_linear_velocity",
    "object_angular_velocity",
    "object_relative_position",
    "previous_action",
)
INPUT_TYPES: dict[str, type] = {
    "joint_states": m.JointState,
    "ee_pose": m.PoseStamped,
    "ee_twist": m.TwistStamped,
    "object_pose": m.PoseStamped,
    "object_twist": m.TwistStamped,
    "finger_contacts": m.Float64MultiArray,
}
FRAMED = ("ee_pose", "ee_twist", "object_pose", "object_twist")


def _vec(v: Any) -> list[float]:
    return [v.x, v.y, v.z]


class ArmAdapter:
    """Builds the observation of a PandaGrasp bundle from ROS 2 messages (module docstring).

    Raises:
        InputError: not a PandaGrasp bundle with the (ee_displacement, yaw_rate, gripper) action,
            or an observation field without a ROS 2 source (dict observations of the goal variant).
    """

    phase_key = "joint_states"

    def __init__(self, manifest: dict[str, Any], settings: Ros2ArmSettings) -> None:
        env = manifest["env"]
        if not str(env["id"]).startswith("robot_rl/PandaGrasp-"):
            raise InputError(
                f"the ros2 arm adapter runs robot_rl/PandaGrasp-v0 bundles; this one is for {env['id']!r}"
            )
        action = manifest["action"]
        names = [s.get("name") for s in action.get("semantics", [])]
        if action["type"] != "box" or names != ["ee_displacement", "yaw_rate", "gripper"]:
            raise InputError(
                f"the ros2 arm adapter needs the (ee_displacement, yaw_rate, gripper) action; got {names}"
            )
        sem = {s["name"]: s for s in action["semantics"]}
        self.linear_per_s = float(sem["ee_displacement"]["per_unit_per_s"])
        self.yaw_per_s = float(sem["yaw_rate"]["per_unit_per_s"])
        self.grip_offset, self.grip_per_unit = (
            float(sem["gripper"]["offset"]),
            float(sem["gripper"]["per_unit"]),
        )
        inputs = manifest["observation"]["inputs"]
        if len(inputs) != 1:
            raise InputError(
                f"the ros2 arm adapter needs one flat observation; the bundle has {len(inputs)} inputs"
            )
        layout = inputs[0]["layout"]
        unknown = [f["name"] for f in layout if f["name"] not in FIELDS]
        if unknown:
            raise InputError(
                f"observation fields {unknown} have no ROS 2 source; the arm adapter builds {FIELDS}"
            )
        self.size = int(inputs[0]["size"])
        self.slices = {f["name"]: slice(f["start"], f["stop"]) for f in layout}
        self.low = np.concatenate([np.full(f["size"], f["low"], np.float64) for f in layout])
        self.high = np.concatenate([np.full(f["size"], f["high"], np.float64) for f in layout])
        if not settings.twist_cmd.stamped:
            raise InputError(
                "ros2.twist_cmd.stamped: MoveIt Servo takes geometry_msgs/TwistStamped; set it to true"
            )
        self.settings = settings
        self.inputs: dict[str, InputTopic] = {k: getattr(settings, k) for k in INPUT_TYPES}
        self.input_types = INPUT_TYPES
        self.sensors = tuple(INPUT_TYPES)
        self.outputs = {
            "twist_cmd": (m.TwistStamped, settings.twist_cmd.topic, settings.twist_cmd.qos),
            "gripper_cmd": (m.Float64MultiArray, settings.gripper_cmd.topic, settings.gripper_cmd.qos),
        }
        self.previous_action = np.zeros(int(action["size"]))

    def check_inputs(self, latest: dict[str, Any], topics: dict[str, str]) -> None:
        """Refuse poses/twists outside the ``/ee_pose`` frame, missing finger joints, short contacts."""
        frame = latest["ee_pose"].header.frame_id
        for key in FRAMED:
            if latest[key].header.frame_id != frame:
                raise InputError(
                    f"{topics[key]}: header.frame_id={latest[key].header.frame_id!r} but {topics['ee_pose']} "
                    f"is in {frame!r}; publish every pose and twist in one frame"
                )
        missing = [j for j in self.settings.finger_joints if j not in latest["joint_states"].name]
        if missing:
            raise InputError(
                f"{topics['joint_states']}: name has no {missing} (ros2.finger_joints); it has "
                f"{list(latest['joint_states'].name)[:12]}"
            )
        if len(latest["finger_contacts"].data) < 2:
            raise InputError(
                f"{topics['finger_contacts']}: data needs 2 entries (left, right finger contact)"
            )

    def on_message(self, key: str, previous: Any, msg: Any) -> None:
        """Nothing to track (an episode is not signalled by a message)."""

    def observe(self, latest: dict[str, Any]) -> NDArray[np.float32]:
        """The observation vector (float32, the bundle's layout); NaN where an input is missing."""
        out = np.full(self.size, np.nan)
        s = self.slices
        ee, obj = latest.get("ee_pose"), latest.get("object_pose")
        if ee is not None:
            out[s["ee_position"]] = _vec(ee.pose.position)
            out[s["ee_yaw"]] = yaw_of(ee.pose.orientation)
        if latest.get("ee_twist") is not None:
            out[s["ee_velocity"]] = _vec(latest["ee_twist"].twist.linear)
        joints = latest.get("joint_states")
        if joints is not None:
            pos = dict(zip(joints.name, joints.position, strict=False))
            if all(j in pos for j in self.settings.finger_joints):
                out[s["gripper_opening"]] = sum(pos[j] for j in self.settings.finger_joints)
        if latest.get("finger_contacts") is not None and len(latest["finger_contacts"].data) >= 2:
            out[s["finger_contacts"]] = latest["finger_contacts"].data[:2]
        if obj is not None:
            out[s["object_position"]] = _vec(obj.pose.position)
            q = obj.pose.orientation
            out[s["object_orientation"]] = [q.x, q.y, q.z, q.w]
            if ee is not None:
                out[s["object_relative_position"]] = np.subtract(
                    _vec(obj.pose.position), _vec(ee.pose.position)
                )
        if latest.get("object_twist") is not None:
            out[s["object_linear_velocity"]] = _vec(latest["object_twist"].twist.linear)
            out[s["object_angular_velocity"]] = _vec(latest["object_twist"].twist.angular)
        out[s["previous_action"]] = self.previous_action
        return np.clip(out, self.low, self.high).astype(np.float32)

    def commands(self, action: Any, stamp_s: float) -> dict[str, Any]:
        """The TwistStamped and gripper messages of an action; remembers it as ``previous_action``."""
        a = np.asarray(action, np.float64).reshape(-1)
        self.previous_action = np.clip(a, -1.0, 1.0)
        v = a[:3] * self.linear_per_s
        header = m.Header(m.stamp_of(stamp_s), self.settings.twist_cmd.frame_id)
        twist = m.TwistStamped(
            header, m.Twist(m.Vector3(*v.tolist()), m.Vector3(0.0, 0.0, float(a[3] * self.yaw_per_s)))
        )
        n = self.settings.gripper_cmd.joints
        opening = self.grip_offset + self.grip_per_unit * float(a[4])
        layout = m.MultiArrayLayout([m.MultiArrayDimension("fingers", n, n)], 0)
        return {"twist_cmd": twist, "gripper_cmd": m.Float64MultiArray(layout, [opening / n] * n)}
