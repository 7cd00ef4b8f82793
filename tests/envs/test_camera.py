"""The depth camera contract checked against the renderer: distances, projection, noise."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.envs.camera import DepthCamera, DepthNoise, pose_matrix
from robot_rl.errors import InputError
from robot_rl.sim.session import PyBulletSession

#: camera OpenCV frame looking straight down: x = world x, y = world -y, z = world -z
DOWN = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])


@pytest.fixture
def sim():
    session = PyBulletSession("direct")
    session.load_urdf("plane.urdf")
    yield session
    session.close()


@pytest.mark.parametrize("distance", [0.1, 0.25, 0.45])
def test_a_plane_at_a_known_distance_reads_that_distance_within_1mm(sim, distance: float) -> None:
    cam = DepthCamera.from_fov(64, 48, 58.0, near=0.07, far=0.5)
    depth = cam.render(sim, pose_matrix([0.3, -0.2, distance], DOWN))
    assert depth.shape == (48, 64) and depth.dtype == np.float32
    assert np.abs(depth - distance).max() < 1e-3


def test_beyond_far_or_nothing_in_view_reads_zero(sim) -> None:
    cam = DepthCamera.from_fov(32, 32, 58.0, near=0.07, far=0.5)
    assert np.all(cam.render(sim, pose_matrix([0, 0, 0.8], DOWN)) == 0.0)  # plane beyond far


def test_known_points_project_to_the_pixels_the_intrinsics_predict(sim) -> None:
    # asymmetric intrinsics, so a swapped axis or a half-pixel slip cannot pass
    cam = DepthCamera(width=160, height=120, fx=140.0, fy=128.0, cx=77.3, cy=61.8, near=0.05, far=0.6)
    world_cam = pose_matrix([0.1, 0.2, 0.4], DOWN)
    ball = sim.createMultiBody(
        baseMass=0.0,
        baseVisualShapeIndex=sim.createVisualShape(sim.GEOM_SPHERE, radius=0.01),
        basePosition=[0.0, 0.0, -5.0],
    )
    rng = np.random.default_rng(0)
    offsets = []
    for _ in range(20):
        point = np.array([rng.uniform(-0.05, 0.05), rng.uniform(-0.04, 0.04), rng.uniform(0.2, 0.3)])
        world_point = world_cam @ np.array([*point, 1.0])
        sim.resetBasePositionAndOrientation(ball, world_point[:3].tolist(), [0, 0, 0, 1])
        depth = cam.render(sim, world_cam)
        rows, cols = np.nonzero((depth > 0) & (depth < 0.4 - 0.005))  # the ball, in front of the floor
        u, v = cam.project(point)
        offsets.append((cols.mean() - u, rows.mean() - v))
        # nearest point of the ball along the optical axis: its depth is z - radius
        assert depth[rows, cols].min() == pytest.approx(point[2] - 0.01, abs=1e-3)
    offsets_px = np.array(offsets)
    assert np.abs(offsets_px).max() < 0.35  # each ball's centroid on its predicted pixel
    assert np.abs(offsets_px.mean(axis=0)).max() < 0.1  # no systematic slip (half a pixel would show)


def test_contract_and_bad_cameras() -> None:
    cam = DepthCamera.from_fov(64, 64, 60.0)
    c = cam.contract()
    assert c["k"][0][2] == 31.5 and c["width"] == 64 and c["near"] == 0.07
    assert c["fx"] == pytest.approx(32 / np.tan(np.radians(30)))
    with pytest.raises(InputError, match="expected 0 < near < far"):
        DepthCamera(near=0.5, far=0.1)
    with pytest.raises(InputError, match="focal lengths > 0"):
        DepthCamera(fx=0.0)
    with pytest.raises(InputError, match="behind the camera"):
        cam.project((0, 0, -1))


def test_noise_grows_with_distance_keeps_missing_pixels_and_is_seeded() -> None:
    noise = DepthNoise(edge_dropout=0.0)
    near = np.full((200, 200), 0.1, np.float32)
    far = np.full((200, 200), 0.45, np.float32)
    a = noise.apply(far, np.random.default_rng(0))
    assert np.array_equal(a, noise.apply(far, np.random.default_rng(0)))
    kept_far, kept_near = a[a > 0], noise.apply(near, np.random.default_rng(1))
    kept_near = kept_near[kept_near > 0]
    expected = noise.axial_base_m + noise.axial_quadratic * np.array([0.1, 0.45]) ** 2
    assert kept_near.std() == pytest.approx(expected[0], rel=0.1)
    assert kept_far.std() == pytest.approx(expected[1], rel=0.1)
    holes = (a == 0).mean()
    assert holes == pytest.approx(noise.hole_probability, abs=0.004)
    missing = far.copy()
    missing[:10] = 0.0
    assert np.all(noise.apply(missing, np.random.default_rng(2))[:10] == 0.0)


def test_edge_dropout_hits_depth_edges_only() -> None:
    depth = np.full((100, 100), 0.4, np.float32)
    depth[:, 50:] = 0.2  # a 20 cm step between columns 49 and 50
    noise = DepthNoise(hole_probability=0.0, edge_dropout=1.0, axial_base_m=0.0, axial_quadratic=0.0)
    out = noise.apply(depth, np.random.default_rng(0))
    assert np.all(out[:, 49:51] == 0.0)
    assert np.all(out[:, :49] > 0) and np.all(out[:, 51:] > 0)


def test_episode_camera_jitter_stays_within_the_documented_ranges() -> None:
    cam = DepthCamera.from_fov(64, 64, 60.0, mount_xyz=(0.05, 0.0, 0.02))
    noise = DepthNoise()
    rng = np.random.default_rng(3)
    for _ in range(50):
        jittered = noise.episode_camera(cam, rng)
        assert abs(
            jittered.fx / cam.fx - 1
        ) <= noise.focal_jitter and jittered.fx / jittered.fy == pytest.approx(1)
        assert abs(jittered.cx - cam.cx) <= noise.principal_jitter_px
        assert np.all(np.abs(np.subtract(jittered.mount_xyz, cam.mount_xyz)) <= noise.mount_xyz_jitter_m)
        assert np.all(np.abs(np.subtract(jittered.mount_rpy, cam.mount_rpy)) <= noise.mount_rpy_jitter_rad)
