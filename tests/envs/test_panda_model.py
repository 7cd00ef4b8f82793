"""The wrist-merged Panda is the same rigid body as pybullet_data's: kinematics, dynamics, contacts."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pybullet
import pytest

from robot_rl.envs.camera import quaternion_matrix, rpy_matrix
from robot_rl.envs.grasp_env import PandaGraspEnv
from robot_rl.envs.robots.panda import PandaState, inverse_quaternion, quaternion_multiply, rotate
from robot_rl.envs.robots.panda_model import (
    FINGER_JOINTS,
    LOAD_FLAGS,
    PANDA_URDF,
    WRIST_LINK,
    _Inertial,
    composite,
    matrix_rpy,
    merge_wrist,
    panda_model,
    stock_urdf_text,
)
from robot_rl.sim.session import PYBULLET_DATA, PyBulletSession

STOCK_JOINTS = (0, 1, 2, 3, 4, 5, 6, 9, 10)  # arm, fingers in pybullet_data's URDF
STOCK_GRASP, STOCK_HAND = 11, 8  # panda_grasptarget, panda_hand


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[PyBulletSession, int, int]]:
    """One session holding the stock Panda and the merged one, side by side at the origin."""
    sim = PyBulletSession("direct")
    stock = sim.load_urdf(str(Path(PYBULLET_DATA) / PANDA_URDF), [0, 0, 0], useFixedBase=True)
    merged = sim.load_urdf(panda_model().urdf, [0, 0, 0], useFixedBase=True, flags=LOAD_FLAGS)
    # the two arms overlap: keep them from colliding with each other
    for a in range(-1, sim.getNumJoints(stock)):
        for b in range(-1, sim.getNumJoints(merged)):
            sim.setCollisionFilterPair(stock, merged, a, b, 0)
    yield sim, stock, merged
    sim.close()


@pytest.fixture
def env_and_stock() -> Iterator[tuple[PandaGraspEnv, PyBulletSession, int]]:
    """A reset grasp env (merged Panda) and, in a session of its own, the stock Panda."""
    env = PandaGraspEnv()
    stock = PyBulletSession("direct")
    try:
        env.reset(seed=0)
        body = stock.load_urdf(str(Path(PYBULLET_DATA) / PANDA_URDF), [0, 0, 0], useFixedBase=True)
        yield env, stock, body
    finally:
        stock.close()
        env.close()


def _pose_both(sim: PyBulletSession, stock: int, merged: int, q: np.ndarray, qd: np.ndarray) -> None:
    for j_stock, j_merged, angle, speed in zip(STOCK_JOINTS, range(9), q, qd, strict=True):
        sim.resetJointState(stock, j_stock, float(angle), float(speed))
        sim.resetJointState(merged, j_merged, float(angle), float(speed))


def _random_states(n: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    for _ in range(n):
        q = np.concatenate([rng.uniform(-1.5, 1.5, 7), rng.uniform(0.0, 0.04, 2)])
        yield q, rng.uniform(-1.0, 1.0, 9), rng.uniform(-2.0, 2.0, 9)


def test_the_merged_model_has_the_arm_and_finger_joints_only(pair: tuple[PyBulletSession, int, int]) -> None:
    sim, stock, merged = pair
    names = [sim.getJointInfo(merged, j)[1].decode() for j in range(sim.getNumJoints(merged))]
    assert names == [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1", "panda_finger_joint2"]
    assert [sim.getJointInfo(merged, j)[12].decode() for j in FINGER_JOINTS] == [
        "panda_leftfinger",
        "panda_rightfinger",
    ]
    assert sim.getJointInfo(merged, WRIST_LINK)[12].decode() == "panda_link7"
    stock_mass = sum(sim.getDynamicsInfo(stock, j)[0] for j in range(-1, sim.getNumJoints(stock)))
    merged_mass = sum(sim.getDynamicsInfo(merged, j)[0] for j in range(-1, sim.getNumJoints(merged)))
    assert merged_mass == pytest.approx(stock_mass, abs=1e-12)


def test_kinematics_match_the_stock_urdf(pair: tuple[PyBulletSession, int, int]) -> None:
    sim, stock, merged = pair
    model = panda_model()
    for q, qd, _ in _random_states(20):
        _pose_both(sim, stock, merged, q, qd)
        state = PandaState.read(sim, merged, model.grasp)
        grasp = sim.getLinkState(stock, STOCK_GRASP, computeLinkVelocity=1, computeForwardKinematics=1)
        np.testing.assert_allclose(state.ee_xyz, grasp[4], atol=1e-6)
        # a quaternion and its negative are the same rotation
        dot = abs(float(np.dot(state.ee_quaternion, grasp[5])))
        assert dot == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_allclose(state.ee_velocity, grasp[6], atol=1e-6)
        wrist = sim.getLinkState(merged, WRIST_LINK, computeForwardKinematics=1)
        hand = sim.getLinkState(stock, STOCK_HAND, computeForwardKinematics=1)
        offset = rotate(wrist[5], model.hand.position)
        np.testing.assert_allclose(np.add(wrist[4], offset), hand[4], atol=1e-6)
        quat = quaternion_multiply(wrist[5], model.hand.quaternion)
        assert abs(float(np.dot(quat, hand[5]))) == pytest.approx(1.0, abs=1e-6)
        for j_stock, j_merged in zip((9, 10), FINGER_JOINTS, strict=True):
            a = sim.getLinkState(stock, j_stock, computeForwardKinematics=1)
            b = sim.getLinkState(merged, j_merged, computeForwardKinematics=1)
            np.testing.assert_allclose(b[4], a[4], atol=1e-9)  # the finger frames
            np.testing.assert_allclose(b[0], a[0], atol=1e-9)  # their centres of mass


def test_dynamics_match_the_stock_urdf(pair: tuple[PyBulletSession, int, int]) -> None:
    """Inverse dynamics (every joint torque for given q, qd, qdd) agree to rounding: same rigid body."""
    sim, stock, merged = pair
    for q, qd, qdd in _random_states(20):
        _pose_both(sim, stock, merged, q, qd)
        a = sim.calculateInverseDynamics(stock, q.tolist(), qd.tolist(), qdd.tolist())
        b = sim.calculateInverseDynamics(merged, q.tolist(), qd.tolist(), qdd.tolist())
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)
    # the composite's centre of mass (PyBullet's own URDF_MERGE_FIXED_LINKS puts it at z 0.086)
    com = sim.getDynamicsInfo(merged, WRIST_LINK)[3]
    np.testing.assert_allclose(com, (0.0, 0.0, (0.2 * 0.08 + 0.81 * (0.107 + 0.04)) / 1.01), atol=1e-12)


def test_the_robot_hand_pose_is_the_stock_hand_link(
    env_and_stock: tuple[PandaGraspEnv, PyBulletSession, int],
) -> None:
    """What the depth camera is mounted on: PandaRobot.hand_pose() against stock link 8."""
    env, stock, body = env_and_stock
    robot = env.robot
    for q, _, _ in _random_states(10):
        for j_stock, j_merged, angle in zip(STOCK_JOINTS, range(9), q, strict=True):
            stock.resetJointState(body, j_stock, float(angle), 0.0)
            env.sim.resetJointState(robot.body, j_merged, float(angle), 0.0)
        position, quaternion = robot.hand_pose()
        hand = stock.getLinkState(body, STOCK_HAND, computeForwardKinematics=1)
        np.testing.assert_allclose(position, hand[4], atol=1e-6)
        assert abs(float(np.dot(quaternion, hand[5]))) == pytest.approx(1.0, abs=1e-6)


def test_the_robot_jacobian_is_the_stock_grasp_target_jacobian(
    env_and_stock: tuple[PandaGraspEnv, PyBulletSession, int],
) -> None:
    env, stock, body = env_and_stock
    robot, zeros = env.robot, [0.0] * 9
    for q, _, _ in _random_states(10):
        linear, angular = env.sim.calculateJacobian(robot.body, WRIST_LINK, robot._grasp_local, q.tolist(),
                                                    zeros, zeros)  # fmt: skip
        lin_s, ang_s = stock.calculateJacobian(body, STOCK_GRASP, (0.0, 0.0, 0.0), q.tolist(), zeros, zeros)
        np.testing.assert_allclose(linear, lin_s, atol=1e-9)
        np.testing.assert_allclose(angular, ang_s, atol=1e-9)


def test_contact_geometry_matches_the_stock_urdf(pair: tuple[PyBulletSession, int, int]) -> None:
    """The hand's collision mesh moved into panda_link7 at the same place: same closest points."""
    sim, stock, merged = pair
    box = sim.createCollisionShape(sim.GEOM_BOX, halfExtents=[0.02, 0.02, 0.02])
    probe = sim.createMultiBody(baseMass=0.0, baseCollisionShapeIndex=box, basePosition=[0.5, 0.0, 0.1])
    for q, _, _ in _random_states(10):
        _pose_both(sim, stock, merged, q, np.zeros(9))
        hand = sim.getLinkState(stock, STOCK_HAND, computeForwardKinematics=1)[4]
        for dx in (-0.06, 0.0, 0.06):  # beside the hand and the fingers
            sim.resetBasePositionAndOrientation(probe, [hand[0] + dx, hand[1], hand[2] - 0.05], [0, 0, 0, 1])
            a = sim.getClosestPoints(stock, probe, 0.2)
            b = sim.getClosestPoints(merged, probe, 0.2)
            distances_a = sorted(round(p[8], 6) for p in a if p[3] >= 6)  # wrist, hand and fingers
            distances_b = sorted(round(p[8], 6) for p in b if p[3] >= 6)
            assert distances_b and min(distances_b) == pytest.approx(min(distances_a), abs=1e-6)
    sim.removeBody(probe)


def test_the_ik_start_pose_puts_the_grasp_point_where_asked(
    env_and_stock: tuple[PandaGraspEnv, PyBulletSession, int],
) -> None:
    """PyBullet's IK on the merged wrist (orientation aimed at its inertial frame) gives the start
    pose it gave on the stock grasp-target link, and reaches other poses too."""
    env, stock, body = env_and_stock
    robot = env.robot
    # the stock model's answer, same settings; within 5e-4 rad: the iterated IK stops at its residual
    np.testing.assert_allclose(robot.rest_pose, _stock_ik(stock, body, robot.start_position, 0.0), atol=5e-4)
    for i, (position, yaw) in enumerate([((0.5, 0.1, 0.2), 0.3), ((0.6, -0.1, 0.1), -0.5)]):
        pose = robot._solve_pose(np.array(position), yaw, robot.rest_pose)
        robot._set_joints(pose)
        state = robot.state
        np.testing.assert_allclose(state.ee_xyz, position, atol=2e-3, err_msg=f"pose {i}")
        assert state.ee_yaw == pytest.approx(yaw, abs=2e-3)


def _stock_ik(sim: PyBulletSession, body: int, position: np.ndarray, yaw: float) -> tuple[float, ...]:
    """The start pose as the env solved it on the stock URDF (panda_grasptarget, link 11)."""
    from robot_rl.envs.robots import panda

    pose: tuple[float, ...] = panda._SEED_POSE
    for _ in range(10):
        for joint, angle in zip(STOCK_JOINTS, pose, strict=True):
            sim.resetJointState(body, joint, angle, 0.0)
        solution = sim.calculateInverseKinematics(
            body, STOCK_GRASP, list(position), panda.down_quaternion(yaw),
            lowerLimits=panda._LOWER, upperLimits=panda._UPPER, jointRanges=panda._RANGES,
            restPoses=panda._SEED_POSE, maxNumIterations=100, residualThreshold=1e-6,
        )  # fmt: skip
        pose = (*solution[:7], panda.FINGER_TRAVEL, panda.FINGER_TRAVEL)
    return pose


def test_matrix_rpy_inverts_rpy_matrix() -> None:
    rng = np.random.default_rng(3)
    for roll, pitch, yaw in rng.uniform(-1.5, 1.5, (50, 3)):
        back = matrix_rpy(rpy_matrix(roll, pitch, yaw))
        np.testing.assert_allclose(back, (roll, pitch, yaw), atol=1e-12)
    q = pybullet.getQuaternionFromEuler(matrix_rpy(rpy_matrix(0.3, -0.2, 1.1)))
    np.testing.assert_allclose(np.array(pybullet.getMatrixFromQuaternion(q)).reshape(3, 3),
                               rpy_matrix(0.3, -0.2, 1.1), atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("pitch", [math.pi / 2, -math.pi / 2])
def test_matrix_rpy_keeps_the_rotation_at_pitch_90_degrees(pitch: float) -> None:
    """Where roll and yaw are not separable, the angles still give back the same matrix."""
    for roll, yaw in ((0.0, 0.0), (0.4, -1.0), (-2.0, 2.5)):
        rotation = rpy_matrix(roll, pitch, yaw)
        np.testing.assert_allclose(rpy_matrix(*matrix_rpy(rotation)), rotation, atol=1e-12)
    # eigh's principal axes of a diagonal tensor are a permutation: the z axis can become x
    swap = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    np.testing.assert_allclose(rpy_matrix(*matrix_rpy(swap)), swap, atol=1e-12)


def test_quaternion_helpers_compose_in_order() -> None:
    a = pybullet.getQuaternionFromEuler((0.3, -0.2, 1.1))
    b = pybullet.getQuaternionFromEuler((-0.7, 0.5, 0.2))
    # a * b rotates by b first, then by a: as PyBullet composes them
    composed = pybullet.multiplyTransforms((0, 0, 0), a, (0, 0, 0), b)[1]
    np.testing.assert_allclose(quaternion_multiply(a, b), composed, atol=1e-7)
    v = (0.1, -0.2, 0.3)
    np.testing.assert_allclose(rotate(a, rotate(inverse_quaternion(a), v)), v, atol=1e-12)
    np.testing.assert_allclose(rotate(a, v), np.array(pybullet.getMatrixFromQuaternion(a)).reshape(3, 3) @ v,
                               atol=1e-12)  # fmt: skip


def test_the_composite_inertia_is_the_parallel_axis_sum() -> None:
    """Two point-like halves 0.2 m apart along x: I_yy = I_zz = 2 m (0.1)^2 plus their own."""
    part = _Inertial(mass=1.0, com=np.zeros(3), axes=np.eye(3), moments=np.array([2.0, 3.0, 1.0]))
    left, right = np.eye(4), np.eye(4)
    left[0, 3], right[0, 3] = -0.1, 0.1
    whole = composite([(part, left), (part, right)])
    assert whole.mass == 2.0
    np.testing.assert_allclose(whole.com, 0.0, atol=1e-15)
    np.testing.assert_allclose(whole.tensor(), np.diag([4.0, 6.02, 2.02]), atol=1e-12)
    # written to the URDF and read back, the principal frame gives the same tensor
    turned = quaternion_matrix(pybullet.getQuaternionFromEuler(matrix_rpy(whole.axes)))
    np.testing.assert_allclose(turned @ np.diag(whole.moments) @ turned.T, whole.tensor(), atol=1e-9)


def test_merging_refuses_a_moving_joint_with_a_clear_error() -> None:
    text = stock_urdf_text(False).replace(
        '<joint name="panda_hand_joint" type="fixed">', '<joint name="panda_hand_joint" type="revolute">'
    )
    with pytest.raises(ValueError, match=r"panda_hand hangs from panda_link8 by a revolute joint, not fixed"):
        merge_wrist(text)


def test_merging_names_a_missing_link_or_a_link_outside_the_chain() -> None:
    text = stock_urdf_text(False)
    renamed = text.replace('"panda_grasptarget"', '"panda_tcp"')
    with pytest.raises(ValueError, match=r"no link \['panda_grasptarget'\]; expected .*panda.urdf"):
        merge_wrist(renamed)
    moved = text.replace('<parent link="panda_link7"/>\n    <child link="panda_link8"/>',
                         '<parent link="panda_link6"/>\n    <child link="panda_link8"/>')  # fmt: skip
    assert moved != text
    with pytest.raises(ValueError, match=r"parents \{'panda_link8': 'panda_link6'.*outside the chain"):
        merge_wrist(moved)


def test_the_merged_file_keeps_the_stock_base_mass() -> None:
    """PyBullet reports a fixed base's mass as 0; the written file keeps the URDF's 2.9 kg."""
    import xml.etree.ElementTree as ET

    root = ET.parse(panda_model().urdf).getroot()
    base = next(link for link in root.findall("link") if link.get("name") == "panda_link0")
    assert float(base.find("inertial/mass").get("value")) == pytest.approx(2.9)  # type: ignore[union-attr]


def test_the_grasp_and_hand_frames_come_from_the_urdf() -> None:
    model = panda_model()
    np.testing.assert_allclose(model.hand.position, (0.0, 0.0, 0.107), atol=1e-12)
    np.testing.assert_allclose(model.grasp.position, (0.0, 0.0, 0.107 + 0.105), atol=1e-12)
    half = -math.pi / 8  # panda_hand_joint: rpy 0 0 -pi/4
    for frame in (model.hand, model.grasp):
        np.testing.assert_allclose(frame.quaternion, (0.0, 0.0, math.sin(half), math.cos(half)), atol=1e-9)
