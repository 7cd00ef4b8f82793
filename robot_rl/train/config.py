"""Training configuration: typed dataclasses loaded from YAML and validated strictly.

A config is a YAML file or the name of a shipped one (``grasp_ppo``: ``launch/grasp_ppo.yaml`` in
the repository, installed inside the package; ``robot-rl configs`` lists them).

A config has four sections (``name`` plus ``env``, ``algo``, ``train``); see ``docs/training.md``.
Every key is checked against the dataclass fields, every value against its type (and the
``Literal`` choices), so a typo fails *before* anything is written, with a message naming the key
and what is accepted. ``--set section.key=value`` overrides are applied to the raw mapping first
(values parsed as YAML, so ``--set train.total_timesteps=2e4`` or ``--set env.kwargs.split=val``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

AlgoName = Literal["ppo", "sac", "td3", "tqc", "dqn"]
OFF_POLICY: frozenset[str] = frozenset({"sac", "td3", "tqc", "dqn"})


@dataclass
class NormalizeConfig:
    """``VecNormalize`` settings (running mean/std of observations and, optionally, returns).

    Attributes:
        enabled: Wrap the vectorized env in ``VecNormalize``.
        norm_obs: Normalize observations ((obs - mean) / sqrt(var + epsilon), clipped).
        norm_reward: Scale rewards by the running std of the discounted return (training only).
        clip_obs: Clip of normalized observations (in std units).
        clip_reward: Clip of normalized rewards.
    """

    enabled: bool = False
    norm_obs: bool = True
    norm_reward: bool = True
    clip_obs: float = 10.0
    clip_reward: float = 10.0


@dataclass
class EnvConfig:
    """Which environment, how many copies, and how they are vectorized.

    Attributes:
        id: Gymnasium id, e.g. ``robot_rl/PandaGrasp-v0`` or ``Pendulum-v1``.
        kwargs: Constructor keyword arguments for the training envs.
        eval_kwargs: Overrides of ``kwargs`` for evaluation envs (e.g. ``{split: val}``).
        n_envs: Number of parallel environments.
        vec_env: ``subproc`` (one process per env) or ``dummy`` (all in this process).
        normalize: Observation/reward normalization.
    """

    id: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    eval_kwargs: dict[str, Any] = field(default_factory=dict)
    n_envs: int = 1
    vec_env: Literal["dummy", "subproc"] = "dummy"
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)


@dataclass
class HerConfig:
    """Hindsight Experience Replay (goal envs with Dict observations, off-policy algorithms only).

    Attributes:
        enabled: Use ``HerReplayBuffer``.
        n_sampled_goal: Relabelled goals per real transition.
        goal_selection_strategy: ``future``, ``final`` or ``episode``.
    """

    enabled: bool = False
    n_sampled_goal: int = 4
    goal_selection_strategy: Literal["future", "final", "episode"] = "future"


@dataclass
class AlgoConfig:
    """The learner.

    Attributes:
        name: ``ppo``, ``sac``, ``td3``, ``tqc`` (sb3-contrib) or ``dqn``.
        kwargs: Constructor arguments of the SB3 class (``learning_rate``, ``batch_size``, ...);
            checked against the class signature.
        policy_kwargs: ``net_arch``, ``activation_fn`` (``relu``/``tanh``/``elu``/``leaky_relu``), ...
        her: Hindsight Experience Replay settings.
    """

    name: AlgoName = "ppo"
    kwargs: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    her: HerConfig = field(default_factory=HerConfig)


@dataclass
class TrainConfig:
    """Budget, seeding, checkpoints and evaluation during training.

    Attributes:
        total_timesteps: Environment steps (summed over all envs) to train for.
        seed: Seed of the learner and of env ``i`` (``seed + i``).
        device: Torch device (``cpu``, ``cuda``, ``auto``).
        torch_threads: ``torch.set_num_threads`` (0 keeps torch's default).
        checkpoint_freq: Env steps between checkpoints (model, normalization, replay buffer).
        keep_checkpoints: How many checkpoints to keep on disk (older ones are deleted).
        eval_freq: Env steps between evaluations on held-out episodes (0 disables).
        eval_episodes: Episodes per evaluation.
        eval_seed: First seed of evaluation episodes (held out: training envs use ``seed + i``).
        success_threshold: Success rate counted as "solved" (reported; used by ``stop_on_success``).
        metric_thresholds: Extra task-metric minimums an evaluation must also reach to count as
            solved, e.g. ``{spl: 0.8}`` for navigation.
        stop_on_success: Stop training once an evaluation is solved (threshold and metrics).
        log_interval_s: Seconds between plain progress lines when stderr is not a terminal.
        max_wall_time_s: Stop training after this much wall time in seconds (0: no limit).
        demo_controller: ``"module:Class"`` of a scripted controller whose episodes seed the
            replay buffer of an off-policy learner before training ("" = none); see
            :mod:`robot_rl.train.demos`.
        demo_episodes: Number of demonstration episodes (counted in the env steps). Off-policy
            learners get them in the replay buffer, PPO is behaviour-cloned on them first.
        bc_epochs: Behaviour-cloning epochs over the demonstrations (PPO only).
    """

    total_timesteps: int = 100_000
    seed: int = 0
    device: str = "cpu"
    torch_threads: int = 1
    checkpoint_freq: int = 20_000
    keep_checkpoints: int = 2
    eval_freq: int = 10_000
    eval_episodes: int = 20
    eval_seed: int = 1_000_000
    success_threshold: float = 0.9
    metric_thresholds: dict[str, float] = field(default_factory=dict)
    stop_on_success: bool = False
    log_interval_s: float = 30.0
    max_wall_time_s: float = 0.0
    demo_controller: str = ""
    demo_episodes: int = 0
    bc_epochs: int = 20


@dataclass
class Config:
    """A complete training configuration (one YAML file, e.g. the shipped ``grasp_ppo``)."""

    name: str = "run"
    env: EnvConfig = field(default_factory=EnvConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (what ``config.yaml`` holds)."""
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------- loading
def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config, apply ``key=value`` overrides and validate.

    Args:
        path: A YAML file, or the name of a shipped training config (``grasp_ppo``; see
            :func:`robot_rl.resources.resolve_config`).
        overrides: ``section.key=value`` strings, applied in order.

    Raises:
        FileNotFoundError: The file does not exist, or the name is no shipped training config.
        ValueError: Malformed YAML, an unknown key, or a value of the wrong type/choice.
    """
    from robot_rl.resources import resolve_config

    raw = read_yaml_mapping(
        resolve_config(path, "train"), "config file", "robot-rl configs lists the shipped ones"
    )
    return config_from_dict(apply_overrides(raw, overrides))


def read_yaml_mapping(path: str | Path, what: str, hint: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file (a training config, a sweep file).

    Raises:
        FileNotFoundError: No such file (the message names ``what`` and gives ``hint``).
        ValueError: Not valid YAML, or not a mapping at the top level.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} not found ({hint})")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``a.b.c=value`` overrides applied (value parsed as YAML)."""
    import copy

    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value (e.g. train.total_timesteps=20000), got {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"--set {item!r}: value is not valid YAML: {exc}") from exc
        value = number_or_text(value)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ValueError(f"--set {item!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return out


def number_or_text(value: Any) -> Any:
    """YAML reads ``2e4`` as text; on the command line it is meant as the number 20000.0."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Validate a nested mapping into a :class:`Config` (see :func:`load_config`)."""
    cfg = _build(Config, raw, "")
    _check_semantics(cfg)
    return cfg


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ValueError(f"{prefix or 'config'} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        where = prefix.rstrip(".") or "top level"
        raise ValueError(f"unknown key {prefix}{unknown[0]!r} ({where}); accepted keys: {', '.join(names)}")
    values = {k: _coerce(hints[k], v, f"{prefix}{k}") for k, v in raw.items()}
    return cls(**values)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value if value is not None else {}, key + ".")  # type: ignore[arg-type]
    if origin is Literal:
        choices = list(get_args(tp))
        if value not in choices:
            raise ValueError(f"{key}={value!r} is not accepted; choose one of {choices}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return None if value is None else _coerce(args[0], value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key}={value!r} is not accepted; expected true or false")
        return value
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # YAML reads 1e5 as a float
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{key}={value!r} is not accepted; expected an integer")
        return value
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{key}={value!r} is not accepted; expected a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{key}={value!r} is not accepted; expected a string")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{key}={value!r} is not accepted; expected a mapping")
        return dict(value)
    raise TypeError(f"config field {key} has unsupported type {tp!r}")  # programming error


def _check_semantics(cfg: Config) -> None:
    """Cross-field checks that the types alone cannot express."""
    if not cfg.env.id:
        raise ValueError("env.id is required (a Gymnasium id such as robot_rl/PandaGrasp-v0)")
    positive = {
        "env.n_envs": cfg.env.n_envs,
        "train.total_timesteps": cfg.train.total_timesteps,
        "train.checkpoint_freq": cfg.train.checkpoint_freq,
        "train.keep_checkpoints": cfg.train.keep_checkpoints,
        "train.eval_episodes": cfg.train.eval_episodes,
    }
    for key, value in positive.items():
        if value < 1:
            raise ValueError(f"{key}={value!r} is not accepted; expected an integer >= 1")
    for key, value in {
        "train.eval_freq": cfg.train.eval_freq,
        "train.torch_threads": cfg.train.torch_threads,
    }.items():
        if value < 0:
            raise ValueError(f"{key}={value!r} is not accepted; expected an integer >= 0")
    if not 0.0 <= cfg.train.success_threshold <= 1.0:
        raise ValueError(f"train.success_threshold={cfg.train.success_threshold!r}; expected in [0, 1]")
    if cfg.algo.her.enabled and cfg.algo.name not in OFF_POLICY - {"dqn"}:
        raise ValueError(
            f"algo.her.enabled=true needs an off-policy continuous learner; "
            f"algo.name={cfg.algo.name!r}, choose one of ['sac', 'td3', 'tqc']"
        )
    if cfg.train.demo_episodes < 0 or (cfg.train.demo_episodes > 0) != bool(cfg.train.demo_controller):
        raise ValueError(
            "train.demo_episodes > 0 and train.demo_controller ('module:Class') go together; "
            f"got demo_episodes={cfg.train.demo_episodes}, demo_controller={cfg.train.demo_controller!r}"
        )
    act = cfg.algo.policy_kwargs.get("activation_fn")
    if act is not None:
        from robot_rl.runs import ACTIVATIONS

        if act not in ACTIVATIONS:
            raise ValueError(
                f"algo.policy_kwargs.activation_fn={act!r} is not accepted; choose one of "
                f"{list(ACTIVATIONS)} (the activations robot-rl export implements in ONNX, TorchScript and C)"
            )
    if not cfg.name or "/" in cfg.name:
        raise ValueError(f"name={cfg.name!r} is not accepted; expected a non-empty name without '/'")


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML text (round-trips through :func:`config_from_dict`)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
