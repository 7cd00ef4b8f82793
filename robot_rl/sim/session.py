"""PyBulletSession: the only module in robot_rl that imports ``pybullet``.

Each environment owns one session, i.e. one physics client (DIRECT by default, GUI on request).
Every PyBullet call goes through the session, never through the module-level client, so that
environments can live side by side in one process and in ``SubprocVecEnv`` workers.

Improvement over ``pybullet_utils.bullet_client.BulletClient``: that class builds a new
``functools.partial`` on *every* attribute access (``inspect.isbuiltin`` + ``partial``), which
costs microseconds per call inside ``env.step``. The session binds each function once and caches
it on the instance, so repeated calls are plain attribute lookups.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
from collections.abc import Iterator
from typing import Any, Literal

from robot_rl.errors import InputError


def _flush_c_stdio() -> None:
    """Flush C stdio buffers: with stdout on a pipe, printf output sits there until exit."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def suppress_c_output(enabled: bool = True) -> Iterator[None]:
    """Silence what C code writes to the process's stdout and stderr (fds 1, 2) inside the block.

    PyBullet prints its build banner (stderr) and URDF warnings (stdout) from C, which Python's
    ``sys.stdout`` redirection cannot catch. Both file descriptors are pointed at ``/dev/null``
    and restored; PyBullet's real errors still arrive as Python exceptions. Set
    ``ROBOT_RL_VERBOSE_BULLET=1`` to see the messages.
    """
    if not enabled or os.environ.get("ROBOT_RL_VERBOSE_BULLET") == "1":
        yield
        return
    streams = [sys.stdout, sys.stderr]
    for stream in streams:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    saved = [os.dup(fd) for fd in (1, 2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            os.dup2(devnull, fd)
        yield
    finally:
        _flush_c_stdio()
        for stream in streams:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


with suppress_c_output():
    import pybullet
    import pybullet_data

RenderConnection = Literal["direct", "gui"]


def _require_display() -> None:
    """Refuse a GUI connection without a display: PyBullet would ``exit(1)`` the whole process."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise RuntimeError(
            "the PyBullet GUI (render_mode='human') needs a display, and neither DISPLAY nor "
            "WAYLAND_DISPLAY is set; use render_mode='rgb_array' or None on a headless machine, "
            "or run under xvfb-run"
        )


#: Path of the PyBullet data package (plane, table, Franka Panda, random_urdfs, ...).
PYBULLET_DATA = pybullet_data.getDataPath()

#: How :meth:`PyBulletSession.load_static_urdf` and :meth:`PyBulletSession.create_static_bodies`
#: build bodies that never move (floors, walls, obstacles, the table): as maximal-coordinate rigid
#: bodies of mass 0, which Bullet keeps as static ``btRigidBody`` objects. PyBullet's default, a
#: fixed-base ``btMultiBody``, still goes through the articulated-body forward dynamics, the
#: island builder and the transform update on every physics step; the navigation scene's 69
#: static bodies made its physics about 1.4x slower. Same shapes, same poses, same contacts:
#: the solver sees no velocity on the static side either way, and long rollouts of every env are
#: bit-for-bit the same with both (``tests/sim/test_static_bodies.py``). A test sets this to ``{}``
#: to build the multibody version.
STATIC_BODY_OPTIONS: dict[str, Any] = {"useMaximalCoordinates": True}

#: Constraint-solver iterations per physics step of a session (PyBullet's own default), and the
#: baseline of ``robot-rl bench fidelity``. Each env sets its own, measured against this one on the
#: fidelity guards (:mod:`robot_rl.envs.fidelity`): see docs/training.md, "Physics settings".
SOLVER_ITERATIONS = 50
#: Accepted range of ``solver_iterations``.
SOLVER_ITERATIONS_RANGE = (1, 1000)


class PyBulletSession:
    """One PyBullet physics client with its own id, bound functions and constants.

    Use it like the pybullet module: ``session.loadURDF(...)``, ``session.stepSimulation()``,
    ``session.POSITION_CONTROL``. The client id is injected into every function.

    Args:
        connection: ``"direct"`` (headless, default) or ``"gui"`` (opens the PyBullet window).
        physics_dt: Physics time step in seconds (see :class:`robot_rl.sim.timing.SimTiming`).
        gravity: Gravity along z in m/s^2.
        solver_iterations: Constraint-solver iterations per physics step, an int in
            :data:`SOLVER_ITERATIONS_RANGE` (default :data:`SOLVER_ITERATIONS`).

    Attributes:
        physics_steps: Physics steps taken through :meth:`step` so far: the clock by which a
            robot knows that what it measured is out of date (step through :meth:`step`, not
            ``stepSimulation``, whenever an env's robot will be queried afterwards).
    """

    def __init__(
        self,
        connection: RenderConnection = "direct",
        physics_dt: float = 1.0 / 240.0,
        gravity: float = -9.81,
        solver_iterations: int = SOLVER_ITERATIONS,
    ) -> None:
        if connection not in ("direct", "gui"):
            raise InputError(f"connection must be 'direct' or 'gui', got {connection!r}")
        low, high = SOLVER_ITERATIONS_RANGE
        if (
            isinstance(solver_iterations, bool)
            or not isinstance(solver_iterations, int)
            or not (low <= solver_iterations <= high)
        ):
            raise InputError(
                f"solver_iterations={solver_iterations!r} is not accepted; expected an int in [{low}, {high}]"
            )
        if connection == "gui":
            _require_display()
        self.connection = connection
        self._pid = os.getpid()
        mode = pybullet.GUI if connection == "gui" else pybullet.DIRECT
        with suppress_c_output():
            self._client: int = pybullet.connect(mode)
        if self._client < 0:
            raise RuntimeError(f"PyBullet could not open a {connection} connection")
        self.setAdditionalSearchPath(PYBULLET_DATA)
        self.setTimeStep(physics_dt)
        self.setGravity(0.0, 0.0, gravity)
        self.setPhysicsEngineParameter(numSolverIterations=solver_iterations)
        if connection == "gui":
            self.configureDebugVisualizer(pybullet.COV_ENABLE_GUI, 0)
        self.physics_dt = physics_dt
        self.physics_steps = 0

    @property
    def client_id(self) -> int:
        """PyBullet's id of this client (-1 once closed)."""
        return self._client

    @property
    def is_connected(self) -> bool:
        """Whether the client is still connected."""
        return self._client >= 0 and bool(pybullet.isConnected(physicsClientId=self._client))

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: bind once, cache on the instance.
        if name.startswith("__"):
            raise AttributeError(name)
        attribute = getattr(pybullet, name)
        if callable(attribute) and type(attribute).__name__ == "builtin_function_or_method":
            attribute = functools.partial(attribute, physicsClientId=self._client)
            self.__dict__[name] = attribute
        return attribute

    def step(self, substeps: int) -> None:
        """Advance the physics by ``substeps`` time steps (counted in :attr:`physics_steps`)."""
        step = self.stepSimulation
        for _ in range(substeps):
            step()
        self.physics_steps += substeps

    def load_urdf(self, path: str, *args: Any, **kwargs: Any) -> int:
        """``loadURDF`` with PyBullet's C-level chatter silenced; raises if the file is missing."""
        with suppress_c_output():
            try:
                return int(self.loadURDF(path, *args, **kwargs))
            except pybullet.error as exc:
                raise FileNotFoundError(f"PyBullet could not load URDF {path!r}: {exc}") from exc

    def load_static_urdf(self, path: str, position: Any, **kwargs: Any) -> int:
        """:meth:`load_urdf` for a body that never moves (see :data:`STATIC_BODY_OPTIONS`)."""
        return self.load_urdf(path, position, **kwargs, **STATIC_BODY_OPTIONS)

    def create_static_bodies(self, shape: int, visual: int, positions: list[list[float]]) -> list[int]:
        """One static body (mass 0, identity orientation) per position, built in one call (see
        :data:`STATIC_BODY_OPTIONS`); returns their ids in the order of ``positions``."""
        ids = self.createMultiBody(
            baseMass=0.0,
            baseCollisionShapeIndex=shape,
            baseVisualShapeIndex=visual,
            batchPositions=positions,
            **STATIC_BODY_OPTIONS,
        )
        return [int(i) for i in (ids if isinstance(ids, list | tuple) else [ids])]

    def close(self) -> None:
        """Disconnect (idempotent; a forked child never disconnects its parent's client)."""
        if self._client >= 0 and self._pid == os.getpid():
            with contextlib.suppress(pybullet.error):
                pybullet.disconnect(physicsClientId=self._client)
        self._client = -1
        # Drop cached partials: they hold the old client id.
        for key in [k for k, v in self.__dict__.items() if isinstance(v, functools.partial)]:
            del self.__dict__[key]

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    error = pybullet.error
