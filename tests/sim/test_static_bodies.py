"""Static bodies as maximal-coordinate rigid bodies behave exactly as fixed-base multibodies.

``STATIC_BODY_OPTIONS`` only changes how Bullet stores bodies that never move (a speed-up of the
physics step); these tests build each scene both ways and require identical rollouts, bit for bit,
through contacts with the floor, walls, boxes, cylinders, the table and the grasped object.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import robot_rl  # noqa: F401  (registers the ids)
from robot_rl.envs import objects as objects_module
from robot_rl.envs.scripted.grasp_controller import ScriptedGraspController
from robot_rl.sim import session as session_module
from robot_rl.sim.session import PyBulletSession


def _drop_cube_on_static_box() -> np.ndarray:
    sim = PyBulletSession()
    try:
        sim.load_static_urdf("plane.urdf", [0.0, 0.0, 0.0])
        shape = sim.createCollisionShape(sim.GEOM_BOX, halfExtents=[0.2, 0.2, 0.1])
        (box,) = sim.create_static_bodies(shape, -1, [[0.0, 0.0, 0.1]])
        cube = sim.load_urdf("cube_small.urdf", [0.03, 0.0, 0.4])
        poses = []
        for _ in range(120):
            sim.step(4)
            poses.append(sim.getBasePositionAndOrientation(cube)[0])
        assert sim.getBasePositionAndOrientation(box)[0] == pytest.approx((0.0, 0.0, 0.1))
        return np.array(poses)
    finally:
        sim.close()


def test_a_static_box_holds_a_dropped_cube_exactly_as_a_fixed_multibody(monkeypatch):
    rigid = _drop_cube_on_static_box()
    assert rigid[-1][2] == pytest.approx(0.2 + 0.025, abs=2e-3)  # resting on the box top
    monkeypatch.setattr(session_module, "STATIC_BODY_OPTIONS", {})
    np.testing.assert_array_equal(rigid, _drop_cube_on_static_box())


def test_create_static_bodies_returns_one_id_per_position():
    sim = PyBulletSession()
    try:
        shape = sim.createCollisionShape(sim.GEOM_SPHERE, radius=0.1)
        ids = sim.create_static_bodies(shape, -1, [[float(k), 0.0, 0.0] for k in range(3)])
        assert len(set(ids)) == 3
        assert [sim.getBasePositionAndOrientation(i)[0][0] for i in ids] == [0.0, 1.0, 2.0]
        assert len(sim.create_static_bodies(shape, -1, [[5.0, 0.0, 0.0]])) == 1
    finally:
        sim.close()


def _nav_rollout(**kwargs: Any) -> tuple[np.ndarray, float]:
    """Weaving full-speed drive: the base runs into walls and obstacles and slides along them."""
    env = gym.make("robot_rl/MobileNav-v0", disable_env_checker=True, **kwargs)
    try:
        observations, collisions = [], 0.0
        env.reset(seed=11)
        for i in range(400):
            action = np.array([1.0, 0.6 * math.sin(i / 15.0)], np.float32)
            obs, reward, terminated, truncated, info = env.step(action)
            observations.append(np.append(obs, reward))
            if terminated or truncated:
                collisions += info["metrics"]["collisions"]
                env.reset()
        return np.array(observations), collisions
    finally:
        env.close()


def _grasp_rollout(**kwargs: Any) -> tuple[np.ndarray, int]:
    env = gym.make("robot_rl/PandaGrasp-v0", disable_env_checker=True, **kwargs)
    try:
        controller = ScriptedGraspController(env.unwrapped.obs_layout)
        observations, successes = [], 0
        for episode in range(3):
            obs, _ = env.reset(seed=300 + episode)
            controller.reset()
            done = False
            while not done:
                obs, reward, terminated, truncated, info = env.step(controller(obs))
                observations.append(np.append(obs, reward))
                done = terminated or truncated
            successes += bool(info["is_success"])
        return np.array(observations), successes
    finally:
        env.close()


@pytest.mark.parametrize(
    ("rollout", "kwargs"),
    [
        (_nav_rollout, {}),
        (_nav_rollout, {"map": "office"}),
        (_grasp_rollout, {}),
        (_grasp_rollout, {"domain_randomization": True}),
    ],
    ids=["nav", "nav_office_map", "grasp", "grasp_dr"],
)
def test_env_rollouts_are_bit_identical_with_multibody_statics(monkeypatch, rollout, kwargs):
    # The grasp objects are rigid bodies too (robot_rl/envs/objects.py), and a rigid object meets a
    # rigid table in the rigid-body solver, a multibody table in the multibody one: compare the
    # table's storage with the objects as multibodies, the one path on which it alone can differ.
    # (The rigid-body objects were checked against the multibody ones with the fidelity guards.)
    monkeypatch.setattr(objects_module, "OBJECT_BODY_OPTIONS", {})
    rigid, events = rollout(**kwargs)
    assert events > 0  # the rollout does touch the static scene (collisions) / lifts the cube
    monkeypatch.setattr(session_module, "STATIC_BODY_OPTIONS", {})
    multibody, events_again = rollout(**kwargs)
    assert events_again == events
    np.testing.assert_array_equal(rigid, multibody)
