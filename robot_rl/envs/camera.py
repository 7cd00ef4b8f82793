"""The depth camera as a documented contract: intrinsics, clip range, units, mount, noise.

A :class:`DepthCamera` describes a pinhole depth camera the way a robot's driver does (ROS
``sensor_msgs/CameraInfo``): ``width`` x ``height`` pixels, intrinsics ``fx, fy, cx, cy`` in pixels
with the OpenCV convention (x right, y down, z forward; pixel centres at integer coordinates, so
pixel ``(u, v)`` = column ``u``, row ``v``), depth as the distance along the optical axis ``z`` in
metres (what RealSense and ROS ``32FC1`` depth images hold), valid in ``[near, far]``; ``0`` marks a
pixel without a measurement (RealSense convention). The camera is mounted on a link (eye-in-hand:
the Panda hand) at ``mount_xyz`` / ``mount_rpy`` in that link's frame.

:meth:`DepthCamera.render` renders one image in PyBullet with TinyRenderer in DIRECT mode and only
the depth buffer converted (no segmentation mask): the cheapest correct path. The OpenGL matrices
are built from the intrinsics, so the contract and the renderer cannot disagree; tests check a
plane at a known distance and the projection of a known point.

:class:`DepthNoise` is the sim-to-real part (on under ``domain_randomization=True``), each with a
documented range: axial noise growing with distance, missing-depth holes, dropout at depth edges,
and per-episode mount and intrinsics jitter.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.errors import InputError


def rpy_matrix(roll: float, pitch: float, yaw: float) -> NDArray[np.float64]:
    """Rotation matrix of fixed-axis roll-pitch-yaw (x, then y, then z; URDF convention)."""
    cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch),
                              math.cos(yaw), math.sin(yaw))  # fmt: skip
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def quaternion_matrix(q: Any) -> NDArray[np.float64]:
    """Rotation matrix of a quaternion ``(x, y, z, w)`` (PyBullet's order)."""
    x, y, z, w = (float(v) for v in q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def pose_matrix(position: Any, rotation: NDArray[np.float64]) -> NDArray[np.float64]:
    """4x4 homogeneous transform from a position and a 3x3 rotation."""
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = np.asarray(position, np.float64)
    return out


#: OpenCV camera frame (x right, y down, z forward) -> OpenGL camera frame (x right, y up, z back)
_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class DepthCamera:
    """A pinhole depth camera (see the module docstring for the conventions).

    Attributes:
        width: Image width in pixels.
        height: Image height in pixels.
        fx: Focal length along x in pixels.
        fy: Focal length along y in pixels.
        cx: Principal point x in pixels (OpenCV convention: pixel centres at integers).
        cy: Principal point y in pixels.
        near: Closest valid depth in metres (closer reads 0: no measurement).
        far: Farthest valid depth in metres (farther reads 0).
        mount_xyz: Camera position in the mount link's frame (m).
        mount_rpy: Camera orientation in the mount link's frame (rad, fixed-axis roll-pitch-yaw of
            the OpenCV camera frame: z is the viewing direction).
        mount_link: Name of the link the camera is fixed to (documentation; the env resolves it).
    """

    width: int = 64
    height: int = 64
    fx: float = 45.7
    fy: float = 45.7
    cx: float = 31.5
    cy: float = 31.5
    near: float = 0.07
    far: float = 0.5
    mount_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    mount_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    mount_link: str = "world"

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise InputError(f"camera {self.width}x{self.height}: expected at least 1x1 pixels")
        if not (self.fx > 0 and self.fy > 0):
            raise InputError(f"camera fx={self.fx}, fy={self.fy}: expected focal lengths > 0 (pixels)")
        if not 0 < self.near < self.far:
            raise InputError(f"camera near={self.near}, far={self.far}: expected 0 < near < far (metres)")

    @classmethod
    def from_fov(cls, width: int, height: int, fov_y_deg: float, **kwargs: Any) -> DepthCamera:
        """A camera with square pixels, the given vertical field of view and a centred principal point."""
        f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2.0)
        return cls(width=width, height=height, fx=f, fy=f, cx=(width - 1) / 2, cy=(height - 1) / 2, **kwargs)

    @property
    def intrinsics(self) -> NDArray[np.float64]:
        """The 3x3 camera matrix ``K`` (ROS ``CameraInfo.k``)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def contract(self) -> dict[str, Any]:
        """Everything a robot needs to produce the same image (what the bundle's manifest carries)."""
        return {
            **asdict(self),
            "k": self.intrinsics.tolist(),
            "depth_units": "metres along the optical axis (z), float32; 0 = no measurement",
            "frame": "OpenCV optical frame: x right, y down, z forward; pixel centres at integers",
            "layout": f"row-major {self.height}x{self.width} (row 0 at the top)",
        }

    # ------------------------------------------------------------------ geometry
    def project(self, point_cam: Any) -> tuple[float, float]:
        """Pixel ``(u, v)`` of a point given in the camera's OpenCV frame (z > 0 in front)."""
        x, y, z = (float(v) for v in point_cam)
        if z <= 0:
            raise InputError(f"point {point_cam} is behind the camera (z must be > 0)")
        return self.fx * x / z + self.cx, self.fy * y / z + self.cy

    def projection_matrix(self) -> list[float]:
        """OpenGL projection matrix (column-major, as PyBullet takes it) built from the intrinsics."""
        w, h, n, f = self.width, self.height, self.near, self.far
        # PyBullet's TinyRenderer samples column u at x_gl = u and row v at y_gl = h - 1 - v (pixel
        # corners, not centres); measured by tests/envs/test_camera.py against projected points
        p = np.array(
            [
                [2 * self.fx / w, 0.0, 1.0 - 2.0 * self.cx / w, 0.0],
                [0.0, 2 * self.fy / h, 2.0 * (self.cy + 1.0) / h - 1.0, 0.0],
                [0.0, 0.0, -(f + n) / (f - n), -2.0 * f * n / (f - n)],
                [0.0, 0.0, -1.0, 0.0],
            ]
        )
        return [float(v) for v in p.flatten(order="F")]

    def world_pose(self, link_position: Any, link_orientation: Any) -> NDArray[np.float64]:
        """World pose (4x4) of the camera's OpenCV frame, given its mount link's world pose."""
        world_link = pose_matrix(link_position, quaternion_matrix(link_orientation))
        link_cam = pose_matrix(self.mount_xyz, rpy_matrix(*self.mount_rpy))
        return world_link @ link_cam

    @staticmethod
    def view_matrix(world_cam: NDArray[np.float64]) -> list[float]:
        """OpenGL view matrix (column-major) of a camera whose OpenCV frame has world pose ``world_cam``."""
        view = np.linalg.inv(world_cam @ _CV_TO_GL)
        return [float(v) for v in view.flatten(order="F")]

    # ------------------------------------------------------------------ rendering
    def depth_from_buffer(self, zbuffer: Any) -> NDArray[np.float32]:
        """OpenGL depth-buffer values in ``[0, 1]`` -> metres along z; outside ``[near, far)`` -> 0."""
        zb = np.asarray(zbuffer, np.float64).reshape(self.height, self.width)
        n, f = self.near, self.far
        depth = f * n / (f - (f - n) * zb)
        depth[zb >= 1.0 - 1e-7] = 0.0  # the far plane: nothing was hit
        return depth.astype(np.float32)

    def render(self, sim: Any, world_cam: NDArray[np.float64]) -> NDArray[np.float32]:
        """Render a depth image (metres, ``(height, width)``) from ``world_cam`` in session ``sim``."""
        _, _, _, zbuffer, _ = sim.getCameraImage(
            self.width,
            self.height,
            viewMatrix=self.view_matrix(world_cam),
            projectionMatrix=self.projection_matrix(),
            renderer=sim.ER_TINY_RENDERER,
            flags=sim.ER_NO_SEGMENTATION_MASK,
        )
        return self.depth_from_buffer(zbuffer)


@dataclass(frozen=True)
class DepthNoise:
    """Sim-to-real depth corruption (documented ranges; all zero = a perfect sensor).

    Attributes:
        axial_base_m: Axial noise std at zero distance (m).
        axial_quadratic: Axial noise std growth with distance: ``std = base + quadratic * z^2``
            (stereo depth error grows with the square of the distance).
        hole_probability: Fraction of pixels that lose their measurement (read 0).
        edge_threshold_m: A depth jump larger than this between neighbours marks an edge pixel.
        edge_dropout: Probability that an edge pixel loses its measurement.
        mount_xyz_jitter_m: Per-episode uniform jitter of the camera position (+- m, per axis).
        mount_rpy_jitter_rad: Per-episode uniform jitter of the camera orientation (+- rad, per axis).
        focal_jitter: Per-episode relative jitter of fx and fy (+- fraction).
        principal_jitter_px: Per-episode jitter of cx and cy (+- pixels).
    """

    axial_base_m: float = 0.0005
    axial_quadratic: float = 0.004
    hole_probability: float = 0.01
    edge_threshold_m: float = 0.02
    edge_dropout: float = 0.3
    mount_xyz_jitter_m: float = 0.004
    mount_rpy_jitter_rad: float = math.radians(1.5)
    focal_jitter: float = 0.02
    principal_jitter_px: float = 1.0

    def episode_camera(self, camera: DepthCamera, rng: np.random.Generator) -> DepthCamera:
        """The camera of one episode: mount and intrinsics jittered within the documented ranges."""
        xyz = np.asarray(camera.mount_xyz) + rng.uniform(-1, 1, 3) * self.mount_xyz_jitter_m
        rpy = np.asarray(camera.mount_rpy) + rng.uniform(-1, 1, 3) * self.mount_rpy_jitter_rad
        scale = 1.0 + rng.uniform(-1, 1) * self.focal_jitter
        return replace(
            camera,
            fx=camera.fx * scale,
            fy=camera.fy * scale,
            cx=camera.cx + float(rng.uniform(-1, 1)) * self.principal_jitter_px,
            cy=camera.cy + float(rng.uniform(-1, 1)) * self.principal_jitter_px,
            mount_xyz=(float(xyz[0]), float(xyz[1]), float(xyz[2])),
            mount_rpy=(float(rpy[0]), float(rpy[1]), float(rpy[2])),
        )

    def apply(self, depth: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
        """A noisy copy of ``depth`` (metres; 0 = no measurement stays 0)."""
        valid = depth > 0
        std = self.axial_base_m + self.axial_quadratic * depth.astype(np.float64) ** 2
        out = depth + (rng.standard_normal(depth.shape) * std).astype(np.float32)
        drop = rng.random(depth.shape) < self.hole_probability
        if self.edge_dropout > 0:
            edges = np.zeros(depth.shape, bool)
            dx = np.abs(np.diff(depth, axis=1)) > self.edge_threshold_m
            dy = np.abs(np.diff(depth, axis=0)) > self.edge_threshold_m
            edges[:, 1:] |= dx
            edges[:, :-1] |= dx
            edges[1:, :] |= dy
            edges[:-1, :] |= dy
            drop |= edges & (rng.random(depth.shape) < self.edge_dropout)
        out[drop | ~valid] = 0.0
        return out.astype(np.float32)
