"""A small, explicit description of a deterministic SB3 policy: the one source of every export.

:func:`extract_spec` reads an SB3 model (PPO, SAC, TD3, TQC, DQN; flat ``Box`` or ``Dict`` of
``Box`` observations) and the optional ``VecNormalize`` next to it, and returns a
:class:`PolicySpec`: per-input normalization statistics, optional convolutional branches for
image inputs (:class:`ImageSpec`, from :class:`robot_rl.nets.DepthCnnExtractor`), a chain of dense
layers and the post-processing SB3's ``predict(deterministic=True)`` applies.

Every input stays a FLAT float32 vector at the interface (an image is its ``C*H*W`` entries,
row-major, as ``numpy.reshape(-1)`` orders them): the robot-side runtime, the safety filter and
the C signature treat images like any other input; the exporters reshape inside.

The ONNX graph, the TorchScript module and the C code are all generated from this one object, so
they cannot drift apart; the golden-file check then compares each of them with SB3 itself.

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
        shape: The Box's shape when it is not 1-D (an image: ``(C, H, W)``), else ``None``.
        image: The convolutional branch this input goes through, or ``None`` (used as is).
    """

    name: str
    size: int
    low: NDArray[np.float32]
    high: NDArray[np.float32]
    mean: NDArray[np.float64] | None = None
    var: NDArray[np.float64] | None = None
    epsilon: float = 1e-8
    clip_obs: float = 10.0
    shape: tuple[int, ...] | None = None
    image: ImageSpec | None = None

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
class ConvSpec:
    """``y = relu(conv2d(x, W, b, stride))`` without padding, dilation 1, square kernel.

    Attributes:
        weight: float32 ``(out_channels, in_channels, kernel, kernel)``.
        bias: float32 ``(out_channels,)``.
        stride: Stride along both axes.
        in_h: Input height.
        in_w: Input width.
    """

    weight: NDArray[np.float32]
    bias: NDArray[np.float32]
    stride: int
    in_h: int
    in_w: int

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[2])

    @property
    def out_h(self) -> int:
        return (self.in_h - self.kernel) // self.stride + 1

    @property
    def out_w(self) -> int:
        return (self.in_w - self.kernel) // self.stride + 1


@dataclass
class ImageSpec:
    """The convolutional branch of one image input (what :class:`robot_rl.nets.DepthCnnExtractor` does).

    ``features = relu(linear(flatten(convs(pre(image)))))`` where ``pre`` (when ``near`` is set)
    is ``(clip(d, near, far) - near) / (far - near)`` in float32, every conv is followed by ReLU,
    and ``flatten`` is row-major over ``(C, H, W)``.

    Attributes:
        shape: ``(C, H, W)`` of the image.
        near: Near clip (metres) of the preprocessing, or ``None`` for no preprocessing.
        far: Far clip (metres), ``None`` with ``near``.
        convs: Convolutions in order (each followed by ReLU).
        linear: The dense layer after the flatten (activation ``relu``).
    """

    shape: tuple[int, int, int]
    near: float | None
    far: float | None
    convs: list[ConvSpec]
    linear: LayerSpec

    @property
    def features(self) -> int:
        """Entries this branch contributes to the feature vector."""
        return int(self.linear.weight.shape[0])


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
        feature_order: Input names in the order their features are concatenated before
            ``layers`` (the features extractor's order); ``None`` = ``inputs`` order.
        extractor: The features extractor's settings for the manifest (``None`` for SB3's
            flatten extractors): ``name`` (the config's ``features_extractor``), ``class``,
            ``image_shape`` and :meth:`robot_rl.nets.DepthCnnExtractor.describe`.
    """

    algo: str
    inputs: list[InputSpec]
    layers: list[LayerSpec]
    postprocess: str
    action_low: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    action_high: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    n_actions: int = 0
    feature_order: list[str] | None = None
    extractor: dict[str, Any] | None = None

    @property
    def obs_dim(self) -> int:
        """Total observation entries (all inputs concatenated)."""
        return sum(i.size for i in self.inputs)

    @property
    def ordered_features(self) -> list[InputSpec]:
        """Inputs in the order their features are concatenated (see ``feature_order``)."""
        if self.feature_order is None:
            return list(self.inputs)
        by_name = {i.name: i for i in self.inputs}
        return [by_name[n] for n in self.feature_order]

    @property
    def features_dim(self) -> int:
        """Entries of the feature vector the dense layers read (image branches give their features)."""
        return sum(i.image.features if i.image is not None else i.size for i in self.inputs)

    @property
    def has_images(self) -> bool:
        """Whether any input goes through a convolutional branch."""
        return any(i.image is not None for i in self.inputs)

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
    if algo == "ppo":
        if getattr(policy, "squash_output", False):
            raise InputError("PPO with squash_output=True (gSDE) is not supported; train with use_sde=False")
        extractor = policy.pi_features_extractor
    elif algo in ("sac", "tqc", "td3"):
        extractor = policy.actor.features_extractor
    else:  # dqn
        extractor = policy.q_net.features_extractor
    cnn = _depth_cnn(extractor)
    if cnn is None and type(extractor).__name__ not in ("FlattenExtractor", "CombinedExtractor"):
        raise InputError(
            f"features extractor {type(extractor).__name__} is not supported; accepted: {ACCEPTED_EXTRACTORS}"
        )
    image_keys = () if cnn is None else (cnn.image_key,)
    inputs = _inputs(model.observation_space, vecnormalize, image_keys)
    feature_order, described = _check_extractor(extractor, inputs, cnn)
    if algo == "ppo":
        layers = _dense_chain(policy.mlp_extractor.policy_net) + _dense_chain(policy.action_net)
    elif algo in ("sac", "tqc"):
        actor = policy.actor
        layers = _dense_chain(actor.latent_pi) + _dense_chain(actor.mu)
        layers[-1].activation = "identity"  # the squash is part of postprocess
    elif algo == "td3":
        layers = _dense_chain(policy.actor.mu)
        if layers[-1].activation != "tanh":
            raise InputError("TD3 actor must end with Tanh (SB3 default); got " + layers[-1].activation)
        layers[-1].activation = "identity"
    else:  # dqn
        layers = _dense_chain(policy.q_net.q_net)
    spec = _finish(algo, inputs, layers, model.action_space)
    spec.feature_order, spec.extractor = feature_order, described
    return spec


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


def _inputs(obs_space: Any, vecnormalize: Any | None, image_keys: tuple[str, ...] = ()) -> list[InputSpec]:
    if isinstance(obs_space, spaces.Box):
        boxes = {"obs": obs_space}
    elif isinstance(obs_space, spaces.Dict) and all(isinstance(s, spaces.Box) for s in obs_space.values()):
        boxes = {k: v for k, v in obs_space.spaces.items() if isinstance(v, spaces.Box)}
    else:
        raise InputError(f"observation space must be a Box or a Dict of Boxes, got {obs_space}")
    inputs = []
    for name, box in boxes.items():
        image = name in image_keys and len(box.shape) == 3
        if box.dtype != np.float32 or not (len(box.shape) == 1 or image):
            accepted = "a 1-D float32 Box" + (
                " or a (1, H, W) float32 Box (the image)"
                if image_keys
                else " (an image needs algo.policy_kwargs.features_extractor: depth_cnn)"
            )
            raise InputError(f"observation {name!r} must be {accepted}, got {box}")
        low = np.asarray(box.low, np.float32).reshape(-1)
        high = np.asarray(box.high, np.float32).reshape(-1)
        shape = tuple(int(n) for n in box.shape) if image else None
        inputs.append(InputSpec(name, int(low.size), low, high, shape=shape))
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


#: What the exporters implement, for refusal messages.
ACCEPTED_EXTRACTORS = (
    "FlattenExtractor (Box observations), CombinedExtractor with Flatten per key (Dict of 1-D Box "
    "observations), or robot_rl.nets.DepthCnnExtractor (config: algo.policy_kwargs.features_extractor: "
    "depth_cnn)"
)
#: The layers of a DepthCnnExtractor's ``cnn`` that the exporters implement.
ACCEPTED_CNN_LAYERS = (
    "Conv2d (square kernel, equal strides, no padding, dilation 1, groups 1), ReLU, Flatten, Linear"
)


def _depth_cnn(extractor: Any) -> Any | None:
    """``extractor`` if it is exactly a :class:`robot_rl.nets.DepthCnnExtractor`, else ``None``.

    A subclass may override ``forward`` or ``preprocess``, so it is refused (by :func:`_check_extractor`).
    """
    from robot_rl.nets import DepthCnnExtractor

    return extractor if type(extractor) is DepthCnnExtractor else None


def _check_extractor(
    extractor: Any, inputs: list[InputSpec], cnn: Any | None
) -> tuple[list[str] | None, dict[str, Any] | None]:
    """Accept SB3's FlattenExtractor (flat Box), CombinedExtractor of Flatten (Dict) and the depth CNN.

    Returns:
        ``(feature_order, extractor settings)``; the image input gets its :class:`ImageSpec`.
    """
    import torch.nn as nn

    kind = type(extractor).__name__
    if cnn is not None:
        return _read_depth_cnn(cnn, inputs)
    if kind == "FlattenExtractor" and len(inputs) == 1 and inputs[0].name == "obs":
        return None, None
    if kind == "CombinedExtractor":
        keys = list(extractor.extractors.keys())
        if keys == [i.name for i in inputs] and all(
            isinstance(m, nn.Flatten) for m in extractor.extractors.values()
        ):
            return None, None
    raise InputError(f"features extractor {kind} is not supported; accepted: {ACCEPTED_EXTRACTORS}")


def _read_depth_cnn(cnn: Any, inputs: list[InputSpec]) -> tuple[list[str], dict[str, Any]]:
    """The :class:`ImageSpec` of a DepthCnnExtractor (attached to its image input) and its settings."""
    import torch.nn as nn

    by_name = {i.name: i for i in inputs}
    image, proprio = by_name.get(cnn.image_key), by_name.get(cnn.proprio_key)
    if image is None or proprio is None or image.shape is None or len(inputs) != 2:
        raise InputError(
            f"DepthCnnExtractor reads {cnn.image_key!r} (image) and {cnn.proprio_key!r} (vector); the "
            f"observation has {[i.name for i in inputs]}"
        )
    c, h, w = (int(n) for n in image.shape)
    convs: list[ConvSpec] = []
    linear: LayerSpec | None = None
    for m in cnn.cnn:
        name = type(m).__name__
        if isinstance(m, nn.Conv2d) and linear is None:
            if (
                m.kernel_size[0] != m.kernel_size[1]  # type: ignore[index]
                or m.stride[0] != m.stride[1]  # type: ignore[index]
                or any(int(p) != 0 for p in m.padding)  # type: ignore[union-attr]
                or any(int(d) != 1 for d in m.dilation)
                or m.groups != 1
            ):
                raise InputError(
                    f"Conv2d(kernel={m.kernel_size}, stride={m.stride}, padding={m.padding}, "
                    f"dilation={m.dilation}, groups={m.groups}) is not supported; accepted layers: "
                    + ACCEPTED_CNN_LAYERS
                )
            conv = ConvSpec(
                m.weight.detach().cpu().numpy().astype(np.float32),
                _bias(m, m.out_channels),
                int(m.stride[0]),  # type: ignore[index]
                h,
                w,
            )
            convs.append(conv)
            h, w = conv.out_h, conv.out_w
        elif (isinstance(m, nn.ReLU) and (convs or linear is not None)) or (
            isinstance(m, nn.Flatten) and convs and linear is None
        ):
            continue
        elif isinstance(m, nn.Linear) and convs and linear is None:
            linear = LayerSpec(m.weight.detach().cpu().numpy().astype(np.float32), _bias(m, m.out_features))
            linear.activation = "relu"
        else:
            raise InputError(
                f"layer {name} (at this place) in DepthCnnExtractor.cnn is not supported; accepted: "
                f"{ACCEPTED_CNN_LAYERS}, in the order (Conv2d, ReLU)+, Flatten, Linear, ReLU"
            )
    acts = [type(m).__name__ for m in cnn.cnn]
    expected = ["Conv2d", "ReLU"] * len(convs) + ["Flatten", "Linear", "ReLU"]
    if linear is None or acts != expected or linear.weight.shape[1] != convs[-1].out_channels * h * w:
        raise InputError(
            f"DepthCnnExtractor.cnn is {acts}; accepted: {ACCEPTED_CNN_LAYERS}, in the order "
            "(Conv2d, ReLU)+, Flatten, Linear, ReLU"
        )
    if convs[0].in_channels != c:
        raise InputError(f"first Conv2d takes {convs[0].in_channels} channels, the image has {c}")
    image.image = ImageSpec((c, int(image.shape[1]), int(image.shape[2])), cnn.near, cnn.far, convs, linear)
    settings = {
        "name": "depth_cnn",
        "class": "robot_rl.nets.DepthCnnExtractor",
        "image_shape": [c, int(image.shape[1]), int(image.shape[2])],
        **cnn.describe(),
    }
    return [image.name, proprio.name], settings


def _bias(m: Any, n: int) -> NDArray[np.float32]:
    if m.bias is None:
        return np.zeros(n, np.float32)
    return np.asarray(m.bias.detach().cpu().numpy(), np.float32)


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
