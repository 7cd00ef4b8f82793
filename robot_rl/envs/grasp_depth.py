"""``PandaGrasp-v0(obs_mode="depth")``: what a real arm senses, and nothing the simulator knows for free.

The observation is ``Dict{"depth": (1, H, W) float32 metres, "proprio": (15,) float32}``:

* ``depth``: the eye-in-hand camera :data:`HAND_CAMERA` (a RealSense D405-like depth camera on the
  Panda hand, looking along the fingers), 64x64 pixels, ``near`` 0.07 m, ``far`` 0.5 m, ``0`` = no
  measurement; the contract is :meth:`robot_rl.envs.camera.DepthCamera.contract` (in the manifest of
  an exported bundle);
* ``proprio``: grasp-point position and velocity, gripper yaw, gripper opening, finger contacts and
  the previous action (:data:`PROPRIO_FIELDS`, from the state observation's layout).

**No object pose or velocity.** The full state observation stays available to a privileged
teacher through ``env.unwrapped.privileged_observation()`` (layout ``env.unwrapped.state_layout``),
which is what DAgger labels with (:mod:`robot_rl.train.dagger`).

Under ``domain_randomization=True`` the image gets the sim-to-real corruption of
:class:`robot_rl.envs.camera.DepthNoise` (axial noise growing with distance, holes, edge dropout)
and each episode a jittered camera mount and intrinsics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from robot_rl.envs.camera import DepthCamera, DepthNoise
from robot_rl.envs.layout import VectorLayout

#: the eye-in-hand camera: 6 cm off the hand's axis (clear of the fingers, which open along y),
#: 3 cm up, tilted 19.5 degrees towards the fingers so the grasp area is in the middle of the image
HAND_CAMERA = DepthCamera.from_fov(
    64,
    64,
    70.0,
    near=0.07,
    far=0.5,
    mount_xyz=(0.06, 0.0, 0.03),
    mount_rpy=(0.0, -0.34, 0.0),
    mount_link="panda_hand",
)
#: the state-observation fields the depth policy keeps (proprioception and its own last action)
PROPRIO_FIELDS = (
    "ee_position",
    "ee_velocity",
    "ee_yaw",
    "gripper_opening",
    "finger_contacts",
    "previous_action",
)


class DepthObserver:
    """Builds the depth-mode observation from the state observation and one camera render.

    Args:
        sim: The env's PyBullet session.
        hand_pose: Returns the ``panda_hand`` frame's world position and quaternion now
            (:meth:`robot_rl.envs.robots.panda.PandaRobot.hand_pose`).
        state_layout: Layout of the state observation (the privileged one).
        camera: The camera (default :data:`HAND_CAMERA`).
        noise: Sim-to-real corruption, or ``None`` for a perfect sensor.
    """

    def __init__(
        self,
        sim: Any,
        hand_pose: Callable[[], tuple[Sequence[float], Sequence[float]]],
        state_layout: VectorLayout,
        camera: DepthCamera = HAND_CAMERA,
        noise: DepthNoise | None = None,
    ) -> None:
        self.sim, self.hand_pose, self.state_layout = sim, hand_pose, state_layout
        self.camera = self.episode_camera = camera
        self.noise = noise
        self._index = np.concatenate(
            [np.arange(state_layout.size)[state_layout.slice(name)] for name in PROPRIO_FIELDS]
        )
        by_name = {f.name: f for f in state_layout.fields}
        #: layout of the ``proprio`` vector (the exported manifest names its fields with it)
        self.proprio_layout = VectorLayout([by_name[name] for name in PROPRIO_FIELDS])
        box = state_layout.box()
        self.observation_space = spaces.Dict(
            {
                "depth": spaces.Box(0.0, camera.far, (1, camera.height, camera.width), np.float32),
                "proprio": spaces.Box(box.low[self._index], box.high[self._index], dtype=np.float32),
            }
        )

    def new_episode(self, rng: np.random.Generator) -> None:
        """Draw this episode's camera (mount and intrinsics jitter when noise is on)."""
        self.episode_camera = self.noise.episode_camera(self.camera, rng) if self.noise else self.camera

    def render(self, rng: np.random.Generator | None = None) -> NDArray[np.float32]:
        """The depth image (metres, ``(H, W)``) from the hand camera, corrupted when noise is on."""
        cam = self.episode_camera
        depth = cam.render(self.sim, cam.world_pose(*self.hand_pose()))
        if self.noise is not None and rng is not None:
            depth = self.noise.apply(depth, rng)
        return depth

    def observe(self, state_obs: NDArray[np.float32], rng: np.random.Generator | None) -> dict[str, Any]:
        """``{"depth": (1, H, W), "proprio": (15,)}`` for the current simulator state."""
        depth = self.render(rng)
        return {
            "depth": np.minimum(depth, self.camera.far)[None].astype(np.float32),
            "proprio": np.asarray(state_obs, np.float32)[self._index],
        }

    def contract(self) -> dict[str, Any]:
        """The camera contract plus the proprioception fields (what a robot must provide)."""
        return {**self.camera.contract(), "proprio_fields": list(PROPRIO_FIELDS)}
