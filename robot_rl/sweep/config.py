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
from typing import Any

import numpy as np
import yaml

from robot_rl.resources import config_arg, looks_like_path, resolve_config
from robot_rl.train.config import (
    Config,
    apply_overrides,
    config_from_dict,
    load_config,
    number_or_text,
    read_yaml_mapping,
)

SEARCHES = ("grid", "random", "optuna")
KINDS = ("grid", "choice", "uniform", "loguniform", "int")
SCHEDULERS = ("none", "asha", "median")
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
        return apply_overrides(self.base_raw, [f"{k}={_yaml_value(v)}" for k, v in overrides.items()])

    def trial_config(self, params: dict[str, Any], seed_index: int) -> Config:
        """The validated training config of one trial."""
        return config_from_dict(self.trial_raw(params, seed_index))

    def train_command(self, params: dict[str, Any], seed_index: int) -> str:
        """The ``robot-rl train`` command that trains the same run without Ray."""
        import shlex

        seed = int(self.base_raw["train"]["seed"]) + seed_index
        words = ["robot-rl", "train", config_arg(self.base), "--seed", str(seed)]
        for k, v in {**self.set, **params}.items():
            words += ["--set", f"{k}={_yaml_value(v)}"]
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


def _yaml_value(value: Any) -> str:
    """A value as ``--set`` text (YAML flow style), e.g. ``[64, 64]`` or ``0.0003``."""
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text[: -len("\n...")] if text.endswith("\n...") else text.removesuffix("...").strip()


def _param_to_raw(p: Param) -> dict[str, Any]:
    if p.discrete:
        return {p.kind: list(p.values)}
    return {p.kind: [p.low, p.high]}


ACCEPTED_KEYS = (
    "name", "base", "set", "params", "search", "samples", "seeds", "seed", "metric", "mode",
    "scheduler", "max_concurrent", "resources", "max_failures", "time_budget_min", "base_config",
)  # fmt: skip


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SweepConfig:
    """Read and validate a sweep file; ``overrides`` (``key=value``) apply to the sweep file itself.

    ``path`` is a YAML file or the name of a shipped sweep (``sweep_nav_ppo_lr``).

    Raises:
        FileNotFoundError: The sweep file or its base config does not exist (or a name is no
            shipped sweep / training config).
        ValueError: Anything malformed, naming the key and what is accepted.
    """
    path = resolve_config(path, "sweep")
    raw = read_yaml_mapping(path, "sweep file", "robot-rl configs lists the shipped sweeps")
    return sweep_from_dict(apply_sweep_overrides(raw, overrides), path.parent, where=str(path))


def apply_sweep_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` overrides of a sweep file. ``set`` and ``params`` hold *dotted* training-config
    keys, so ``set.train.total_timesteps=4e4`` sets ``set["train.total_timesteps"]`` (and likewise
    ``params.algo.kwargs.gamma=[0.9, 0.99]``); other keys are the sweep's own (``seeds=2``)."""
    plain = [o for o in overrides if not o.startswith(("set.", "params."))]
    out = apply_overrides(raw, plain)
    for item in overrides:
        if item in plain:
            continue
        section, _, rest = item.partition(".")
        key, sep, _ = rest.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects {section}.<dotted key>=value, got {item!r}")
        value = apply_overrides({}, [f"v={rest[len(key) + 1 :]}"])["v"]
        node = out.get(section) or {}
        if not isinstance(node, dict):
            raise ValueError(f"--set {item!r}: {section} is not a mapping in the sweep file")
        out[section] = {**node, key: value}
    return out


def sweep_from_dict(raw: dict[str, Any], folder: Path, where: str = "sweep") -> SweepConfig:
    """Validate a sweep mapping; ``base`` is resolved relative to ``folder``.

    A mapping that already carries ``base_config`` (a sweep directory's ``sweep.yaml``) uses it
    instead of re-reading the base file, so a resumed sweep is immune to later edits of it.
    """
    unknown = [k for k in raw if k not in ACCEPTED_KEYS]
    if unknown:
        raise ValueError(
            f"{where}: unknown key {unknown[0]!r}; accepted keys: {', '.join(ACCEPTED_KEYS[:-1])}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"{where}: name={name!r} is not accepted; expected a non-empty name without '/'")
    if "base" not in raw or not isinstance(raw["base"], str):
        raise ValueError(f"{where}: base is required: the training config to sweep, e.g. base: nav_ppo")
    base = Path(raw["base"])
    if not base.is_absolute() and "base_config" not in raw:
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
                base = resolve_config(raw["base"], "train").resolve()
            except FileNotFoundError as exc:
                raise FileNotFoundError(f"{where}: base: {exc}") from None
    sets = raw.get("set") or {}
    if not isinstance(sets, dict):
        raise ValueError(f"{where}: set must be a mapping of dotted keys to values, e.g. {{train.seed: 3}}")
    overrides = [f"{k}={_yaml_value(v)}" for k, v in sets.items()]
    if "base_config" in raw:
        base_cfg = config_from_dict(apply_overrides(raw["base_config"], []))
    else:
        try:
            base_cfg = load_config(base, overrides)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{where}: base config {str(base)!r} not found") from exc
        except ValueError as exc:
            raise ValueError(f"{where}: base config {base} with set {sets}: {exc}") from exc
    base_raw = base_cfg.to_dict()
    if base_cfg.train.eval_freq <= 0:
        raise ValueError(
            f"{where}: trials report their evaluations to Tune, so the base config needs "
            f"train.eval_freq > 0 (it is {base_cfg.train.eval_freq}); add set: {{train.eval_freq: N}}"
        )
    params = _params(raw.get("params") or {}, where)
    search = raw.get("search", "grid" if all(p.discrete for p in params) else "optuna")
    _choice(search, SEARCHES, "search", where)
    if search == "grid":
        continuous = [p.key for p in params if not p.discrete]
        if continuous:
            raise ValueError(
                f"{where}: search=grid needs lists of values; {continuous[0]} is a range "
                f"(use search: random or optuna, or give it a grid: [...])"
            )
    if search in ("random", "optuna") and not params:
        raise ValueError(
            f"{where}: search={search} needs params to vary; for seeds only, leave out search (a grid of one)"
        )
    if search == "random" and all(p.discrete for p in params):
        size = math.prod(len(p.values) for p in params)
        samples = raw.get("samples", 8)
        if isinstance(samples, int) and samples > size:
            raise ValueError(
                f"{where}: samples={samples} but the params have only {size} combinations; "
                f"use search: grid, or samples <= {size}"
            )
    mode = raw.get("mode", "max")
    _choice(mode, ("max", "min"), "mode", where)
    cfg = SweepConfig(
        name=name,
        base=base,
        set=dict(sets),
        params=params,
        search=search,
        samples=_int(raw.get("samples", 8), "samples", where, 1),
        seeds=_int(raw.get("seeds", 1), "seeds", where, 1),
        seed=_int(raw.get("seed", 0), "seed", where, 0),
        metric=_str(raw.get("metric", "success_rate"), "metric", where),
        mode=mode,
        scheduler=_scheduler(raw.get("scheduler", "none"), base_cfg, where),
        max_concurrent=_int(raw.get("max_concurrent", 0), "max_concurrent", where, 0),
        resources=_resources(raw.get("resources"), base_cfg, where),
        max_failures=_int(raw.get("max_failures", 2), "max_failures", where, 0),
        time_budget_min=_number(raw.get("time_budget_min", 0.0), "time_budget_min", where),
        base_raw=base_raw,
    )
    for p in params:  # every value a parameter can take must make a valid training config
        for value in p.extremes():
            try:
                cfg.trial_config({p.key: value}, 0)
            except ValueError as exc:
                raise ValueError(f"{where}: params.{p.key}={value!r}: {exc}") from exc
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
            raise ValueError(f"{where}: params.{key}: {part!r} is not a section of the training config")
        node = node[part]


def _params(raw: Any, where: str) -> tuple[Param, ...]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: params must be a mapping of dotted config keys to search specs")
    out = []
    for key, spec in raw.items():
        if isinstance(spec, list):
            spec = {"grid": spec}
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ValueError(
                f"{where}: params.{key}={spec!r} is not accepted; expected one of "
                f"{{grid: [...]}}, {{choice: [...]}}, {{uniform: [low, high]}}, "
                f"{{loguniform: [low, high]}}, {{int: [low, high]}} or a plain list (a grid)"
            )
        kind, arg = next(iter(spec.items()))
        _choice(kind, KINDS, f"params.{key}", where)
        if isinstance(arg, list):  # YAML reads 1e-4 (no dot) as text; as a value it means the number
            arg = [number_or_text(v) for v in arg]
        if kind in ("grid", "choice"):
            if not isinstance(arg, list) or not arg:
                raise ValueError(f"{where}: params.{key}: {kind} needs a non-empty list of values")
            out.append(Param(key, kind, values=tuple(arg)))
            continue
        if (
            not isinstance(arg, list)
            or len(arg) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in arg)
            or not arg[0] < arg[1]
        ):
            raise ValueError(f"{where}: params.{key}: {kind} needs [low, high] with low < high, got {arg!r}")
        if kind == "loguniform" and arg[0] <= 0:
            raise ValueError(f"{where}: params.{key}: loguniform needs low > 0, got {arg[0]!r}")
        if kind == "int" and not all(float(x).is_integer() for x in arg):
            raise ValueError(f"{where}: params.{key}: int needs integer bounds, got {arg!r}")
        out.append(Param(key, kind, low=float(arg[0]), high=float(arg[1])))
    return tuple(out)


def _scheduler(raw: Any, base: Config, where: str) -> Scheduler:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: scheduler must be none, asha, median or a mapping with type: ...")
    accepted = ("type", "grace_period", "reduction_factor", "min_samples")
    unknown = [k for k in raw if k not in accepted]
    if unknown:
        raise ValueError(f"{where}: unknown key scheduler.{unknown[0]}; accepted keys: {', '.join(accepted)}")
    kind = raw.get("type", "none")
    _choice(kind, SCHEDULERS, "scheduler.type", where)
    grace = _int(raw.get("grace_period", 2 * base.train.eval_freq), "scheduler.grace_period", where, 1)
    if kind != "none" and grace >= base.train.total_timesteps:
        raise ValueError(
            f"{where}: scheduler.grace_period={grace} must be below train.total_timesteps="
            f"{base.train.total_timesteps}, or no trial can ever be stopped early"
        )
    return Scheduler(
        type=kind,
        grace_period=grace,
        reduction_factor=_int(raw.get("reduction_factor", 3), "scheduler.reduction_factor", where, 2),
        min_samples=_int(raw.get("min_samples", 3), "scheduler.min_samples", where, 1),
    )


def _resources(raw: Any, base: Config, where: str) -> dict[str, float]:
    """CPUs (and GPUs) per trial; by default one per process the trial runs."""
    default_cpu = base.env.n_envs if base.env.vec_env == "subproc" else max(1, base.train.torch_threads)
    if raw is None:
        return {"cpu": float(default_cpu)}
    if not isinstance(raw, dict) or any(k not in ("cpu", "gpu") for k in raw):
        raise ValueError(f"{where}: resources must be a mapping with cpu (and gpu), e.g. {{cpu: 1}}")
    out = {"cpu": _number(raw.get("cpu", default_cpu), "resources.cpu", where)}
    if "gpu" in raw:
        out["gpu"] = _number(raw["gpu"], "resources.gpu", where)
    if out["cpu"] <= 0:
        raise ValueError(f"{where}: resources.cpu={out['cpu']} must be > 0")
    return out


def _choice(value: Any, accepted: tuple[str, ...], key: str, where: str) -> None:
    if value not in accepted:
        raise ValueError(f"{where}: {key}={value!r} is not accepted; choose one of {list(accepted)}")


def _int(value: Any, key: str, where: str, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{where}: {key}={value!r} is not accepted; expected an integer >= {minimum}")
    return value


def _number(value: Any, key: str, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{where}: {key}={value!r} is not accepted; expected a number >= 0")
    return float(value)


def _str(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: {key}={value!r} is not accepted; expected a name")
    return value


def check_trial_space(cfg: SweepConfig) -> tuple[str, ...]:
    """Build the env and the learner's kwargs once per parameter extreme, before Ray starts.

    Returns the metric names the evaluations will report.

    Raises:
        ValueError: The env rejects its kwargs, a learner rejects a parameter, or ``cfg.metric``
            is not among the reported metrics (the message lists them).
    """
    import gymnasium as gym

    import robot_rl  # noqa: F401
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
            raise ValueError(f"{shown}: {exc}") from exc
    env = gym.make(trial.env.id, **{**trial.env.kwargs, **trial.env.eval_kwargs})
    try:
        metrics = (*BASE_METRICS, *probe_metric_keys(env))
    finally:
        env.close()
    if cfg.metric not in metrics:
        raise ValueError(
            f"metric={cfg.metric!r} is not reported by {trial.env.id}'s evaluations; "
            f"choose one of {list(metrics)}"
        )
    return metrics
