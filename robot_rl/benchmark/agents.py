"""Agents for ``robot-rl benchmark nav``: the protocol and what an ``--agents`` argument names.

An agent is anything with these two methods (habitat-lab's ``Agent``, for our envs)::

    class Agent(Protocol):
        def reset(self, obs, info) -> None: ...   # once per episode, with reset's obs and info
        def act(self, obs) -> action: ...          # once per control step

``obs`` is the env's flat float32 observation (fields in ``env.unwrapped.obs_layout``); ``info``
holds ``start``, ``goal``, ``start_yaw``, ``geodesic_distance``, ``layout_seed`` or ``map``. The
action is what ``env.step`` takes: ``[linear, angular]`` in [-1, 1], or a motion primitive index
for ``MobileNavDiscrete-v0``. A user agent ``module:Class`` is built with no arguments, or with
keyword ``obs_layout`` and ``dt`` if its constructor takes them; a class attribute
``env_kwargs`` (e.g. ``{"action_type": "discrete"}``) sets the env kwargs it needs (never the
episode-defining ones, which come from the episode set).

Agent arguments:
    * ``planner``: the scripted A* + pure-pursuit baseline
      (:class:`~robot_rl.envs.scripted.nav_planner.NavPlanner`);
    * ``zoo:NAME`` or a bundle directory (``manifest.json``): the exported ONNX policy, run by
      :class:`~robot_rl.deploy.runtime.PolicyRunner` as on a robot;
    * a run directory or model ``.zip``: the SB3 model (best model) through the run's
      ``VecNormalize``, deterministic actions;
    * ``module:Class``: a user agent (the module must be importable, e.g. on ``PYTHONPATH``).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from robot_rl.errors import InputError, MissingInputError

NAV_ENV_IDS = ("robot_rl/MobileNav-v0", "robot_rl/MobileNavDiscrete-v0")


@runtime_checkable
class Agent(Protocol):
    """A navigation agent: :meth:`reset` at each episode start, :meth:`act` every control step."""

    def reset(self, obs: Any, info: dict[str, Any]) -> None:
        """Start an episode."""

    def act(self, obs: Any) -> Any:
        """The action for ``obs``."""


@dataclass
class AgentSpec:
    """What an ``--agents`` argument resolves to (picklable: workers build the agent themselves).

    Attributes:
        arg: The argument as given (the agent's name in every output).
        kind: ``planner``, ``bundle``, ``run`` or ``class``.
        env_id: The env id the agent acts in (its action space).
        env_kwargs: Env kwargs the agent needs (its training kwargs); episode kwargs are overridden.
        detail: What it is (bundle path and manifest hash, model zip, class path).
    """

    arg: str
    kind: str
    env_id: str = "robot_rl/MobileNav-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


def resolve_agent(arg: str) -> AgentSpec:
    """Resolve an ``--agents`` argument without loading heavy models.

    Raises:
        MissingInputError: no such run, bundle, pretrained name, module or class.
        InputError: a bundle or run of a non-navigation env, or a class that is not an agent.
    """
    import hashlib
    import json

    from robot_rl.zoo import is_zoo_name, resolve_bundle

    if arg == "planner":
        return AgentSpec(
            arg, "planner", detail={"agent": "A* + pure pursuit (robot_rl.envs.scripted.nav_planner)"}
        )
    if is_zoo_name(arg) or (Path(arg) / "manifest.json").is_file():
        bundle = resolve_bundle(arg)
        manifest_path = bundle / "manifest.json"
        if not manifest_path.is_file():
            raise MissingInputError(f"agent {arg!r}: {manifest_path} not found")
        manifest = json.loads(manifest_path.read_text())
        env = manifest.get("env", {})
        spec = AgentSpec(
            arg,
            "bundle",
            str(env.get("id")),
            dict(env.get("kwargs", {})),
            {
                "bundle": str(bundle),
                "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
            },
        )
    elif Path(arg).exists():
        from robot_rl.runs import read_json, resolve_model

        run_dir, model, _ = resolve_model(arg)
        info = read_json(run_dir / "run.json")
        spec = AgentSpec(
            arg, "run", str(info.get("env_id")), dict(info.get("env_kwargs", {})), {"model": str(model)}
        )
    elif ":" in arg and not arg.startswith("zoo:"):
        cls = _import_class(arg)
        kwargs = dict(getattr(cls, "env_kwargs", {}) or {})
        env_id = (
            "robot_rl/MobileNavDiscrete-v0" if kwargs.get("action_type") == "discrete" else NAV_ENV_IDS[0]
        )
        spec = AgentSpec(arg, "class", env_id, kwargs, {"class": arg})
    else:
        raise MissingInputError(
            f"agent {arg!r} is not 'planner', a pretrained zoo:NAME, a bundle or run directory, "
            "a model .zip, or module:Class"
        )
    if spec.env_id not in NAV_ENV_IDS:
        raise InputError(
            f"agent {arg!r} acts in {spec.env_id}, not a navigation env ({', '.join(NAV_ENV_IDS)})"
        )
    return spec


def _import_class(arg: str) -> type:
    module_name, _, name = arg.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise MissingInputError(f"agent {arg!r}: cannot import module {module_name!r} ({exc})") from None
    cls = getattr(module, name, None)
    if not inspect.isclass(cls):
        raise MissingInputError(f"agent {arg!r}: module {module_name!r} has no class {name!r}")
    if not (callable(getattr(cls, "reset", None)) and callable(getattr(cls, "act", None))):
        raise InputError(
            f"agent {arg!r}: {name} lacks reset(obs, info) and act(obs); see robot_rl.benchmark.agents"
        )
    return cls


class PolicyAgent:
    """An exported bundle (ONNX) or an SB3 model (with its VecNormalize) as an :class:`Agent`."""

    def __init__(self, policy: Any, vecnormalize: Any = None) -> None:
        self.policy = policy
        self.vecnormalize = vecnormalize

    def reset(self, obs: Any, info: dict[str, Any]) -> None:
        """Memoryless policies: nothing to do."""

    def act(self, obs: Any) -> Any:
        net_obs = self.vecnormalize.normalize_obs(obs) if self.vecnormalize is not None else obs
        action, _ = self.policy.predict(net_obs, deterministic=True)
        return action


def build_agent(spec: AgentSpec, env: Any) -> Agent:
    """The agent of ``spec`` for the (unwrapped) env it will act in."""
    if spec.kind == "planner":
        from robot_rl.envs.scripted.nav_planner import NavPlanner

        return NavPlanner(env.obs_layout, env.dt, env.robot.spec)
    if spec.kind == "bundle":
        from robot_rl.deploy.runtime import PolicyRunner

        return PolicyAgent(PolicyRunner(spec.detail["bundle"]))
    if spec.kind == "run":
        import torch

        from robot_rl.runs import load_run

        torch.set_num_threads(1)
        loaded = load_run(spec.arg)
        return PolicyAgent(loaded.model, loaded.vecnormalize)
    cls = _import_class(spec.arg)
    params = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in (("obs_layout", env.obs_layout), ("dt", env.dt)) if k in params}
    agent = cls(**kwargs)
    if not isinstance(agent, Agent):
        raise InputError(f"agent {spec.arg!r} lacks reset(obs, info) and act(obs)")
    return agent
