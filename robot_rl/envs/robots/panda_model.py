"""The Panda model the env loads: pybullet_data's ``franka_panda/panda.urdf`` with the wrist merged.

pybullet_data's Panda hangs three links off ``panda_link7`` with fixed joints: ``panda_link8``
(the flange), ``panda_hand`` and ``panda_grasptarget`` (the point between the fingertips). Bullet
steps every fixed link as a link of the multibody, so they cost a share of each physics step
while they can never move. :func:`panda_model` writes a copy of the URDF in which these three are
folded into ``panda_link7``: their collision and visual shapes become shapes of ``panda_link7``
at the same place, the finger joints hang from ``panda_link7`` at the same place, and the merged
link's mass, centre of mass and inertia tensor are the exact rigid-body composite of the parts.
It is the same rigid body, so the arm's dynamics are unchanged (``tests/envs/test_panda_model.py``
checks forward kinematics, Jacobians, inverse dynamics and contact geometry against the stock
URDF); the bare physics loop over the grasp scene runs x1.13 faster (docs/training.md).

Why not PyBullet's ``URDF_MERGE_FIXED_LINKS``: it merges the shapes but puts the merged link's
centre of mass at z = 0.086 m in ``panda_link7``'s frame, where the composite is at 0.134 m
(``panda_hand``'s 0.81 kg moved 5 cm towards the arm), which changes the gravity load on the wrist.

Inertia: unless told to read it from the file, PyBullet derives each link's inertia from its
collision shape's bounding box (pybullet_data's URDF states 0.1 kg m^2 for every link, which is
not meant to be used). The merged URDF therefore states every link's inertia as PyBullet derives
it for the stock URDF (read once, in a throw-away DIRECT client) and is loaded with
``URDF_USE_INERTIA_FROM_FILE`` (:data:`LOAD_FLAGS`), so every other link keeps exactly the
inertia it had.

The merged link is ``panda_link7`` (:data:`WRIST_LINK`); :attr:`PandaModel.grasp` and
:attr:`PandaModel.hand` give the frames of the former ``panda_grasptarget`` and ``panda_hand`` in
its frame, from the URDF's joint origins.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet
from numpy.typing import NDArray

from robot_rl.envs.camera import quaternion_matrix, rpy_matrix
from robot_rl.sim.session import PYBULLET_DATA, suppress_c_output

PANDA_URDF = "franka_panda/panda.urdf"
#: The link the fixed links are folded into, and its PyBullet link index in the merged model.
WRIST = "panda_link7"
WRIST_LINK = 6
#: Fixed-joint children of :data:`WRIST` (directly or through each other) that are folded into it.
MERGED = ("panda_link8", "panda_hand", "panda_grasptarget")
#: Finger joint indices in the merged model (9 and 10 in the stock one).
FINGER_JOINTS = (7, 8)
#: What :func:`merge_wrist` needs (its errors say it).
EXPECTED = (
    f"expected pybullet_data's franka_panda/panda.urdf ({PYBULLET_DATA}): {WRIST} -> panda_link8 -> "
    "panda_hand -> panda_grasptarget, each by a fixed joint"
)
#: ``loadURDF`` flags for the merged file: the inertias it states are the ones to use.
LOAD_FLAGS = pybullet.URDF_USE_INERTIA_FROM_FILE

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class Pose:
    """A frame relative to another: position (m) and quaternion (x, y, z, w)."""

    position: tuple[float, float, float]
    quaternion: tuple[float, float, float, float]


@dataclass(frozen=True)
class PandaModel:
    """The merged URDF and where the folded frames sit in :data:`WRIST`'s frame.

    Attributes:
        urdf: Path of the merged URDF (absolute mesh paths; load it with :data:`LOAD_FLAGS`).
        grasp: ``panda_grasptarget`` (the point between the fingertips) in ``panda_link7``'s frame.
        hand: ``panda_hand`` in ``panda_link7``'s frame (the depth camera is mounted on it).
    """

    urdf: str
    grasp: Pose
    hand: Pose


# ---------------------------------------------------------------------------- transforms
def matrix_rpy(rotation: Matrix) -> tuple[float, float, float]:
    """URDF roll-pitch-yaw of a rotation matrix: the inverse of :func:`robot_rl.envs.camera.rpy_matrix`.

    (scipy's ``Rotation.as_euler("xyz")`` does the same, but importing ``scipy.spatial`` costs each
    env process 0.3 s.)
    """
    sine = -float(rotation[2, 0])
    if abs(sine) > 1.0 - 1e-12:  # pitch +-90 degrees: only roll -+ yaw is defined; take roll 0
        yaw = math.atan2(-float(rotation[0, 1]), float(rotation[1, 1]))
        return 0.0, math.copysign(math.pi / 2, sine), yaw
    pitch = math.asin(sine)
    roll = math.atan2(float(rotation[2, 1]), float(rotation[2, 2]))
    yaw = math.atan2(float(rotation[1, 0]), float(rotation[0, 0]))
    return roll, pitch, yaw


def _origin(element: ET.Element | None) -> Matrix:
    """4x4 transform of an ``<origin>`` element (identity when absent)."""
    transform = np.eye(4)
    if element is not None:
        transform[:3, :3] = rpy_matrix(*_floats(element.get("rpy")))
        transform[:3, 3] = _floats(element.get("xyz"))
    return transform


def _floats(text: str | None) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in (text or "0 0 0").split())
    return x, y, z


def _set_origin(parent: ET.Element, transform: Matrix) -> None:
    """Replace ``parent``'s ``<origin>`` with ``transform`` (full float precision)."""
    for old in parent.findall("origin"):
        parent.remove(old)
    origin = ET.Element("origin")
    origin.set("xyz", " ".join(repr(float(v)) for v in transform[:3, 3]))
    origin.set("rpy", " ".join(repr(v) for v in matrix_rpy(transform[:3, :3])))
    parent.insert(0, origin)


# ---------------------------------------------------------------------------- dynamics
@dataclass(frozen=True)
class _Inertial:
    """A link's mass, centre of mass, inertia frame and principal moments (link frame)."""

    mass: float
    com: Matrix  # (3,)
    axes: Matrix  # (3, 3): columns are the principal axes
    moments: Matrix  # (3,)

    def tensor(self) -> Matrix:
        return self.axes @ np.diag(self.moments) @ self.axes.T


def _stock_inertials(urdf_text: str) -> dict[str, _Inertial]:
    """Every link's inertial as PyBullet uses it for the stock URDF (a throw-away DIRECT client)."""
    folder = Path(tempfile.mkdtemp(prefix="robot_rl_panda_"))
    try:
        path = folder / "panda.urdf"
        path.write_text(urdf_text)
        client = pybullet.connect(pybullet.DIRECT)
        try:
            with suppress_c_output():
                # a free base: a fixed one reports mass 0, and the file must keep the base's mass
                body = pybullet.loadURDF(str(path), physicsClientId=client)
            out = {}
            for link in range(-1, pybullet.getNumJoints(body, physicsClientId=client)):
                info = pybullet.getDynamicsInfo(body, link, physicsClientId=client)
                name = (
                    pybullet.getBodyInfo(body, physicsClientId=client)[0]
                    if link < 0
                    else pybullet.getJointInfo(body, link, physicsClientId=client)[12]
                ).decode()
                out[name] = _Inertial(
                    mass=float(info[0]),
                    com=np.array(info[3], np.float64),
                    axes=quaternion_matrix(info[4]),
                    moments=np.array(info[2], np.float64),
                )
            return out
        finally:
            pybullet.disconnect(client)
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def composite(parts: list[tuple[_Inertial, Matrix]]) -> _Inertial:
    """The rigid-body composite of inertials, each given with its link's 4x4 pose in the target frame."""
    mass = sum(p.mass for p, _ in parts)
    if mass <= 0:
        raise ValueError("a composite of massless links has no inertia")
    coms = [pose[:3, :3] @ p.com + pose[:3, 3] for p, pose in parts]
    com = sum((p.mass * c for (p, _), c in zip(parts, coms, strict=True)), np.zeros(3))
    com = com / mass
    tensor = np.zeros((3, 3))
    for (part, pose), c in zip(parts, coms, strict=True):
        rotation = pose[:3, :3]
        r = c - com
        tensor += rotation @ part.tensor() @ rotation.T + part.mass * (r @ r * np.eye(3) - np.outer(r, r))
    moments, axes = np.linalg.eigh(0.5 * (tensor + tensor.T))
    if np.linalg.det(axes) < 0:
        axes[:, 2] = -axes[:, 2]
    return _Inertial(mass=mass, com=com, axes=axes, moments=moments)


def _write_inertial(link: ET.Element, inertial: _Inertial) -> None:
    for old in link.findall("inertial"):
        link.remove(old)
    element = ET.Element("inertial")
    transform = np.eye(4)
    transform[:3, :3], transform[:3, 3] = inertial.axes, inertial.com
    _set_origin(element, transform)
    ET.SubElement(element, "mass", value=repr(inertial.mass))
    ixx, iyy, izz = (repr(float(v)) for v in inertial.moments)
    ET.SubElement(element, "inertia", ixx=ixx, ixy="0", ixz="0", iyy=iyy, iyz="0", izz=izz)
    link.insert(0, element)


# ---------------------------------------------------------------------------- the merge
def merge_wrist(urdf_text: str) -> tuple[str, Pose, Pose]:
    """The URDF with :data:`MERGED` folded into :data:`WRIST`, and the grasp and hand frames there.

    ``urdf_text`` must have absolute mesh paths (it is loaded from another folder).
    """
    root = ET.fromstring(urdf_text)
    links = {link.get("name", ""): link for link in root.findall("link")}
    joints = root.findall("joint")
    missing = [name for name in (WRIST, *MERGED) if name not in links]
    if missing:
        raise ValueError(f"the Panda URDF has no link {missing}; {EXPECTED}")
    wrist = links[WRIST]
    in_wrist: dict[str, Matrix] = {WRIST: np.eye(4)}  # pose of each folded link in WRIST's frame
    pending = list(MERGED)
    parents = {_child(j): (_parent(j), j) for j in joints}
    while pending:  # fold parents before children: a child's pose needs its parent's
        for name in pending:
            parent, joint = parents.get(name, (None, None))
            if joint is None:
                raise ValueError(f"no joint has {name} as its child; {EXPECTED}")
            if parent in in_wrist:
                if joint.get("type") != "fixed":
                    raise ValueError(f"{name} hangs from {parent} by a {joint.get('type')} joint, not fixed")
                in_wrist[name] = in_wrist[parent] @ _origin(joint.find("origin"))
                root.remove(joint)
                joints.remove(joint)
                pending.remove(name)
                break
        else:
            found = {name: parents[name][0] for name in pending}
            raise ValueError(f"parents {found} are outside the chain from {WRIST}; {EXPECTED}")
    inertials = _stock_inertials(urdf_text)  # after the checks: PyBullet's errors say less
    for name in MERGED:
        link = links[name]
        for tag in ("visual", "collision"):
            for shape in link.findall(tag):
                _set_origin(shape, in_wrist[name] @ _origin(shape.find("origin")))
                wrist.append(shape)
        for joint in joints:  # the fingers: re-hang them from the wrist, same place
            if _parent(joint) == name:
                joint.find("parent").set("link", WRIST)  # type: ignore[union-attr]
                _set_origin(joint, in_wrist[name] @ _origin(joint.find("origin")))
        root.remove(link)
    for name, link in links.items():
        if name in MERGED:
            continue
        if name == WRIST:
            parts = [(inertials[n], in_wrist[n]) for n in (WRIST, *MERGED)]
            _write_inertial(link, composite(parts))
        else:
            _write_inertial(link, inertials[name])
    return (
        ET.tostring(root, encoding="unicode"),
        _pose(in_wrist["panda_grasptarget"]),
        _pose(in_wrist["panda_hand"]),
    )


def _child(joint: ET.Element) -> str | None:
    child = joint.find("child")
    return None if child is None else child.get("link")


def _parent(joint: ET.Element) -> str | None:
    parent = joint.find("parent")
    return None if parent is None else parent.get("link")


def _pose(transform: Matrix) -> Pose:
    x, y, z = (float(v) for v in transform[:3, 3])
    qx, qy, qz, qw = pybullet.getQuaternionFromEuler(matrix_rpy(transform[:3, :3]))
    return Pose((x, y, z), (qx, qy, qz, qw))


# ---------------------------------------------------------------------------- files
def stock_urdf_text(lowpoly_visuals: bool) -> str:
    """pybullet_data's Panda URDF with absolute mesh paths; ``lowpoly_visuals`` draws every link
    with its collision mesh (~3.5k triangles instead of ~120k: 30x cheaper TinyRenderer images)."""
    source = Path(PYBULLET_DATA) / PANDA_URDF
    meshes = source.parent / "meshes"
    text = source.read_text()
    if lowpoly_visuals:
        text = text.replace("package://meshes/visual/", f"{meshes / 'collision'}/")
    return text.replace("package://meshes/", f"{meshes}/")


def write_shared(text: str, stem: str) -> str:
    """Write ``text`` once per user into the temp directory, atomically, and return the path.

    Parallel workers share the file; its name carries a hash of the content, so two installations
    (other pybullet_data paths) never overwrite each other's.
    """
    folder = Path(tempfile.gettempdir()) / f"robot_rl_{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    target = folder / f"{stem}_{digest}.urdf"
    if not target.exists() or target.read_text() != text:
        handle, scratch = tempfile.mkstemp(dir=folder, prefix=f"{stem}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(text)
            os.replace(scratch, target)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise
    return str(target)


def panda_model(lowpoly_visuals: bool = False) -> PandaModel:
    """The merged Panda (see the module doc): merged once per process and variant, and the file
    written again if something (a temp cleaner) removed it since."""
    text, grasp, hand = _merged(bool(lowpoly_visuals))
    stem = "panda_wrist_merged_lowpoly" if lowpoly_visuals else "panda_wrist_merged"
    return PandaModel(urdf=write_shared(text, stem), grasp=grasp, hand=hand)


@functools.lru_cache(maxsize=2)
def _merged(lowpoly_visuals: bool) -> tuple[str, Pose, Pose]:
    return merge_wrist(stock_urdf_text(lowpoly_visuals))


__all__ = [
    "FINGER_JOINTS",
    "LOAD_FLAGS",
    "MERGED",
    "PANDA_URDF",
    "WRIST",
    "WRIST_LINK",
    "PandaModel",
    "Pose",
    "composite",
    "matrix_rpy",
    "merge_wrist",
    "panda_model",
    "stock_urdf_text",
    "write_shared",
]
