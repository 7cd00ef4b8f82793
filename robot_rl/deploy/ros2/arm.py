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

import contextlib
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
        self._check_bundle(manifest, settings)
        inputs = manifest["observation"]["inputs"]
        if len(inputs) != 1:
            raise InputError(
                f"the ros2 arm adapter needs one flat observation; the bundle has {len(inputs)} inputs "
                f"{[i['name'] for i in inputs]} (a depth-camera bundle has depth and proprio, and "
                "PandaGrasp-v0 env kwargs obs_mode='depth')"
            )
        self._vector(inputs[0], FIELDS)
        self.inputs: dict[str, InputTopic] = {k: getattr(settings, k) for k in INPUT_TYPES}
        self.input_types = INPUT_TYPES
        self.sensors = tuple(INPUT_TYPES)

    def _check_bundle(self, manifest: dict[str, Any], settings: Ros2ArmSettings) -> None:
        """The checks and command settings every arm bundle shares (env, action, outputs)."""
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
        if not settings.twist_cmd.stamped:
            raise InputError(
                "ros2.twist_cmd.stamped: MoveIt Servo takes geometry_msgs/TwistStamped; set it to true"
            )
        self.settings = settings
        self.outputs = {
            "twist_cmd": (m.TwistStamped, settings.twist_cmd.topic, settings.twist_cmd.qos),
            "gripper_cmd": (m.Float64MultiArray, settings.gripper_cmd.topic, settings.gripper_cmd.qos),
        }
        self.previous_action = np.zeros(int(action["size"]))

    def _vector(self, spec: dict[str, Any], accepted: tuple[str, ...]) -> None:
        """Slices and bounds of the observation vector ``spec`` (a manifest input row)."""
        layout = spec["layout"]
        unknown = [f["name"] for f in layout if f["name"] not in accepted]
        if unknown:
            raise InputError(
                f"observation fields {unknown} of input {spec['name']!r} have no ROS 2 source; the arm "
                f"adapter builds {accepted}"
            )
        self.size = int(spec["size"])
        self.slices = {f["name"]: slice(f["start"], f["stop"]) for f in layout}
        self.low = np.concatenate([np.full(f["size"], f["low"], np.float64) for f in layout])
        self.high = np.concatenate([np.full(f["size"], f["high"], np.float64) for f in layout])

    def check_inputs(self, latest: dict[str, Any], topics: dict[str, str]) -> None:
        """Refuse poses/twists outside the ``/ee_pose`` frame, missing finger joints, short contacts."""
        frame = latest["ee_pose"].header.frame_id
        for key in (k for k in FRAMED if k in latest):
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

    def observe(self, latest: dict[str, Any]) -> Any:
        """The observation vector (float32, the bundle's layout); NaN where an input is missing."""
        return self.vector(latest)

    def vector(self, latest: dict[str, Any]) -> NDArray[np.float32]:
        """The layout's fields (those it has) from the latest messages, clipped to their ranges."""
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
        if obj is not None and "object_position" in s:
            out[s["object_position"]] = _vec(obj.pose.position)
            q = obj.pose.orientation
            out[s["object_orientation"]] = [q.x, q.y, q.z, q.w]
            if ee is not None:
                out[s["object_relative_position"]] = np.subtract(
                    _vec(obj.pose.position), _vec(ee.pose.position)
                )
        if latest.get("object_twist") is not None and "object_linear_velocity" in s:
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


# ---------------------------------------------------------------------- the depth-camera policy
DEPTH_INPUT_TYPES: dict[str, type] = {
    "joint_states": m.JointState,
    "ee_pose": m.PoseStamped,
    "ee_twist": m.TwistStamped,
    "finger_contacts": m.Float64MultiArray,
    "depth_image": m.Image,
    "camera_info": m.CameraInfo,
}
#: the proprioception fields the depth adapter can build (the names of envs.grasp_depth.PROPRIO_FIELDS,
#: restated: the robot side may not import the envs; a bundle naming another field is refused)
PROPRIO_SOURCES = (
    "ee_position",
    "ee_velocity",
    "ee_yaw",
    "gripper_opening",
    "finger_contacts",
    "previous_action",
)
#: encodings of a depth image (REP 118): millimetres as uint16, or metres as float32
DEPTH_ENCODINGS = {"16UC1": ("u2", 0.001), "mono16": ("u2", 0.001), "32FC1": ("f4", 1.0)}


def depth_metres(image: Any) -> NDArray[np.float32]:
    """``(H, W)`` float32 metres of a ``sensor_msgs/Image`` depth image, 0 where nothing was measured.

    ``16UC1`` (or ``mono16``): millimetres, 0 = no measurement. ``32FC1``: metres, NaN, +-inf
    and values <= 0 = no measurement (REP 118). Rows may be padded (``step`` >= width * bytes per
    pixel); ``is_bigendian`` is honoured.

    Raises:
        InputError: another encoding, or ``step``/``data`` too short for ``height`` x ``width``.
    """
    if image.encoding not in DEPTH_ENCODINGS:
        raise InputError(
            f"depth image encoding {image.encoding!r} is not accepted; expected one of "
            f"{sorted(DEPTH_ENCODINGS)} (REP 118: 16UC1 millimetres or 32FC1 metres)"
        )
    kind, scale = DEPTH_ENCODINGS[image.encoding]
    h, w, step = int(image.height), int(image.width), int(image.step)
    bpp = int(kind[1])
    data = bytes(image.data)
    if step < w * bpp or len(data) < h * step:
        raise InputError(
            f"depth image {w}x{h} {image.encoding}: step={step} and {len(data)} bytes of data; expected "
            f"step >= {w * bpp} and at least height * step = {h * step} bytes"
        )
    rows = np.frombuffer(data, np.uint8, count=h * step).reshape(h, step)[:, : w * bpp]
    dtype = np.dtype((">" if image.is_bigendian else "<") + kind)
    values = np.ascontiguousarray(rows).view(dtype).reshape(h, w).astype(np.float32) * np.float32(scale)
    values[~np.isfinite(values) | (values <= 0)] = 0.0
    return values


class DepthArmAdapter(ArmAdapter):
    """Builds the ``{depth, proprio}`` observation of a depth-camera PandaGrasp bundle.

    ``depth``: the image of ``ros2.depth_image`` (:func:`depth_metres`; the bundle clips it to
    [near, far] itself), checked against the camera contract in the manifest (resolution
    exactly, ``camera_info`` intrinsics within ``ros2.intrinsics_tolerance``); a malformed image
    during the run becomes NaN, so the safety filter sends the safe action. ``proprio``: the
    arm's fields as for the state policy (no object pose or twist is read). The camera must be
    mounted as the contract's ``mount_xyz`` / ``mount_rpy`` on ``mount_link`` say (no TF check).
    """

    phase_key = "depth_image"

    def __init__(self, manifest: dict[str, Any], settings: Ros2ArmSettings) -> None:
        self._check_bundle(manifest, settings)
        inputs = manifest["observation"]["inputs"]
        images = [i for i in inputs if i.get("shape") is not None and len(i["shape"]) == 3]
        vectors = [i for i in inputs if i not in images]
        camera = manifest.get("camera")
        if len(images) != 1 or len(vectors) != 1 or not isinstance(camera, dict):
            raise InputError(
                "the ros2 depth-arm adapter needs one depth image input, one proprioception input and the "
                f"manifest's camera contract; the bundle has inputs {[i['name'] for i in inputs]} and "
                f"camera={'yes' if camera else 'none'}"
            )
        self.image_name, self.vector_name = images[0]["name"], vectors[0]["name"]
        self.image_shape = tuple(int(v) for v in images[0]["shape"])
        self.camera = camera
        if self.image_shape != (1, int(camera["height"]), int(camera["width"])):
            raise InputError(
                f"input {self.image_name!r} has shape {list(self.image_shape)} but the camera contract is "
                f"{camera['width']}x{camera['height']}"
            )
        self._vector(vectors[0], PROPRIO_SOURCES)
        self.inputs = {k: getattr(settings, k) for k in DEPTH_INPUT_TYPES}
        self.input_types = DEPTH_INPUT_TYPES
        self.sensors = tuple(k for k in DEPTH_INPUT_TYPES if k != "camera_info")  # the info is a set point
        self.order = [i["name"] for i in inputs]

    def check_inputs(self, latest: dict[str, Any], topics: dict[str, str]) -> None:
        """Also refuse a depth image or camera_info that does not fit the bundle's camera contract."""
        super().check_inputs(latest, topics)
        cam, image, info = self.camera, latest["depth_image"], latest["camera_info"]
        want = (int(cam["width"]), int(cam["height"]))
        for key, msg in (("depth_image", image), ("camera_info", info)):
            if (int(msg.width), int(msg.height)) != want:
                raise InputError(
                    f"{topics[key]}: {msg.width}x{msg.height} but the policy was trained on "
                    f"{want[0]}x{want[1]} "
                    "(the bundle's camera contract); set the camera driver's resolution (or crop/scale it "
                    "in a node before the bridge)"
                )
        depth_metres(image)  # the encoding and size (raises naming what is accepted)
        k = np.asarray(info.k, np.float64).reshape(3, 3)
        tol = self.settings.intrinsics_tolerance
        for name, got, expected, scale in (
            ("fx", k[0, 0], cam["fx"], cam["fx"]),
            ("fy", k[1, 1], cam["fy"], cam["fy"]),
            ("cx", k[0, 2], cam["cx"], cam["width"]),
            ("cy", k[1, 2], cam["cy"], cam["height"]),
        ):
            if abs(got - float(expected)) > tol * float(scale):
                raise InputError(
                    f"{topics['camera_info']}: k gives {name}={got:.3f} but the camera contract has "
                    f"{float(expected):.3f} (tolerance {tol:g} of {'fx' if name[0] == 'f' else 'the size'}; "
                    "ros2.intrinsics_tolerance)"
                )
        if image.header.frame_id != info.header.frame_id:
            raise InputError(
                f"{topics['depth_image']}: header.frame_id={image.header.frame_id!r} but "
                f"{topics['camera_info']} is in {info.header.frame_id!r}; they must describe one camera"
            )

    def observe(self, latest: dict[str, Any]) -> dict[str, NDArray[np.float32]]:
        """``{image input: (1, H, W) m, vector input: proprio}``; NaN where an input is missing or bad."""
        image = latest.get("depth_image")
        depth = np.full(self.image_shape, np.nan, np.float32)
        if image is not None and (int(image.height), int(image.width)) == self.image_shape[1:]:
            with contextlib.suppress(
                InputError
            ):  # malformed mid-run: NaN, so the filter sends the safe action
                depth = np.minimum(depth_metres(image), np.float32(self.camera["far"]))[None]
        return {self.image_name: depth, self.vector_name: self.vector(latest)}

    def flat(self, obs: dict[str, Any]) -> NDArray[np.float32]:
        """The observation as one vector, inputs in the manifest's order (the log's ``observation``)."""
        return np.concatenate([np.asarray(obs[n], np.float32).reshape(-1) for n in self.order])
