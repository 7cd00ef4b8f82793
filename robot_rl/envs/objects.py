"""Object sets for the grasping task: a randomized cube, and pybullet_data's ``random_urdfs``.

Memory stays flat over resets: no body is ever removed and re-created per episode.

* ``"cube"``: a small pool of box bodies, one per edge length on a 5 mm grid inside the size
  range, all built in the constructor. Changing a box's size would need a new collision shape, so
  each size is its own body; mass and friction are set per episode with ``changeDynamics``.
* ``"random_train"`` / ``"random_test"``: the 1,000 ``random_urdfs`` objects, split by index
  (train ``000-799``, test ``900-999``; ``800-899`` are held back, unused). Each object is loaded
  the first time it is drawn and cached (one body per object), scaled so that its larger
  horizontal extent is :data:`RANDOM_OBJECT_EXTENT` (the raw meshes are up to 22 cm wide, more
  than the gripper's 8 cm opening).

An unused body is *parked*: mass 0 (static, so it costs no dynamics), collisions off, at its own
spot below the floor. The active body gets its mass, friction and collisions back.

Every object is a single rigid body, so it is created in maximal coordinates
(``useMaximalCoordinates``: a ``btRigidBody``, not a one-link ``btMultiBody``). A parked rigid body
with mass 0 is a static object that the physics step skips, whereas each parked multibody was
still updated every step: after 400 ``random_train`` episodes (316 objects loaded) the env ran 377
steps/s against 1311 fresh; as rigid bodies 1005 against 1604 (``robot-rl bench env ... --warm-resets
400``; the cube env x1.08). The active object's contacts go through the rigid-body solver path instead of
the multibody one; the fidelity guards keep (docs/training.md, "Physics settings and fidelity").

One PyBullet gap comes with rigid bodies: ``resetBasePositionAndOrientation`` does not update a
rigid body's world-frame inverse inertia (Bullet recomputes it only when it integrates the body),
so the first physics step of an episode would use the tensor left by the body's previous episode
(its orientation and mass then), and an episode would depend on what ran before it. Hence
:meth:`ObjectSet.place`: with the body's collisions still off, one physics step at its new
orientation recomputes the tensor (no angular velocity, no contact: the orientation is unchanged),
then the body is put back at rest at its pose and its collisions come back. The arm takes that
step too (it is reset just before, at rest under its motors), the same in every episode.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robot_rl.errors import InputError
from robot_rl.sim.session import PYBULLET_DATA, PyBulletSession

#: Object indices (into ``random_urdfs/NNN``) of each split.
RANDOM_SPLITS: dict[str, range] = {"random_train": range(0, 800), "random_test": range(900, 1000)}
#: Larger horizontal extent (m) every random_urdfs object is scaled to.
RANDOM_OBJECT_EXTENT = 0.05
#: Edge-length grid (m) of the cube pool.
CUBE_SIZE_STEP = 0.005
_PARK_Z = -5.0
#: How every object body is created (see the module doc; tests/sim/test_static_bodies.py sets it
#: to ``{}``, PyBullet's multibodies, to compare the static scene bodies on the path before).
OBJECT_BODY_OPTIONS: dict[str, bool] = {"useMaximalCoordinates": True}
_COLLIDE_GROUP, _COLLIDE_MASK = 1, -1


@dataclass(frozen=True)
class ObjectRanges:
    """Uniform ranges an object's physical parameters are drawn from each episode.

    Attributes:
        size: Cube edge length (m), low/high; ignored by the random_urdfs sets.
        mass: Mass (kg), low/high.
        friction: Lateral friction coefficient, low/high.
    """

    size: tuple[float, float] = (0.04, 0.05)
    mass: tuple[float, float] = (0.05, 0.15)
    friction: tuple[float, float] = (0.8, 1.2)


#: Ranges used by default and with ``domain_randomization=True``.
DEFAULT_RANGES = ObjectRanges()
RANDOMIZED_RANGES = ObjectRanges(size=(0.03, 0.06), mass=(0.03, 0.3), friction=(0.5, 1.5))


@dataclass(frozen=True)
class ActiveObject:
    """The object of the current episode.

    Attributes:
        body: PyBullet body id.
        rest_height: Height (m) of the base origin above the surface when resting upright.
        name: Human-readable name (e.g. ``"cube_45mm"``, ``"random_urdfs/017"``).
    """

    body: int
    rest_height: float
    name: str


class ObjectSet(ABC):
    """A set of graspable bodies; exactly one is active per episode."""

    def __init__(self, sim: PyBulletSession, ranges: ObjectRanges) -> None:
        self.sim = sim
        self.ranges = ranges
        self._active: ActiveObject | None = None
        self._park_slots: dict[int, int] = {}

    def activate(self, np_random: np.random.Generator) -> ActiveObject:
        """Park the previous object, draw a new one and give it this episode's mass and friction.

        Its collisions stay off until :meth:`place` puts it at its pose.
        """
        chosen = self._draw(np_random)
        mass = float(np_random.uniform(*self.ranges.mass))
        friction = float(np_random.uniform(*self.ranges.friction))
        if self._active is not None and self._active.body != chosen.body:
            self._park(self._active.body)
        self.sim.setCollisionFilterGroupMask(chosen.body, -1, 0, 0)
        # No sleeping: its hidden timers survive re-posing (see PandaRobot).
        self.sim.changeDynamics(chosen.body, -1, activationState=self.sim.ACTIVATION_STATE_DISABLE_SLEEPING)
        self.sim.changeDynamics(
            chosen.body, -1, mass=mass, lateralFriction=friction, spinningFriction=0.001, rollingFriction=0.0
        )
        self._set_inertia(chosen.body, mass)
        self._active = chosen
        return chosen

    def place(self, body: int, position: list[float], orientation: list[float]) -> None:
        """Put the activated ``body`` at rest at a pose and turn its collisions on (see module doc).

        Advances the physics by one step (counted in ``sim.physics_steps``).
        """
        zero = [0.0, 0.0, 0.0]
        self.sim.resetBasePositionAndOrientation(body, position, orientation)
        self.sim.resetBaseVelocity(body, zero, zero)
        self.sim.step(1)  # recomputes the body's world inertia at this orientation
        self.sim.resetBasePositionAndOrientation(body, position, orientation)
        self.sim.resetBaseVelocity(body, zero, zero)
        self.sim.setCollisionFilterGroupMask(body, -1, _COLLIDE_GROUP, _COLLIDE_MASK)

    @abstractmethod
    def _draw(self, np_random: np.random.Generator) -> ActiveObject:
        """Pick (loading if needed) the object of the next episode."""

    @abstractmethod
    def _set_inertia(self, body: int, mass: float) -> None:
        """Give ``body`` a physical inertia tensor for ``mass`` (kg)."""

    def _park(self, body: int) -> None:
        slot = self._park_slots.setdefault(body, len(self._park_slots))
        self.sim.changeDynamics(body, -1, mass=0.0)
        self.sim.setCollisionFilterGroupMask(body, -1, 0, 0)
        self.sim.resetBasePositionAndOrientation(body, [2.0 + 0.3 * slot, 3.0, _PARK_Z], [0, 0, 0, 1])
        self.sim.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0])

    @property
    @abstractmethod
    def body_count(self) -> int:
        """Bodies this set has created so far (bounded by the number of objects in the set)."""


class CubeSet(ObjectSet):
    """Red cubes, one pre-built body per edge length on a :data:`CUBE_SIZE_STEP` grid."""

    def __init__(self, sim: PyBulletSession, ranges: ObjectRanges) -> None:
        super().__init__(sim, ranges)
        low, high = ranges.size
        count = max(1, round((high - low) / CUBE_SIZE_STEP) + 1)
        self.sizes = tuple(float(s) for s in np.linspace(low, high, count))
        self._cubes: list[ActiveObject] = []
        for size in self.sizes:
            half = 0.5 * size
            shape = sim.createCollisionShape(sim.GEOM_BOX, halfExtents=[half] * 3)
            visual = sim.createVisualShape(
                sim.GEOM_BOX, halfExtents=[half] * 3, rgbaColor=[0.85, 0.1, 0.1, 1]
            )
            body = sim.createMultiBody(0.1, shape, visual, [0, 0, _PARK_Z], **OBJECT_BODY_OPTIONS)
            self._cubes.append(ActiveObject(body, half, f"cube_{size * 1000:.0f}mm"))
            self._park(body)

    @property
    def body_count(self) -> int:
        return len(self._cubes)

    def _set_inertia(self, body: int, mass: float) -> None:
        # changeDynamics(mass=...) already recomputed the box inertia from its collision shape.
        return

    def _draw(self, np_random: np.random.Generator) -> ActiveObject:
        return self._cubes[int(np_random.integers(len(self._cubes)))]


class RandomUrdfSet(ObjectSet):
    """pybullet_data ``random_urdfs`` objects of one split, loaded lazily and cached."""

    def __init__(self, sim: PyBulletSession, ranges: ObjectRanges, split: str) -> None:
        super().__init__(sim, ranges)
        if split not in RANDOM_SPLITS:
            raise InputError(f"split={split!r} is not accepted; choose one of {sorted(RANDOM_SPLITS)}")
        self.indices = RANDOM_SPLITS[split]
        self._cache: dict[int, ActiveObject] = {}
        self._extents: dict[int, tuple[float, float, float]] = {}

    @property
    def body_count(self) -> int:
        return len(self._cache)

    def _draw(self, np_random: np.random.Generator) -> ActiveObject:
        index = self.indices[int(np_random.integers(len(self.indices)))]
        if index not in self._cache:
            self._cache[index] = self._load(index)
        return self._cache[index]

    def _load(self, index: int) -> ActiveObject:
        path = f"random_urdfs/{index:03d}/{index:03d}.urdf"
        low, high = mesh_bounds(index)
        scale = RANDOM_OBJECT_EXTENT / max(high[0] - low[0], high[1] - low[1])
        body = self.sim.load_urdf(path, [0, 0, _PARK_Z], globalScaling=scale, **OBJECT_BODY_OPTIONS)
        self._extents[body] = (
            scale * (high[0] - low[0]), scale * (high[1] - low[1]), scale * (high[2] - low[2])
        )  # fmt: skip
        # The mesh is in the base frame, so its lowest vertex sets the resting height.
        return ActiveObject(body, -scale * low[2], f"random_urdfs/{index:03d}")

    def _set_inertia(self, body: int, mass: float) -> None:
        # The URDFs declare a unit inertia (kg m^2) scaled by 3: use a solid box of the AABB instead.
        ex, ey, ez = self._extents[body]
        inertia = [
            mass * (ey * ey + ez * ez) / 12,
            mass * (ex * ex + ez * ez) / 12,
            mass * (ex * ex + ey * ey) / 12,
        ]
        self.sim.changeDynamics(body, -1, localInertiaDiagonal=inertia)


def mesh_bounds(index: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Lowest and highest vertex coordinates (m, base frame) of ``random_urdfs/NNN`` as its URDF scales it.

    Read from the mesh file rather than by loading a probe body: PyBullet's ``removeBody`` after
    ``loadURDF`` leaks ~85 kB per cycle (measured), which is also why objects are cached, never
    evicted.
    """
    folder = Path(PYBULLET_DATA) / "random_urdfs" / f"{index:03d}"
    urdf = (folder / f"{index:03d}.urdf").read_text()
    match = re.search(r'<collision>.*?filename="([^"]+)"\s+scale="([^"]+)"', urdf, re.S)
    if match is None:
        raise ValueError(f"random_urdfs/{index:03d}: no scaled collision mesh in its URDF")
    scale = np.array([float(v) for v in match.group(2).split()])
    lines = (folder / match.group(1)).read_text().splitlines()
    vertices = np.array([line.split()[1:4] for line in lines if line.startswith("v ")], dtype=float)
    low, high = vertices.min(axis=0) * scale, vertices.max(axis=0) * scale
    return tuple(low.tolist()), tuple(high.tolist())


def make_object_set(name: str, sim: PyBulletSession, ranges: ObjectRanges) -> ObjectSet:
    """Build the object set called ``name`` (``"cube"``, ``"random_train"``, ``"random_test"``)."""
    if name == "cube":
        return CubeSet(sim, ranges)
    if name in RANDOM_SPLITS:
        return RandomUrdfSet(sim, ranges, name)
    raise InputError(f"object_set={name!r} is not accepted; choose one of {OBJECT_SETS}")


#: Accepted ``object_set`` names.
OBJECT_SETS = ("cube", *RANDOM_SPLITS)
