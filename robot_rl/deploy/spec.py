"""A small, explicit description of a deterministic SB3 policy: the one source of every export.

:func:`extract_spec` reads an SB3 model (PPO, SAC, TD3, TQC, DQN; flat ``Box`` or ``Dict`` of
``Box`` observations) and the optional ``VecNormalize`` next to it, and returns a
:class:`PolicySpec`: per-input normalization statistics, a chain of dense layers and the
post-processing SB3's ``predict(deterministic=True)`` applies. The ONNX graph, the TorchScript
module and the C code are all generated from this one object, so they cannot drift apart; the
golden-file check then compares each of them with SB3 itself.

Why an intermediate description instead of exporting SB3's modules directly: the C generator
needs the weights as plain arrays anyway, and refusing unsupported architectures in one place
(with a message naming what is supported) beats a silently different export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from robot_rl.errors import InputError
from robot_rl.runs import ACTIVATIONS as RUN_ACTIVATIONS

#: Activations the exporters implement (torch module class name -> spec name); the one list is
#: :data:`robot_rl.runs.ACTIVATIONS`, which the training config checks too.
ACTIVATIONS = {cls: name for name, cls in RUN_ACTIVATIONS.items()}
#: Post-processing kinds: clip (PPO Box), tanh_unscale (SAC/TD3/TQC), argmax (DQN, PPO Discrete).
POSTPROCESS = ("clip", "tanh_unscale", "argmax")
ALGOS = ("ppo", "sac", "td3", "tqc", "dqn")


@dataclass
class InputSpec:
    """One named observation input (a flat ``Box`` or one key of a ``Dict`` space).

    Attributes:
        name: Input name (``"obs"`` for flat observations, else the Dict key).
        size: Number of float32 entries.
        low: Observation-space lower bounds, float32 ``(size,)`` (may be ``-inf``).
        high: Observation-space upper bounds, float32 ``(size,)`` (may be ``inf``).
        mean: VecNormalize running mean, float64 ``(size,)``, or ``None`` if not normalized.
        var: VecNormalize running variance, float64 ``(size,)``, or ``None``.
        epsilon: VecNormalize epsilon (added to ``var`` under the square root).
        clip_obs: VecNormalize clip bound (normalized values are clipped to +-clip_obs).
    """

    name: str
    size: int
    low: NDArray[np.float32]
    high: NDArray[np.float32]
    mean: NDArray[np.float64] | None = None
    var: NDArray[np.float64] | None = None
    epsilon: float = 1e-8
    clip_obs: float = 10.0

    @property
    def normalized(self) -> bool:
        """Whether VecNormalize's formula is applied to this input."""
        return self.mean is not None

    @property
    def std(self) -> NDArray[np.float64]:
        """``sqrt(var + epsilon)`` in float64, exactly as VecNormalize computes it."""
        if self.var is None:
            raise ValueError(f"input {self.name!r} is not normalized")
        return np.sqrt(self.var + self.epsilon)


@dataclass
class LayerSpec:
    """``y = act(W x + b)`` with ``W`` float32 ``(out, in)`` and ``b`` float32 ``(out,)``."""

    weight: NDArray[np.float32]
    bias: NDArray[np.float32]
    activation: str = "identity"
    alpha: float = 0.0  # ELU alpha or LeakyReLU negative slope


@dataclass
class PolicySpec:
    """Whole deterministic observation -> action path of an SB3 policy.

    Attributes:
        algo: One of :data:`ALGOS`.
        inputs: Observation inputs in the order the network concatenates them.
        layers: Dense layers applied to the concatenated (normalized) inputs.
        postprocess: One of :data:`POSTPROCESS`.
        action_low: Env action lower bounds, float32 ``(action_dim,)`` (Box actions only).
        action_high: Env action upper bounds, float32 ``(action_dim,)`` (Box actions only).
        n_actions: Number of discrete actions (argmax only), else 0.
    """

    algo: str
    inputs: list[InputSpec]
    layers: list[LayerSpec]
    postprocess: str
    action_low: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    action_high: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    n_actions: int = 0

    @property
    def obs_dim(self) -> int:
        """Total observation entries (all inputs concatenated)."""
        return sum(i.size for i in self.inputs)

    @property
    def action_dim(self) -> int:
        """Entries of the action vector (1 for discrete actions: the index)."""
        return 1 if self.postprocess == "argmax" else int(self.action_low.size)

    @property
    def dict_obs(self) -> bool:
        """Whether the env observation is a Dict (several named inputs)."""
        return not (len(self.inputs) == 1 and self.inputs[0].name == "obs")


# ---------------------------------------------------------------------- extraction from SB3
def extract_spec(model: Any, vecnormalize: Any | None, algo: str) -> PolicySpec:
    """Describe the deterministic policy of an SB3 ``model`` (see module docstring).

    Args:
        model: A trained SB3 ``BaseAlgorithm`` (PPO, SAC, TD3, TQC or DQN).
        vecnormalize: The ``VecNormalize`` the model was trained with, or ``None``.
        algo: Algorithm name, one of :data:`ALGOS`.

    Raises:
        ValueError: unsupported algorithm, observation space, action space or layer type.
    """
    if algo not in ALGOS:
        raise InputError(f"algo={algo!r} is not supported; choose one of {list(ALGOS)}")
    policy = model.policy
    inputs = _inputs(model.observation_space, vecnormalize)
    if algo == "ppo":
        if getattr(policy, "squash_output", False):
            raise InputError("PPO with squash_output=True (gSDE) is not supported; train with use_sde=False")
        _check_extractor(policy.pi_features_extractor, inputs)
        layers = _dense_chain(policy.mlp_extractor.policy_net) + _dense_chain(policy.action_net)
    elif algo in ("sac", "tqc"):
        actor = policy.actor
        _check_extractor(actor.features_extractor, inputs)
        layers = _dense_chain(actor.latent_pi) + _dense_chain(actor.mu)
        layers[-1].activation = "identity"  # the squash is part of postprocess
    elif algo == "td3":
        actor = policy.actor
        _check_extractor(actor.features_extractor, inputs)
        layers = _dense_chain(actor.mu)
        if layers[-1].activation != "tanh":
            raise InputError("TD3 actor must end with Tanh (SB3 default); got " + layers[-1].activation)
        layers[-1].activation = "identity"
    else:  # dqn
        _check_extractor(policy.q_net.features_extractor, inputs)
        layers = _dense_chain(policy.q_net.q_net)
    return _finish(algo, inputs, layers, model.action_space)


def _finish(algo: str, inputs: list[InputSpec], layers: list[LayerSpec], action_space: Any) -> PolicySpec:
    if isinstance(action_space, spaces.Discrete):
        if algo not in ("ppo", "dqn"):
            raise InputError(f"{algo} with a Discrete action space is not supported")
        return PolicySpec(algo, inputs, layers, "argmax", n_actions=int(action_space.n))
    if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
        raise InputError(f"action space must be a 1-D Box or Discrete, got {action_space}")
    low = np.asarray(action_space.low, np.float32)
    high = np.asarray(action_space.high, np.float32)
    post = "clip" if algo == "ppo" else "tanh_unscale"
    if post == "tanh_unscale" and not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise InputError(f"{algo} needs finite action bounds to unscale tanh outputs, got {low}..{high}")
    return PolicySpec(algo, inputs, layers, post, action_low=low, action_high=high)


def _inputs(obs_space: Any, vecnormalize: Any | None) -> list[InputSpec]:
    if isinstance(obs_space, spaces.Box):
        boxes = {"obs": obs_space}
    elif isinstance(obs_space, spaces.Dict) and all(isinstance(s, spaces.Box) for s in obs_space.values()):
        boxes = {k: v for k, v in obs_space.spaces.items() if isinstance(v, spaces.Box)}
    else:
        raise InputError(f"observation space must be a Box or a Dict of Boxes, got {obs_space}")
    inputs = []
    for name, box in boxes.items():
        if len(box.shape) != 1 or box.dtype != np.float32:
            raise InputError(f"observation {name!r} must be a 1-D float32 Box, got {box}")
        inputs.append(
            InputSpec(
                name, int(box.shape[0]), np.asarray(box.low, np.float32), np.asarray(box.high, np.float32)
            )
        )
    if vecnormalize is not None and vecnormalize.norm_obs:
        _attach_normalization(inputs, vecnormalize)
    return inputs


def _attach_normalization(inputs: list[InputSpec], vecnormalize: Any) -> None:
    rms = vecnormalize.obs_rms
    for inp in inputs:
        if isinstance(rms, dict):
            keys = vecnormalize.norm_obs_keys or list(rms)
            if inp.name not in keys:
                continue
            stats = rms[inp.name]
        else:
            stats = rms
        mean = np.asarray(stats.mean, np.float64).reshape(-1)
        var = np.asarray(stats.var, np.float64).reshape(-1)
        if mean.size != inp.size:
            raise InputError(
                f"VecNormalize mean for {inp.name!r} has {mean.size} entries, obs has {inp.size}"
            )
        inp.mean, inp.var = mean, var
        inp.epsilon, inp.clip_obs = float(vecnormalize.epsilon), float(vecnormalize.clip_obs)


def _check_extractor(extractor: Any, inputs: list[InputSpec]) -> None:
    """Accept SB3's FlattenExtractor (flat Box) and CombinedExtractor of Flatten (Dict)."""
    import torch.nn as nn

    kind = type(extractor).__name__
    if kind == "FlattenExtractor" and len(inputs) == 1 and inputs[0].name == "obs":
        return
    if kind == "CombinedExtractor":
        keys = list(extractor.extractors.keys())
        if keys == [i.name for i in inputs] and all(
            isinstance(m, nn.Flatten) for m in extractor.extractors.values()
        ):
            return
    raise InputError(
        f"features extractor {kind} is not supported; accepted: FlattenExtractor (Box observations) or "
        "CombinedExtractor with Flatten per key (Dict of 1-D Box observations)"
    )


def _dense_chain(module: Any) -> list[LayerSpec]:
    """Turn an ``nn.Linear`` or an ``nn.Sequential`` of Linear + activation into layers."""
    import torch.nn as nn

    mods = list(module) if isinstance(module, nn.Sequential) else [module]
    layers: list[LayerSpec] = []
    for m in mods:
        if isinstance(m, nn.Linear):
            w = m.weight.detach().cpu().numpy().astype(np.float32)
            b = (
                m.bias.detach().cpu().numpy().astype(np.float32)
                if m.bias is not None
                else np.zeros(len(w), np.float32)
            )
            layers.append(LayerSpec(w, b))
        elif type(m).__name__ in ACTIVATIONS and layers and layers[-1].activation == "identity":
            layers[-1].activation = ACTIVATIONS[type(m).__name__]
            layers[-1].alpha = float(getattr(m, "alpha", getattr(m, "negative_slope", 0.0)))
        elif isinstance(m, nn.Identity | nn.Flatten):
            continue
        else:
            raise InputError(
                f"layer {type(m).__name__} is not supported; accepted: Linear followed by one of "
                f"{sorted(ACTIVATIONS)}"
            )
    return layers
