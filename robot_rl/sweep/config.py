"""The sweep file: which training config, what to vary, how many seeds, what to optimize.

A sweep file (a YAML file, or a shipped sweep by name: ``sweep_nav_ppo_lr``) looks like::

    name: nav_ppo_lr
    base: nav_ppo                       # a training config: a shipped name, or a file relative to this one
    set: {train.total_timesteps: 200000, train.eval_freq: 20000}   # for every trial
    params:                             # what varies (dotted keys of the training config)
      algo.kwargs.learning_rate: {loguniform: [1.0e-4, 3.0e-3]}
      algo.kwargs.n_epochs: {choice: [5, 10, 20]}
      algo.kwargs.gamma: [0.98, 0.99]   # a plain list is a grid
    search: optuna                      # grid | random | optuna
    samples: 12                         # configurations to try (random, optuna)
    seeds: 2                            # each configuration is trained with this many seeds
    metric: spl                         # success_rate, return_mean, length_mean or a task metric
    mode: max
    scheduler: {type: asha, grace_period: 40000, reduction_factor: 2}   # or median, none
    max_concurrent: 0                   # 0: as many trials as the CPUs allow
    resources: {cpu: 1}                 # per trial
    max_failures: 2                     # retries of a trial whose process died
    time_budget_min: 0                  # 0: no limit

Everything is validated before Ray starts or a directory is written: unknown keys, a parameter
that is not a key of the training config, values of the wrong type, a metric the env does not
report. Nothing here imports Ray.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field

from robot_rl.configfile import (
    Int,
    StrictModel,
    apply_overrides,
    format_value,
    read_yaml_mapping,
    validate,
)
from robot_rl.errors import InputError, MissingInputError
from robot_rl.resources import config_arg, looks_like_path, resolve_config
from robot_rl.train.config import Config, config_from_dict, load_config

#: metrics every evaluation reports; task metrics (``spl``, ...) come on top, per env
BASE_METRICS = ("success_rate", "return_mean", "length_mean")


@dataclass(frozen=True)
class Param:
    """One varied parameter.

    Attributes:
        key: Dotted key of the training config, e.g. ``algo.kwargs.learning_rate``.
        kind: ``grid``/``choice`` (``values``), ``uniform``/``loguniform`` (floats in
            ``[low, high]``) or ``int`` (integers in ``[low, high]``, both included).
        values: The choices (grid, choice).
        low: Lower bound (uniform, loguniform, int).
        high: Upper bound (uniform, loguniform, int).
    """

    key: str
    kind: str
    values: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0

    @property
    def discrete(self) -> bool:
        """Whether the parameter has a finite list of values."""
        return self.kind in ("grid", "choice")

    @property
    def log(self) -> bool:
        """Whether the parameter is searched on a log scale (and best plotted on one)."""
        return self.kind == "loguniform"

    def extremes(self) -> list[Any]:
        """Values that span the parameter (checked against the training config up front)."""
        if self.discrete:
            return list(self.values)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [float(self.low), float(self.high)]

    def sample(self, rng: np.random.Generator) -> Any:
        """One random value."""
        if self.discrete:
            return self.values[int(rng.integers(len(self.values)))]
        if self.kind == "int":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class Scheduler:
    """Early stopping of bad trials, measured in env steps.

    Attributes:
        type: ``asha`` (asynchronous successive halving), ``median`` (stop a trial whose best
            result is below the median of the others at the same step) or ``none``.
        grace_period: Env steps every trial trains before it can be stopped.
        reduction_factor: ASHA: keep the best 1/``reduction_factor`` of trials at each rung.
        min_samples: Median rule: trials needed at a step before it compares.
    """

    type: str = "none"
    grace_period: int = 0
    reduction_factor: int = 3
    min_samples: int = 3


@dataclass
class SweepConfig:
    """A validated sweep file (see the module docstring for the format)."""

    name: str
    base: Path
    set: dict[str, Any] = field(default_factory=dict)
    params: tuple[Param, ...] = ()
    search: str = "grid"
    samples: int = 8
    seeds: int = 1
    seed: int = 0
    metric: str = "success_rate"
    mode: str = "max"
    scheduler: Scheduler = field(default_factory=Scheduler)
    max_concurrent: int = 0
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1.0})
    max_failures: int = 2
    time_budget_min: float = 0.0
    #: the resolved training config (base + set) as a mapping; trials apply params and seed to it
    base_raw: dict[str, Any] = field(default_factory=dict)

    @property
    def base_config(self) -> Config:
        """The training config every trial starts from."""
        return config_from_dict(copy.deepcopy(self.base_raw))

    @property
    def total_trials(self) -> int:
        """Trials the sweep runs: configurations x seeds."""
        return self.n_configs * self.seeds

    @property
    def n_configs(self) -> int:
        """Configurations tried (the grid's size, or ``samples``)."""
        if self.search == "grid":
            return len(self.grid_points())
        return self.samples

    def grid_points(self) -> list[dict[str, Any]]:
        """Every combination of the (discrete) parameters, in file order; ``[{}]`` with none."""
        keys = [p.key for p in self.params]
        return [
            dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(p.values for p in self.params))
        ]

    def random_points(self) -> list[dict[str, Any]]:
        """``samples`` distinct configurations drawn with the sweep's seed (reproducible).

        Distinct, because a repeated configuration would re-train the same seeds and count them
        twice in its mean (:func:`sweep_from_dict` refuses more samples than a finite space has).
        """
        rng = np.random.default_rng(self.seed)
        points: list[dict[str, Any]] = []
        seen: set[str] = set()
        for _ in range(1000 * self.samples):
            point = {p.key: p.sample(rng) for p in self.params}
            key = repr(sorted(point.items()))
            if key not in seen:
                seen.add(key)
                points.append(point)
                if len(points) == self.samples:
                    break
        return points

    def trial_raw(self, params: dict[str, Any], seed_index: int) -> dict[str, Any]:
        """The training config mapping of one trial: base, then params, then its seed."""
        seed = int(self.base_raw["train"]["seed"]) + seed_index
        overrides = {**params, "train.seed": seed}
        if self.base_raw["train"].get("eval_workers", 0) == 0 and "train.eval_workers" not in params:
            # 0 is "one per core"; Ray gives each trial its own CPUs, evaluation stays inside them
            # (the results are the same for any number of workers)
            overrides = {"train.eval_workers": 1, **overrides}
        return apply_overrides(self.base_raw, [f"{k}={format_value(v)}" for k, v in overrides.items()])

    def trial_config(self, params: dict[str, Any], seed_index: int) -> Config:
        """The validated training config of one trial."""
        return config_from_dict(self.trial_raw(params, seed_index))

    def train_command(self, params: dict[str, Any], seed_index: int) -> str:
        """The ``robot-rl train`` command that trains the same run without Ray."""
        import shlex

        seed = int(self.base_raw["train"]["seed"]) + seed_index
        words = ["robot-rl", "train", config_arg(self.base), "--seed", str(seed)]
        for k, v in {**self.set, **params}.items():
            words += ["--set", f"{k}={format_value(v)}"]
        return shlex.join(words)

    def to_dict(self) -> dict[str, Any]:
        """What ``sweep.yaml`` in the sweep directory holds (reloaded by ``--resume``)."""
        return {
            "name": self.name,
            "base": str(self.base),
            "set": dict(self.set),
            "params": {p.key: _param_to_raw(p) for p in self.params},
            "search": self.search,
            "samples": self.samples,
            "seeds": self.seeds,
            "seed": self.seed,
            "metric": self.metric,
            "mode": self.mode,
            "scheduler": asdict(self.scheduler),
            "max_concurrent": self.max_concurrent,
            "resources": dict(self.resources),
            "max_failures": self.max_failures,
            "time_budget_min": self.time_budget_min,
            "base_config": self.base_raw,
        }


def _param_to_raw(p: Param) -> dict[str, Any]:
    if p.discrete:
        return {p.kind: list(p.values)}
    return {p.kind: [p.low, p.high]}


class SchedulerSpec(StrictModel):
    """The ``scheduler`` mapping of a sweep file (or just its ``type`` as a string)."""

    type: Literal["none", "asha", "median"] = "none"
    grace_period: Int | None = Field(default=None, ge=1)
    reduction_factor: Int = Field(default=3, ge=2)
    min_samples: Int = Field(default=3, ge=1)


class ResourcesSpec(StrictModel):
    """Per-trial resources (default: one CPU per process the trial runs)."""

    cpu: float | None = Field(default=None, gt=0)
    gpu: float | None = Field(default=None, ge=0)


def _scheduler_type(value: Any) -> Any:
    """``scheduler: asha`` is short for ``scheduler: {type: asha}``."""
    return {"type": value} if isinstance(value, str) else value


class SweepFile(StrictModel):
    """A sweep file as written (see the module docstring); cross-key checks follow in
    :func:`sweep_from_dict`."""

    name: str = Field(min_length=1, pattern=r"^[^/]+$")
    base: str
    set: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    search: Literal["grid", "random", "optuna"] | None = None
    samples: Int = Field(default=8, ge=1)
    seeds: Int = Field(default=1, ge=1)
    seed: Int = Field(default=0, ge=0)
    metric: str = Field(default="success_rate", min_length=1)
    mode: Literal["max", "min"] = "max"
    scheduler: Annotated[SchedulerSpec, BeforeValidator(_scheduler_type)] = SchedulerSpec()
    max_concurrent: Int = Field(default=0, ge=0)
    resources: ResourcesSpec | None = None
    max_failures: Int = Field(default=2, ge=0)
    time_budget_min: float = Field(default=0.0, ge=0)
    #: a sweep directory's sweep.yaml carries the resolved training config
    base_config: dict[str, Any] | None = None


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SweepConfig:
    """Read and validate a sweep file; ``overrides`` (``key=value``) apply to the sweep file itself.

    ``path`` is a YAML file or the name of a shipped sweep (``sweep_nav_ppo_lr``). ``set`` and
    ``params`` hold *dotted* training-config keys, so ``set.train.total_timesteps=4e4`` sets
    ``set["train.total_timesteps"]`` (and likewise ``params.algo.kwargs.gamma=[0.9, 0.99]``);
    other keys are the sweep's own (``seeds=2``).

    Raises:
        MissingInputError: The sweep file or its base config does not exist (or a name is no
            shipped sweep / training config).
        InputError: Anything malformed, naming the key and what is accepted.
    """
    path = resolve_config(path, "sweep")
    raw = read_yaml_mapping(path, "sweep file", "robot-rl configs lists the shipped sweeps")
    raw = apply_overrides(raw, overrides, dotted_sections=("set", "params"))
    return sweep_from_dict(raw, path.parent, where=str(path))


def sweep_from_dict(raw: dict[str, Any], folder: Path, where: str = "sweep") -> SweepConfig:
    """Validate a sweep mapping; ``base`` is resolved relative to ``folder``.

    A mapping that already carries ``base_config`` (a sweep directory's ``sweep.yaml``) uses it
    instead of re-reading the base file, so a resumed sweep is immune to later edits of it.
    """
    if isinstance(raw, dict) and "base" not in raw:
        raise InputError(f"{where}: base is required: the training config to sweep, e.g. base: nav_ppo")
    spec = validate(SweepFile, raw, where)
    base = Path(spec.base)
    if not base.is_absolute() and spec.base_config is None:
        # a file relative to the sweep file (or the working directory), else a shipped config's
        # name; stored absolute so that the recorded train commands and best.yaml's header stay
        # right whatever directory --resume or --report runs from
        if (folder / base).is_file():
            base = (folder / base).resolve()
        elif base.is_file():
            base = base.resolve()
        elif looks_like_path(base):
            base = (folder / base).resolve()  # missing: reported below with the path
        else:
            try:
                base = resolve_config(spec.base, "train").resolve()
            except FileNotFoundError as exc:
                raise MissingInputError(f"{where}: base: {exc}") from None
    overrides = [f"{k}={format_value(v)}" for k, v in spec.set.items()]
    if spec.base_config is not None:
        base_cfg = config_from_dict(spec.base_config)
    else:
        try:
            base_cfg = load_config(base, overrides)
        except FileNotFoundError as exc:
            raise MissingInputError(f"{where}: base config {str(base)!r} not found") from exc
        except ValueError as exc:
            raise InputError(f"{where}: base config {base} with set {spec.set}: {exc}") from exc
    base_raw = base_cfg.to_dict()
    if base_cfg.train.eval_freq <= 0:
        raise InputError(
            f"{where}: trials report their evaluations to Tune, so the base config needs "
            f"train.eval_freq > 0 (it is {base_cfg.train.eval_freq}); add set: {{train.eval_freq: N}}"
        )
    params = _params(spec.params, where)
    search = spec.search or ("grid" if all(p.discrete for p in params) else "optuna")
    if search == "grid":
        continuous = [p.key for p in params if not p.discrete]
        if continuous:
            raise InputError(
                f"{where}: search=grid needs lists of values; {continuous[0]} is a range "
                f"(use search: random or optuna, or give it a grid: [...])"
            )
    if search in ("random", "optuna") and not params:
        raise InputError(
            f"{where}: search={search} needs params to vary; for seeds only, leave out search (a grid of one)"
        )
    if search == "random" and all(p.discrete for p in params):
        size = math.prod(len(p.values) for p in params)
        if spec.samples > size:
            raise InputError(
                f"{where}: samples={spec.samples} but the params have only {size} combinations; "
                f"use search: grid, or samples <= {size}"
            )
    cfg = SweepConfig(
        name=spec.name,
        base=base,
        set=dict(spec.set),
        params=params,
        search=search,
        samples=spec.samples,
        seeds=spec.seeds,
        seed=spec.seed,
        metric=spec.metric,
        mode=spec.mode,
        scheduler=_scheduler(spec.scheduler, base_cfg, where),
        max_concurrent=spec.max_concurrent,
        resources=_resources(spec.resources, base_cfg),
        max_failures=spec.max_failures,
        time_budget_min=spec.time_budget_min,
        base_raw=base_raw,
    )
    for p in params:  # every value a parameter can take must make a valid training config
        for value in p.extremes():
            try:
                cfg.trial_config({p.key: value}, 0)
            except ValueError as exc:
                raise InputError(f"{where}: params.{p.key}={value!r}: {exc}") from exc
            _check_key_exists(cfg, p.key, where)
    return cfg


def _check_key_exists(cfg: SweepConfig, key: str, where: str) -> None:
    """A parameter must name an existing section: ``algo.kwargs.x`` yes, ``algo.kwarg.x`` no.

    (Free-form mappings such as ``algo.kwargs`` accept any name; those are checked against the
    learner's signature by :func:`check_trial_space`.)
    """
    parts = key.split(".")
    node: Any = cfg.base_raw
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            raise InputError(f"{where}: params.{key}: {part!r} is not a section of the training config")
        node = node[part]


class ParamSpec(StrictModel):
    """One entry of ``params``: exactly one of these keys (a plain list is a ``grid``)."""

    grid: list[Any] | None = Field(default=None, min_length=1)
    choice: list[Any] | None = Field(default=None, min_length=1)
    uniform: list[float] | None = Field(default=None, min_length=2, max_length=2)
    loguniform: list[float] | None = Field(default=None, min_length=2, max_length=2)
    int: list[Int] | None = Field(default=None, min_length=2, max_length=2)


def _params(raw: dict[str, Any], where: str) -> tuple[Param, ...]:
    out = []
    for key, entry in raw.items():
        spec = validate(
            ParamSpec, {"grid": entry} if isinstance(entry, list) else entry, f"{where}: params.{key}"
        )
        given = {k: v for k, v in spec.model_dump().items() if v is not None}
        if len(given) != 1:
            raise InputError(
                f"{where}: params.{key}={entry!r} is not accepted; expected one of "
                f"{{grid: [...]}}, {{choice: [...]}}, {{uniform: [low, high]}}, "
                f"{{loguniform: [low, high]}}, {{int: [low, high]}} or a plain list (a grid)"
            )
        kind, arg = next(iter(given.items()))
        if kind in ("grid", "choice"):
            out.append(Param(key, kind, values=tuple(arg)))
            continue
        low, high = arg
        if not low < high:
            raise InputError(
                f"{where}: params.{key}: {kind} needs [low, high] with low < high, got {list(arg)}"
            )
        if kind == "loguniform" and low <= 0:
            raise InputError(f"{where}: params.{key}: loguniform needs low > 0, got {low!r}")
        out.append(Param(key, kind, low=float(low), high=float(high)))
    return tuple(out)


def _scheduler(spec: SchedulerSpec, base: Config, where: str) -> Scheduler:
    grace = spec.grace_period if spec.grace_period is not None else max(1, 2 * base.train.eval_freq)
    if spec.type != "none" and grace >= base.train.total_timesteps:
        raise InputError(
            f"{where}: scheduler.grace_period={grace} must be below train.total_timesteps="
            f"{base.train.total_timesteps}, or no trial can ever be stopped early"
        )
    return Scheduler(
        type=spec.type,
        grace_period=grace,
        reduction_factor=spec.reduction_factor,
        min_samples=spec.min_samples,
    )


def _resources(spec: ResourcesSpec | None, base: Config) -> dict[str, float]:
    """CPUs (and GPUs) per trial; by default one per process the trial runs."""
    default_cpu = base.env.n_envs if base.env.vec_env == "subproc" else max(1, base.train.torch_threads)
    out = {"cpu": float(default_cpu if spec is None or spec.cpu is None else spec.cpu)}
    if spec is not None and spec.gpu is not None:
        out["gpu"] = float(spec.gpu)
    return out


def check_trial_space(cfg: SweepConfig) -> tuple[str, ...]:
    """Build the env and the learner's kwargs once per parameter extreme, before Ray starts.

    Returns the metric names the evaluations will report.

    Raises:
        ValueError: The env rejects its kwargs, a learner rejects a parameter, or ``cfg.metric``
            is not among the reported metrics (the message lists them).
    """
    from robot_rl.envs.make import make_env
    from robot_rl.train.sb3 import algo_class, algo_kwargs, probe_metric_keys
    from robot_rl.train.trainer import check_env

    trial = cfg.trial_config(cfg.random_points()[0] if cfg.params else {}, 0)
    _, act_space = check_env(trial)
    singles = [{p.key: value} for p in cfg.params for value in p.extremes()]
    # grid and random sweeps list every configuration up front: check each one whole
    listed = (
        cfg.grid_points() if cfg.search == "grid" else cfg.random_points() if cfg.search == "random" else []
    )
    for point in singles + listed:
        shown = ", ".join(f"params.{k}={v!r}" for k, v in point.items())
        try:
            one = cfg.trial_config(point, 0)
            algo_class(one.algo.name)
            algo_kwargs(one, act_space)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{shown}: {exc}") from exc
    env = make_env(trial.env.id, **{**trial.env.kwargs, **trial.env.eval_kwargs})
    try:
        metrics = (*BASE_METRICS, *probe_metric_keys(env))
    finally:
        env.close()
    if cfg.metric not in metrics:
        raise InputError(
            f"metric={cfg.metric!r} is not reported by {trial.env.id}'s evaluations; "
            f"choose one of {list(metrics)}"
        )
    return metrics
