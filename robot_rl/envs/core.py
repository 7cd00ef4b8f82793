"""Robot + Task -> RobotTaskEnv: the Gymnasium plumbing shared by every robot_rl environment.

Composition as in panda-gym: a :class:`Robot` owns the bodies the agent moves and turns a
normalized action into motor targets; a :class:`Task` owns the rest of the scene, the reward and
success. :class:`RobotTaskEnv` validates actions, steps the physics at the rate pair of
:class:`~robot_rl.sim.timing.SimTiming`, enforces the time limit (stated in seconds), adds
observation noise / action latency when asked, and fills ``info``.

Contracts every subclass keeps:
    * one construction order: :class:`EnvSettings` (checked before any physics client exists),
      the session, the robot, the task (given what it needs, e.g. the episode limit), then
      ``RobotTaskEnv.__init__(robot, task, settings)``, which builds the spaces and limits once;
    * bodies are built once (in the constructors) and re-posed in ``reset``; never reloaded;
    * all randomness comes from the ``np_random`` generator passed to ``reset``;
    * ``Task.evaluate`` is called once per control step, after the physics.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from robot_rl.envs.layout import Field, VectorLayout
from robot_rl.errors import InputError
from robot_rl.sim.session import PyBulletSession
from robot_rl.sim.timing import SimTiming

FloatArray = NDArray[np.float32]


class Robot(ABC):
    """Bodies the agent moves.

    Subclasses set ``action_layout`` (every entry in [-1, 1]; each Field's ``description`` says
    what 1.0 means in physical units) and ``obs_layout``, load their bodies in ``__init__``,
    and re-pose them in :meth:`reset`.
    """

    action_layout: VectorLayout
    obs_layout: VectorLayout

    def __init__(self, sim: PyBulletSession, timing: SimTiming) -> None:
        self.sim = sim
        self.timing = timing

    @abstractmethod
    def reset(self, np_random: np.random.Generator) -> None:
        """Re-pose the robot for a new episode (no body is loaded here)."""

    @abstractmethod
    def apply_action(self, action: FloatArray) -> None:
        """Turn a validated, clipped action in [-1, 1] into motor targets (no physics step)."""

    @abstractmethod
    def observe(self) -> dict[str, FloatArray]:
        """Current robot observation, keyed by ``obs_layout`` names."""

    def safe_action(self) -> list[float | None]:
        """The action that brings this robot to a safe standstill, one entry per action entry.

        ``None`` means "hold this entry at its last commanded value" (e.g. keep a gripper closed
        on an object). A robot that cannot say what is safe cannot be exported to hardware.
        """
        raise NotImplementedError(
            f"{type(self).__name__} declares no safe_action(); a robot must define one to be deployed"
        )

    def action_semantics(self, dt: float) -> list[dict[str, Any]]:
        """Physical meaning of each action field at control period ``dt`` (seconds).

        One dict per ``action_layout`` field: ``name``, ``kind`` (``"velocity"``: held for the
        control period; ``"displacement"``: a move per control step, spread over command ticks;
        ``"position"``: an absolute target), ``per_unit`` (the physical value of action 1.0),
        ``unit`` and, for velocities and displacements, ``per_unit_per_s`` (the rate of 1.0 in
        ``unit`` per second).
        """
        raise NotImplementedError(f"{type(self).__name__} declares no action_semantics()")


#: Accepted ``kind`` values of :meth:`Robot.action_semantics`.
ACTION_KINDS = ("velocity", "displacement", "position")


@dataclass
class TaskStatus:
    """What a task reports after each control step.

    Attributes:
        reward: Scalar reward of this step.
        success: Whether the task's success condition holds now.
        terminated: Whether the episode ends (success or failure state), not a time limit.
        components: Named reward terms (they sum to ``reward``); copied into ``info``.
    """

    reward: float
    success: bool
    terminated: bool
    components: dict[str, float] = field(default_factory=dict)


class Task(ABC):
    """Scene objects, reward and success for one robot."""

    obs_layout: VectorLayout

    def __init__(self, sim: PyBulletSession, robot: Robot) -> None:
        self.sim = sim
        self.robot = robot

    @abstractmethod
    def reset(self, np_random: np.random.Generator, options: Mapping[str, Any] | None = None) -> None:
        """Re-pose the scene for a new episode (called after the robot's reset).

        ``options`` are the env's validated ``reset(options=...)`` (e.g. a pinned layout seed).
        """

    @abstractmethod
    def observe(self) -> dict[str, FloatArray]:
        """Task observation, keyed by ``obs_layout`` names."""

    @abstractmethod
    def evaluate(self, action: FloatArray) -> TaskStatus:
        """Reward, success and termination after the physics of this control step."""

    def episode_metrics(self) -> dict[str, float]:
        """Task metrics reported in ``info["metrics"]`` on the last step of an episode."""
        return {}


class GoalTask(Task):
    """A task with a goal: the env then returns Dict observations for HER.

    ``compute_reward`` must be vectorized over a leading batch dimension and depend only on
    ``achieved_goal`` and ``desired_goal`` (SB3's ``HerReplayBuffer`` relabels goals with it).
    """

    goal_layout: VectorLayout

    @abstractmethod
    def achieved_goal(self) -> FloatArray:
        """Achieved goal, shape ``(goal_layout.size,)``."""

    @abstractmethod
    def desired_goal(self) -> FloatArray:
        """Desired goal, shape ``(goal_layout.size,)``."""

    @abstractmethod
    def compute_reward(
        self, achieved_goal: NDArray[Any], desired_goal: NDArray[Any], info: Any
    ) -> NDArray[np.float32] | float:
        """Sparse reward, vectorized over leading dimensions."""


PREVIOUS_ACTION = "previous_action"


@dataclass(frozen=True)
class EnvSettings:
    """What :class:`RobotTaskEnv` needs besides the robot and the task, checked when built.

    Build it first, before the physics client: a rejected value then leaves nothing to close. The
    robot and the task are built with the same ``timing`` (and a task that prices the time limit,
    like the grasp task's drop penalty, takes :attr:`max_episode_steps` in its constructor).

    Attributes:
        timing: Physics and control rates.
        max_episode_seconds: Time limit in simulated seconds (truncation), at least one control period.
        render_mode: ``None`` or one of the env's ``metadata["render_modes"]`` (checked by the env).
        discrete_actions: ``None`` for a float32 ``Box(-1, 1)`` action, or a table of rows in
            [-1, 1] (one per action index) for a ``Discrete`` action (checked against the robot's
            action layout by the env).
        obs_noise_std: Standard deviation of Gaussian noise added to the flat observation (>= 0).
        action_latency_steps: Control steps by which actions reach the robot late (int >= 0).
    """

    timing: SimTiming
    max_episode_seconds: float
    render_mode: str | None = None
    discrete_actions: tuple[tuple[float, ...], ...] | None = None
    obs_noise_std: float = 0.0
    action_latency_steps: int = 0

    def __post_init__(self) -> None:
        check_range("max_episode_seconds", self.max_episode_seconds, low=self.timing.dt)
        check_range("obs_noise_std", self.obs_noise_std, low=0.0)
        if not isinstance(self.action_latency_steps, int | np.integer) or self.action_latency_steps < 0:
            raise InputError(
                f"action_latency_steps must be an int >= 0 (control steps), got {self.action_latency_steps!r}"
            )

    @property
    def max_episode_steps(self) -> int:
        """The time limit in control steps (``timing.steps_for(max_episode_seconds)``)."""
        return self.timing.steps_for(self.max_episode_seconds)


class RobotTaskEnv(gym.Env[Any, Any]):
    """A Gymnasium environment made of a :class:`Robot`, a :class:`Task` and :class:`EnvSettings`.

    Subclasses build, in this order: the settings, the session, the robot and the task (the task
    gets the robot), then call ``super().__init__(robot, task, settings)``, which builds the
    spaces and the episode limit once. A subclass that observes more (the grasp env's camera image)
    extends the observation space after that call.

    Actions are float32 ``Box(-1, 1)`` (or ``Discrete(n)`` when ``settings.discrete_actions`` is
    given, each index mapping to one row of that table). NaN/Inf or wrongly shaped actions raise
    ``ValueError``; finite values outside [-1, 1] are clipped.

    Observation: robot fields, task fields, then ``previous_action`` (the clipped action applied
    in the last step, zeros after reset), as one float32 vector described by ``obs_layout``.

    Args:
        robot: The robot; the env steps its session (``robot.sim``) at its ``timing``.
        task: The task, built on the same session and robot.
        settings: Time limit, render mode, action table, noise and latency.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 20}  # noqa: RUF012 (Gymnasium API)

    sim: PyBulletSession
    timing: SimTiming
    robot: Robot
    task: Task

    def __init__(self, robot: Robot, task: Task, settings: EnvSettings) -> None:
        check_choice("render_mode", settings.render_mode, [None, *self.metadata["render_modes"]])
        if task.robot is not robot or task.sim is not robot.sim or settings.timing != robot.timing:
            raise ValueError("the task must be built on the env's robot and session, at the settings' timing")
        self.sim, self.timing, self.robot, self.task = robot.sim, settings.timing, robot, task
        self.settings = settings
        self.render_mode = settings.render_mode
        self.max_episode_steps = settings.max_episode_steps
        self.obs_noise_std = float(settings.obs_noise_std)
        self.action_latency_steps = int(settings.action_latency_steps)
        self.metadata = {**self.metadata, "render_fps": round(self.timing.control_hz)}
        act = robot.action_layout
        self.action_layout = act
        self.obs_layout = VectorLayout(
            [
                *robot.obs_layout.fields,
                *task.obs_layout.fields,
                Field(PREVIOUS_ACTION, act.size, "1", -1.0, 1.0, "last applied action, in [-1, 1]"),
            ]
        )
        self._discrete_actions: NDArray[np.float32] | None = None
        if settings.discrete_actions is not None:
            table = np.asarray(settings.discrete_actions, dtype=np.float32)
            if table.ndim != 2 or table.shape[1] != act.size or np.abs(table).max() > 1:
                raise InputError(
                    f"discrete_actions must be an (n, {act.size}) table with entries in [-1, 1], "
                    f"got shape {table.shape}"
                )
            self._discrete_actions = table
            self.action_space: spaces.Space[Any] = spaces.Discrete(len(table))
        else:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(act.size,), dtype=np.float32)
        flat = self.obs_layout.box()
        self._obs_low, self._obs_high = flat.low, flat.high
        if isinstance(task, GoalTask):
            self._goal_low, self._goal_high = task.goal_layout.low, task.goal_layout.high
            # Only goal envs have compute_reward: SB3's checker and HER detect goal envs by it.
            self.compute_reward = task.compute_reward
            g = task.goal_layout.box()
            self.observation_space: spaces.Space[Any] = spaces.Dict(
                {"observation": flat, "achieved_goal": g, "desired_goal": g}
            )
        else:
            self.observation_space = flat
        self._prev_action = np.zeros(act.size, dtype=np.float32)
        self._pending: deque[FloatArray] = deque()
        self._elapsed_steps = 0
        self._command_physics = 0  # physics steps applied by apply_command in this control step
        self._needs_reset = True

    # ------------------------------------------------------------------ properties
    @property
    def dt(self) -> float:
        """Control period in seconds."""
        return self.timing.dt

    def safe_action(self) -> list[float | None] | int:
        """The env's safe action: the robot's (see :meth:`Robot.safe_action`) in this env's action space.

        For discrete actions it is the index of the table row that is the robot's safe action
        (for navigation: the stop primitive).

        Raises:
            NotImplementedError: the robot declares no safe action.
            ValueError: no discrete action is the robot's safe action.
        """
        safe = self.robot.safe_action()
        if len(safe) != self.action_layout.size:
            raise ValueError(f"safe_action has {len(safe)} entries, the action has {self.action_layout.size}")
        if self._discrete_actions is None:
            return list(safe)
        for index, row in enumerate(self._discrete_actions):
            if all(v is None or float(r) == float(v) for r, v in zip(row, safe, strict=True)):
                return index
        raise ValueError(f"no row of the discrete action table is the robot's safe action {safe}")

    def action_semantics(self) -> list[dict[str, Any]]:
        """Physical meaning of each action field (see :meth:`Robot.action_semantics`)."""
        return self.robot.action_semantics(self.dt)

    @property
    def elapsed_steps(self) -> int:
        """Control steps taken in the current episode."""
        return self._elapsed_steps

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.robot.reset(self.np_random)
        self.task.reset(self.np_random, options)
        self._prev_action = np.zeros(self.action_layout.size, dtype=np.float32)
        self._pending = deque(
            np.zeros(self.action_layout.size, np.float32) for _ in range(self.action_latency_steps)
        )
        self._elapsed_steps = 0
        self._command_physics = 0
        self._needs_reset = False
        return self._observation(), {"is_success": False}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("step() called before reset() or after the episode ended; call reset()")
        vec = self.action_to_vector(action)
        self._prev_action = vec
        if self.action_latency_steps:
            self._pending.append(vec)
            vec = self._pending.popleft()
        self.robot.apply_action(vec)
        self.sim.step(self.timing.substeps)
        return self._end_step(vec)

    def apply_command(self, action: Any, physics_steps: int) -> FloatArray:
        """Part of a control step driven by a faster command stream (what a robot's driver sees).

        Validates and clips ``action`` like :meth:`step` (a discrete index is looked up in the
        table), sends it to the robot and advances ``physics_steps`` physics steps. Call it for
        each command tick of a control step, then :meth:`finish_step` once; the physics steps of
        one control step must add up to ``timing.substeps``. Returns the applied vector.

        Raises:
            ValueError: the env delays actions (``action_latency_steps`` > 0 models a slow robot
                in training, not a command stream), or more physics steps than a control step.
        """
        if self._needs_reset:
            raise RuntimeError("apply_command() called before reset() or after the episode ended")
        if self.action_latency_steps:
            raise InputError("apply_command() does not model action latency; use action_latency_steps=0")
        if physics_steps < 0 or self._command_physics + physics_steps > self.timing.substeps:
            raise InputError(
                f"{self._command_physics} + {physics_steps} physics steps exceed the control step's "
                f"{self.timing.substeps}"
            )
        vec = self.action_to_vector(action)
        self.robot.apply_action(vec)
        if physics_steps:
            self.sim.step(physics_steps)
        self._command_physics += physics_steps
        return vec

    def finish_step(self, previous_action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """End a control step made of :meth:`apply_command` calls; returns what :meth:`step` returns.

        Args:
            previous_action: The action of this step in the policy's units (the observation's
                ``previous_action``): the policy's action, not a fraction of it.

        Raises:
            ValueError: the commands did not cover exactly one control step of physics.
        """
        if self._command_physics != self.timing.substeps:
            raise ValueError(
                f"commands covered {self._command_physics} physics steps; "
                f"a control step has {self.timing.substeps}"
            )
        self._command_physics = 0
        vec = self.action_to_vector(previous_action)
        self._prev_action = vec
        return self._end_step(vec)

    def _end_step(self, vec: FloatArray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Count the step, evaluate the task and build the observation and info."""
        self._elapsed_steps += 1
        status = self.task.evaluate(vec)
        obs = self._observation()
        reward = status.reward
        if isinstance(self.task, GoalTask):
            reward = float(self.task.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}))
        truncated = not status.terminated and self._elapsed_steps >= self.max_episode_steps
        info: dict[str, Any] = {"is_success": bool(status.success)}
        info.update({f"reward_{k}": float(v) for k, v in status.components.items()})
        if status.terminated or truncated:
            self._needs_reset = True
            info["metrics"] = self.task.episode_metrics()
        return obs, float(reward), bool(status.terminated), bool(truncated), info

    def action_to_vector(self, action: Any) -> FloatArray:
        """Validate an action and return the clipped float32 vector the robot receives.

        Raises:
            ValueError: NaN/Inf entries, wrong shape, or an invalid discrete index.
        """
        if self._discrete_actions is not None:
            n = len(self._discrete_actions)
            arr = np.asarray(action)
            if arr.size != 1 or not np.issubdtype(arr.dtype, np.integer) or not 0 <= int(arr) < n:
                raise InputError(f"action must be an integer index in [0, {n - 1}], got {action!r}")
            return self._discrete_actions[int(arr)].copy()
        try:
            arr = np.asarray(action, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InputError(f"action must be numeric, got {action!r}") from exc
        expected = (self.action_layout.size,)
        if arr.shape != expected:
            raise InputError(
                f"action must have shape {expected} ({', '.join(self.action_layout.names)}), "
                f"got shape {arr.shape}"
            )
        if not np.isfinite(arr).all():
            bad = [int(i) for i in np.flatnonzero(~np.isfinite(arr))]
            names = [self._entry_name(i) for i in bad]
            raise InputError(
                f"action contains NaN or Inf at index {bad} ({', '.join(names)}): {arr.tolist()}"
            )
        return arr.clip(-1.0, 1.0)  # float32 stays float32: the bounds are Python floats

    def _entry_name(self, index: int) -> str:
        for f in self.action_layout.fields:
            sl = self.action_layout.slice(f.name)
            if sl.start <= index < sl.stop:
                return f.name if f.size == 1 else f"{f.name}[{index - sl.start}]"
        return str(index)

    def _observation(self) -> Any:
        values = {**self.robot.observe(), **self.task.observe(), PREVIOUS_ACTION: self._prev_action}
        flat = self.obs_layout.pack(values)
        if self.obs_noise_std > 0:
            flat += self.np_random.normal(0.0, self.obs_noise_std, flat.shape).astype(np.float32)
        # Clipped into the Box, so noisy or exploded values never leave the observation space.
        np.minimum(np.maximum(flat, self._obs_low, out=flat), self._obs_high, out=flat)
        if isinstance(self.task, GoalTask):
            achieved = self.task.achieved_goal().astype(np.float32)
            np.minimum(np.maximum(achieved, self._goal_low, out=achieved), self._goal_high, out=achieved)
            return {
                "observation": flat,
                "achieved_goal": achieved,
                "desired_goal": self.task.desired_goal().astype(np.float32),
            }
        return flat

    def render(self) -> NDArray[np.uint8] | None:  # type: ignore[override]
        if self.render_mode == "rgb_array":
            return self.render_rgb()
        return None  # "human": the PyBullet GUI window draws itself

    def render_rgb(self) -> NDArray[np.uint8]:
        """An HxWx3 uint8 frame; subclasses choose the camera."""
        raise NotImplementedError(f"{type(self).__name__} does not implement render_rgb()")

    def close(self) -> None:
        self.sim.close()


# ---------------------------------------------------------------------- argument checks
def check_choice(name: str, value: Any, accepted: list[Any]) -> None:
    """Raise ``ValueError`` naming ``name`` and the accepted values if ``value`` is not one."""
    if value not in accepted:
        raise InputError(f"{name}={value!r} is not accepted; choose one of {accepted}")


def check_range(name: str, value: Any, low: float | None = None, high: float | None = None) -> None:
    """Raise ``ValueError`` if ``value`` is not a finite number in [low, high]."""
    ok = isinstance(value, int | float | np.floating | np.integer) and np.isfinite(value)
    if ok and low is not None and value < low:
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise InputError(f"{name}={value!r} is not accepted; expected a finite number in [{lo}, {hi}]")
