"""Training configuration: typed pydantic models loaded from YAML and validated strictly.

A config is a YAML file or the name of a shipped one (``grasp_ppo``: ``launch/grasp_ppo.yaml`` in
the repository, installed inside the package; ``robot-rl configs`` lists them).

A config has ``name`` and the sections ``env``, ``algo``, ``train`` and (optional) ``distill``; see
``docs/training.md``.
Every key is checked against the model's fields, every value against its type (and the
``Literal`` choices), so a typo fails *before* anything is written, with a message naming the key
and what is accepted. ``--set section.key=value`` overrides are applied to the raw mapping first
(values parsed as YAML by :mod:`robot_rl.configfile`, the one parser of every config:
``--set train.total_timesteps=2e4``, ``--set env.kwargs.split=val``,
``--set train.demo_controller=null``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator

from robot_rl.configfile import Int, StrictModel, apply_overrides, read_yaml_mapping, validate
from robot_rl.errors import InputError

__all__ = [
    "OFF_POLICY",
    "AlgoConfig",
    "AlgoName",
    "Config",
    "DistillConfig",
    "EnvConfig",
    "HerConfig",
    "NormalizeConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "dump_config",
    "load_config",
]

AlgoName = Literal["ppo", "sac", "td3", "tqc", "dqn"]
OFF_POLICY: frozenset[str] = frozenset({"sac", "td3", "tqc", "dqn"})


class NormalizeConfig(StrictModel):
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


class EnvConfig(StrictModel):
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
    kwargs: dict[str, Any] = Field(default_factory=dict)
    eval_kwargs: dict[str, Any] = Field(default_factory=dict)
    n_envs: Int = Field(default=1, ge=1)
    vec_env: Literal["dummy", "subproc"] = "dummy"
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)


class HerConfig(StrictModel):
    """Hindsight Experience Replay (goal envs with Dict observations, off-policy algorithms only).

    Attributes:
        enabled: Use ``HerReplayBuffer``.
        n_sampled_goal: Relabelled goals per real transition.
        goal_selection_strategy: ``future``, ``final`` or ``episode``.
    """

    enabled: bool = False
    n_sampled_goal: Int = Field(default=4, ge=1)
    goal_selection_strategy: Literal["future", "final", "episode"] = "future"


class AlgoConfig(StrictModel):
    """The learner.

    Attributes:
        name: ``ppo``, ``sac``, ``td3``, ``tqc`` (sb3-contrib) or ``dqn``.
        kwargs: Constructor arguments of the SB3 class (``learning_rate``, ``batch_size``, ...);
            checked against the class signature.
        policy_kwargs: ``net_arch``, ``activation_fn`` (``relu``/``tanh``/``elu``/``leaky_relu``),
            ``features_extractor`` (``depth_cnn``: :class:`robot_rl.nets.DepthCnnExtractor` for
            depth-image observations) with ``features_extractor_kwargs``, ...
        her: Hindsight Experience Replay settings.
    """

    name: AlgoName = "ppo"
    kwargs: dict[str, Any] = Field(default_factory=dict)
    policy_kwargs: dict[str, Any] = Field(default_factory=dict)
    her: HerConfig = Field(default_factory=HerConfig)


class TrainConfig(StrictModel):
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
        eval_workers: Processes that run an evaluation's episodes (0: one per CPU core, at most 4
            and at most one per 4 episodes; 1: in the training process). Training waits during an
            evaluation, so the workers use the cores it leaves idle; the results are the same for
            any number.
        eval_seed: First seed of evaluation episodes (held out: training envs use ``seed + i``).
        collect_while_training: Off-policy learners with ``env.vec_env: subproc``: run the
            gradient steps while the env workers step (both cores busy); the action of step ``t``
            then comes from the policy one update older (:mod:`robot_rl.train.overlap`).
        success_threshold: Success rate counted as "solved" (reported; used by ``stop_on_success``).
        metric_thresholds: Extra task-metric minimums an evaluation must also reach to count as
            solved, e.g. ``{spl: 0.8}`` for navigation.
        stop_on_success: Stop training once an evaluation is solved (threshold and metrics).
        log_interval_s: Seconds between plain progress lines when stderr is not a terminal.
        max_wall_time_s: Stop training after this much wall time in seconds (0: no limit).
        demo_controller: ``"module:Class"`` of a scripted controller whose episodes seed the
            replay buffer of an off-policy learner before training (``null`` or ``""``: none, the
            warm start is off); see :mod:`robot_rl.train.demos`.
        demo_episodes: Number of demonstration episodes (counted in the env steps; 0: the warm
            start is off). Off-policy learners get them in the replay buffer, PPO is
            behaviour-cloned on them first.
        bc_epochs: Behaviour-cloning epochs over the demonstrations (PPO only).
        report_env_kwargs: Further held-out evaluations ``robot-rl bench train`` reports beside
            the main one, each a dict of env kwargs over the evaluation's (e.g.
            ``[{object_set: cube}, {object_set: random_test}]``); never used for selection.
    """

    total_timesteps: Int = Field(default=100_000, ge=1)
    seed: Int = Field(default=0, ge=0)
    device: str = "cpu"
    torch_threads: Int = Field(default=1, ge=0)
    checkpoint_freq: Int = Field(default=20_000, ge=1)
    keep_checkpoints: Int = Field(default=2, ge=1)
    eval_freq: Int = Field(default=10_000, ge=0)
    eval_episodes: Int = Field(default=20, ge=1)
    eval_workers: Int = Field(default=0, ge=0)
    eval_seed: Int = Field(default=1_000_000, ge=0)
    collect_while_training: bool = False
    success_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    metric_thresholds: dict[str, float] = Field(default_factory=dict)
    stop_on_success: bool = False
    log_interval_s: float = Field(default=30.0, gt=0.0)
    max_wall_time_s: float = Field(default=0.0, ge=0.0)
    demo_controller: str | None = None
    demo_episodes: Int = Field(default=0, ge=0)
    bc_epochs: Int = Field(default=20, ge=0)
    report_env_kwargs: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("demo_controller")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def warm_start(self) -> bool:
        """Whether demonstrations run before learning (a controller and at least one episode)."""
        return bool(self.demo_controller) and self.demo_episodes > 0


class DistillConfig(StrictModel):
    """Teacher-student distillation by DAgger before (optional) RL fine-tuning; see
    :mod:`robot_rl.train.dagger`.

    Attributes:
        enabled: Run DAgger first (its env steps count in ``train.total_timesteps``; the rest, if
            any, is the learner's own fine-tuning).
        teacher: The privileged teacher: ``"module:Class"`` (``Class(state_layout)``,
            ``reset()``, ``__call__(privileged_obs)``; the default is the scripted controller), or
            the exported bundle of a state policy of the same env, ``"zoo:grasp_ppo"`` or a
            bundle directory (:class:`robot_rl.train.dagger.BundleTeacher`).
        iterations: DAgger iterations.
        steps_per_iteration: Env steps (all envs together) collected per iteration.
        beta_decay: The teacher drives with probability ``beta_decay ** iteration``.
        epochs: Passes over the aggregated dataset per iteration.
        batch_size: Minibatch size of the imitation regression.
        learning_rate: Adam learning rate of the imitation regression.
        max_samples: Aggregated dataset size (newest kept).
        eval_episodes: Held-out episodes evaluated after each iteration (``train.eval_seed``).
    """

    enabled: bool = False
    teacher: str = "robot_rl.envs.scripted.grasp_controller:ScriptedGraspController"
    iterations: Int = Field(default=10, ge=1)
    steps_per_iteration: Int = Field(default=2000, ge=1)
    beta_decay: float = Field(default=0.5, ge=0.0, le=1.0)
    epochs: Int = Field(default=4, ge=1)
    batch_size: Int = Field(default=256, ge=1)
    learning_rate: float = Field(default=3e-4, gt=0.0)
    max_samples: Int = Field(default=50_000, ge=1)
    eval_episodes: Int = Field(default=20, ge=1)

    @property
    def steps(self) -> int:
        """Env steps DAgger takes in all (rounded up to whole vectorized steps by the rollout)."""
        return self.iterations * self.steps_per_iteration


class Config(StrictModel):
    """A complete training configuration (one YAML file, e.g. the shipped ``grasp_ppo``)."""

    name: str = "run"
    env: EnvConfig = Field(default_factory=EnvConfig)
    algo: AlgoConfig = Field(default_factory=AlgoConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (what ``config.yaml`` holds)."""
        return self.model_dump()


# ---------------------------------------------------------------------- loading
def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config, apply ``key=value`` overrides and validate.

    Args:
        path: A YAML file, or the name of a shipped training config (``grasp_ppo``; see
            :func:`robot_rl.resources.resolve_config`).
        overrides: ``section.key=value`` strings, applied in order.

    Raises:
        MissingInputError: The file does not exist, or the name is no shipped training config.
        InputError: Malformed YAML, an unknown key, or a value of the wrong type/choice.
    """
    from robot_rl.resources import resolve_config

    raw = read_yaml_mapping(
        resolve_config(path, "train"), "config file", "robot-rl configs lists the shipped ones"
    )
    return config_from_dict(apply_overrides(raw, overrides))


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Validate a nested mapping into a :class:`Config` (see :func:`load_config`)."""
    cfg = validate(Config, raw)
    _check_semantics(cfg)
    return cfg


def _check_semantics(cfg: Config) -> None:
    """Cross-field checks that the types alone cannot express."""
    if not cfg.env.id:
        raise InputError("env.id is required (a Gymnasium id such as robot_rl/PandaGrasp-v0)")
    if cfg.algo.her.enabled and cfg.algo.name not in OFF_POLICY - {"dqn"}:
        raise InputError(
            f"algo.her.enabled=true needs an off-policy continuous learner; "
            f"algo.name={cfg.algo.name!r}, choose one of ['sac', 'td3', 'tqc']"
        )
    t = cfg.train
    if t.collect_while_training:
        from robot_rl.train.overlap import check

        check(cfg.algo.name, cfg.env.vec_env)
    if t.demo_episodes > 0 and "demo_controller" not in t.model_fields_set:
        raise InputError(
            f"train.demo_episodes={t.demo_episodes} > 0 and train.demo_controller ('module:Class') go "
            "together; give the controller, or demo_controller: null / demo_episodes: 0 for no warm start"
        )
    act = cfg.algo.policy_kwargs.get("activation_fn")
    if act is not None:
        from robot_rl.runs import ACTIVATIONS

        if act not in ACTIVATIONS:
            raise InputError(
                f"algo.policy_kwargs.activation_fn={act!r} is not accepted; choose one of "
                f"{list(ACTIVATIONS)} (the activations robot-rl export implements in ONNX, TorchScript and C)"
            )
    if cfg.distill.enabled:
        if cfg.env.normalize.enabled:
            raise InputError(
                "distill.enabled=true needs env.normalize.enabled=false: the student's network scales its "
                "own input, and the teacher's labels are actions, not normalized values"
            )
        if cfg.algo.name != "ppo":
            raise InputError(
                "distill.enabled=true trains a PPO policy (fine-tunable afterwards); "
                f"algo.name={cfg.algo.name!r}, choose ppo"
            )
        if cfg.train.warm_start:
            raise InputError("distill and the demonstration warm start (train.demo_*) exclude each other")
        if cfg.distill.steps > cfg.train.total_timesteps:
            raise InputError(
                f"train.total_timesteps={cfg.train.total_timesteps} is below the DAgger steps "
                f"distill.iterations x distill.steps_per_iteration = {cfg.distill.steps}, which count in it"
            )
    extractor = cfg.algo.policy_kwargs.get("features_extractor")
    if extractor is not None:
        from robot_rl.nets import FEATURES_EXTRACTORS

        if extractor not in FEATURES_EXTRACTORS:
            raise InputError(
                f"algo.policy_kwargs.features_extractor={extractor!r} is not accepted; choose one of "
                f"{list(FEATURES_EXTRACTORS)} (the networks robot-rl export implements)"
            )
    if "features_extractor_class" in cfg.algo.policy_kwargs:
        raise InputError(
            "algo.policy_kwargs.features_extractor_class is not accepted in a config; name the extractor "
            "with features_extractor (see robot_rl.nets.FEATURES_EXTRACTORS)"
        )
    if not cfg.name or "/" in cfg.name:
        raise InputError(f"name={cfg.name!r} is not accepted; expected a non-empty name without '/'")


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML text (round-trips through :func:`config_from_dict`)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
