"""Stable-Baselines3 glue: learner factory, vectorized envs, normalization and monitoring.

* :func:`~robot_rl.runs.algo_class` (re-exported here) maps ``ppo``/``sac``/``td3``/``dqn`` (SB3) and ``tqc``
  (sb3-contrib) to classes.
* :func:`make_vec_env` builds ``n_envs`` seeded copies, each ``Monitor``-wrapped so that the
  episode CSVs carry ``is_success`` and every task metric of ``info["metrics"]`` (flattened to
  ``metric_<name>`` by :class:`FlattenMetrics`), in a ``SubprocVecEnv`` or ``DummyVecEnv``.
* :func:`make_model` creates the learner from a :class:`~robot_rl.train.config.Config`, with
  ``HerReplayBuffer`` for goal envs, and validates ``algo.kwargs`` against the class signature.
"""

from __future__ import annotations

import inspect
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnvWrapper

from robot_rl.errors import InputError
from robot_rl.runs import ACTIVATIONS, algo_class
from robot_rl.train.config import Config

METRIC_PREFIX = "metric_"
#: Arguments the factory sets itself; not accepted in ``algo.kwargs``.
RESERVED_KWARGS = frozenset(
    {"policy", "env", "seed", "device", "verbose", "tensorboard_log", "policy_kwargs", "_init_setup_model"}
)


class FlattenMetrics(gym.Wrapper[Any, Any, Any, Any]):
    """Copy ``info["metrics"]`` entries to ``info["metric_<name>"]`` on the last step of an episode.

    ``Monitor`` needs its ``info_keywords`` fixed up front; keys listed in ``metric_keys`` but
    missing at an episode end are filled with NaN. ``is_success`` defaults to ``False`` for
    envs that do not report it (plain Gymnasium envs).
    """

    def __init__(self, env: gym.Env[Any, Any], metric_keys: tuple[str, ...]) -> None:
        super().__init__(env)
        self.metric_keys = metric_keys

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info.setdefault("is_success", False)
        if terminated or truncated:
            metrics = info.get("metrics") or {}
            for key in self.metric_keys:
                info[METRIC_PREFIX + key] = float(metrics.get(key, np.nan))
        return obs, reward, terminated, truncated, info


def probe_metric_keys(env: gym.Env[Any, Any]) -> tuple[str, ...]:
    """Names of the task metrics an env reports (``task.episode_metrics()`` after a reset)."""
    task = getattr(env.unwrapped, "task", None)
    if task is None or not hasattr(task, "episode_metrics"):
        return ()
    try:
        env.reset(seed=0)
        return tuple(sorted(task.episode_metrics()))
    except Exception:  # a task may not report metrics before an episode has run
        return ()


def make_env_fn(
    env_id: str,
    kwargs: dict[str, Any],
    seed: int,
    monitor_file: str | None,
    render_mode: str | None = None,
    ignore_sigint: bool = False,
) -> Callable[[], gym.Env[Any, Any]]:
    """A picklable thunk building one monitored env (run in the worker process for subproc)."""

    def _init() -> gym.Env[Any, Any]:
        from stable_baselines3.common.monitor import Monitor

        import robot_rl  # noqa: F401  (registers the robot_rl/... ids in the worker)

        # Ctrl-C goes to the whole process group; only the main process handles it (checkpoint).
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        env = (
            gym.make(env_id, render_mode=render_mode, **kwargs) if render_mode else gym.make(env_id, **kwargs)
        )
        keys = probe_metric_keys(env)
        env = FlattenMetrics(env, keys)
        env = Monitor(
            env,
            filename=monitor_file,
            info_keywords=("is_success", *(METRIC_PREFIX + k for k in keys)),
        )
        env.reset(seed=seed)
        env.action_space.seed(seed)
        return env

    return _init


class Float32Rewards(VecEnvWrapper):
    """Rewards as float32, as ``DummyVecEnv`` stores them: ``SubprocVecEnv`` stacks the workers'
    Python floats as float64, and that last-bit difference in rewards (and so in returns and
    every update after) made the same seed train differently with ``vec_env: subproc`` and
    ``dummy``. With it, the choice of vec env changes the speed of a run, never its results."""

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        return obs, rewards.astype(np.float32), dones, infos


def make_vec_env(
    env_id: str,
    kwargs: dict[str, Any],
    n_envs: int,
    seed: int,
    vec_env: str = "dummy",
    monitor_dir: Path | None = None,
) -> Any:
    """``n_envs`` monitored copies of an env, env ``i`` seeded with ``seed + i``.

    Raises:
        ValueError: Unknown ``vec_env`` or an env id/kwargs that Gymnasium rejects.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    subproc = vec_env == "subproc" and n_envs > 1
    fns = [
        make_env_fn(
            env_id,
            kwargs,
            seed + i,
            str(monitor_dir / f"env{i}") if monitor_dir else None,
            ignore_sigint=subproc,
        )
        for i in range(n_envs)
    ]
    venv: Any
    try:
        if subproc:
            venv = Float32Rewards(SubprocVecEnv(fns, start_method="forkserver"))
        elif vec_env in ("dummy", "subproc"):
            venv = DummyVecEnv(fns)
        else:
            raise InputError(f"env.vec_env={vec_env!r} is not accepted; choose one of ['dummy', 'subproc']")
    except gym.error.Error as exc:
        raise InputError(f"cannot make env {env_id!r} with kwargs {kwargs}: {exc}") from exc
    venv.seed(seed)
    return venv


def wrap_normalize(venv: Any, cfg: Config, load_path: Path | None = None, training: bool = True) -> Any:
    """Wrap in ``VecNormalize`` when ``env.normalize.enabled`` (loading statistics if given)."""
    from stable_baselines3.common.vec_env import VecNormalize

    norm = cfg.env.normalize
    if not norm.enabled:
        return venv
    if load_path is not None:
        wrapped = VecNormalize.load(str(load_path), venv)
    else:
        gamma = float(cfg.algo.kwargs.get("gamma", 0.99))
        wrapped = VecNormalize(
            venv,
            norm_obs=norm.norm_obs,
            norm_reward=norm.norm_reward,
            clip_obs=norm.clip_obs,
            clip_reward=norm.clip_reward,
            gamma=gamma,
            # Dict spaces: the vector parts (goal envs: observation and goals; depth: proprio);
            # images are scaled inside the network instead (robot_rl.nets)
            norm_obs_keys=[k for k, s in venv.observation_space.spaces.items() if len(s.shape or ()) == 1]
            if isinstance(venv.observation_space, spaces.Dict)
            else None,
        )
    wrapped.training = training
    if not training:
        wrapped.norm_reward = False
    return wrapped


def _policy_kwargs(raw: dict[str, Any]) -> dict[str, Any]:
    import torch.nn as nn

    from robot_rl.nets import FEATURES_EXTRACTORS

    out = dict(raw)
    act = out.get("activation_fn")
    if act is not None:  # validated by the config (robot_rl.train.config): an exportable one
        out["activation_fn"] = getattr(nn, ACTIVATIONS[act])
    extractor = out.pop("features_extractor", None)
    if extractor is not None:  # validated by the config too: a name of robot_rl.nets
        out["features_extractor_class"] = FEATURES_EXTRACTORS[extractor]
    return out


def algo_kwargs(cfg: Config, action_space: spaces.Space[Any]) -> dict[str, Any]:
    """Validated constructor kwargs from ``algo.kwargs`` (YAML lists -> tuples, noise objects).

    Raises:
        ValueError: A key the class does not accept, or one the factory sets itself.
    """
    from stable_baselines3.common.noise import NormalActionNoise

    cls = algo_class(cfg.algo.name)
    accepted = sorted(set(inspect.signature(cls.__init__).parameters) - RESERVED_KWARGS - {"self"})
    out: dict[str, Any] = {}
    for key, value in cfg.algo.kwargs.items():
        if key not in accepted:
            raise InputError(
                f"unknown key algo.kwargs.{key} for {cfg.algo.name}; accepted keys: {', '.join(accepted)}"
            )
        out[key] = tuple(value) if isinstance(value, list) else value
    noise = out.get("action_noise")
    if noise is not None:
        if not isinstance(noise, int | float) or not isinstance(action_space, spaces.Box):
            raise InputError(
                f"algo.kwargs.action_noise={noise!r}; expected the std of Gaussian noise (float)"
            )
        dim = action_space.shape[0]
        out["action_noise"] = NormalActionNoise(np.zeros(dim), float(noise) * np.ones(dim))
    return out


def make_model(cfg: Config, venv: Any, tensorboard_log: str | None = None) -> Any:
    """Create the learner for ``cfg`` on ``venv`` (HER replay buffer for goal envs when enabled;
    :mod:`robot_rl.train.overlap`'s class with ``train.collect_while_training``)."""
    cls = algo_class(cfg.algo.name)
    if cfg.train.collect_while_training:
        from robot_rl.train.overlap import overlapped_class

        cls = overlapped_class(cls)
    kwargs = algo_kwargs(cfg, venv.action_space)
    goal_env = isinstance(venv.observation_space, spaces.Dict)
    if cfg.algo.her.enabled:
        if not goal_env:
            raise InputError(
                f"algo.her.enabled=true needs a goal env with Dict observations; {cfg.env.id} is not"
            )
        from stable_baselines3 import HerReplayBuffer

        kwargs["replay_buffer_class"] = HerReplayBuffer
        kwargs["replay_buffer_kwargs"] = {
            "n_sampled_goal": cfg.algo.her.n_sampled_goal,
            "goal_selection_strategy": cfg.algo.her.goal_selection_strategy,
        }
    try:
        return cls(
            "MultiInputPolicy" if isinstance(venv.observation_space, spaces.Dict) else "MlpPolicy",
            venv,
            seed=cfg.train.seed,
            device=cfg.train.device,
            verbose=0,
            tensorboard_log=tensorboard_log,
            policy_kwargs=_policy_kwargs(cfg.algo.policy_kwargs),
            **kwargs,
        )
    except (AssertionError, TypeError) as exc:
        raise InputError(f"{cfg.algo.name} rejected the config: {exc}") from exc


def is_goal_space(space: spaces.Space[Any]) -> bool:
    """Whether observations are the ``observation``/``achieved_goal``/``desired_goal`` Dict of goal envs."""
    return isinstance(space, spaces.Dict) and {"achieved_goal", "desired_goal"} <= set(space.spaces)
