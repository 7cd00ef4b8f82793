"""The torch module holding the WHOLE observation -> action path, built from a :class:`PolicySpec`.

``forward(*inputs)`` takes the raw float32 observation inputs (batch-first, in
``spec.inputs`` order) and returns the action the env accepts:

1. the env's clip of each input into its observation-space Box, in float32 (the envs return
   ``minimum(maximum(obs, low), high)``): an observation outside the Box gives the action of the
   clipped one. Infinite bounds never clip; an input whose bounds are all infinite is left as is;
2. VecNormalize's exact formula per normalized input, computed in float64 as numpy does:
   ``clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs)``, then cast to float32;
3. image inputs (flat ``C*H*W`` vectors at the interface, row-major) are reshaped to
   ``(batch, C, H, W)`` and go through their convolutional branch (:class:`_ImageBranch`: the
   depth extractor's clip to ``[near, far]`` and scale to ``[0, 1]``, Conv2d + ReLU per layer,
   flatten, Linear + ReLU); the features are concatenated in the extractor's order;
   then the dense layers of the deterministic actor (PPO mean, SAC/TD3/TQC pre-tanh mean, DQN Q);
4. SB3's post-processing: PPO Box ``clip(a, low, high)``; SAC/TD3/TQC
   ``low + 0.5 * (tanh(a) + 1) * (high - low)``; argmax for discrete actions (int64 index).

There are no random ops: the deterministic action is the distribution's mode.

NaN propagates to a Box action (the robot-side safety filter detects NaN actions). Every clip is
therefore written :func:`box_clip`: ``where(x < low, low, where(x > high, high, x))`` (ONNX
``Less``/``Greater``/``Where``). Ordered comparisons with NaN are false in every runtime, whereas
ONNX ``Min``/``Max``/``Clip`` with a NaN operand differ between runtimes and versions (ONNX
Runtime's CPU ``Min``/``Max`` returned the bound before 1.19, microsoft/onnxruntime#21455; ``Clip``
differs between its CPU and CUDA providers, onnx/onnx#6003). For non-NaN values the result equals
numpy's ``minimum(maximum(x, low), high)`` (up to the sign of a zero equal to a bound).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robot_rl.deploy.spec import ImageSpec, InputSpec, PolicySpec
from robot_rl.errors import InputError


def box_clip(x: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """``x`` clipped into ``[low, high]``; NaN passes through and infinite bounds never clip.

    Args:
        x: Values to clip.
        low: Lower bounds (broadcast against ``x``; ``-inf`` entries do not clip).
        high: Upper bounds (broadcast against ``x``; ``inf`` entries do not clip).

    Returns:
        ``where(x < low, low, where(x > high, high, x))`` (see module docstring).
    """
    return torch.where(x < low, low, torch.where(x > high, high, x))


class _BoxClip(nn.Module):
    """The env's clip of one raw float32 input into its observation-space Box."""

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, low: torch.Tensor, high: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("low", low.to(torch.float32))
        self.register_buffer("high", high.to(torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return box_clip(x, self.low, self.high)


def _obs_clip(inp: InputSpec) -> nn.Module:
    """:class:`_BoxClip` for ``inp``, or identity when none of its bounds is finite."""
    if not (np.isfinite(inp.low).any() or np.isfinite(inp.high).any()):
        return nn.Identity()
    return _BoxClip(torch.from_numpy(inp.low.copy()), torch.from_numpy(inp.high.copy()))


class _Normalize(nn.Module):
    """VecNormalize's formula in float64 (identical rounding to numpy), output float32."""

    mean: torch.Tensor
    std: torch.Tensor
    clip_low: torch.Tensor
    clip_high: torch.Tensor

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, clip_obs: float) -> None:
        super().__init__()
        self.register_buffer("mean", mean.to(torch.float64))
        self.register_buffer("std", std.to(torch.float64))
        self.register_buffer("clip_low", torch.tensor(-float(clip_obs), dtype=torch.float64))
        self.register_buffer("clip_high", torch.tensor(float(clip_obs), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x.to(torch.float64) - self.mean) / self.std
        return box_clip(z, self.clip_low, self.clip_high).to(torch.float32)


def _activation(name: str, alpha: float) -> nn.Module:
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    if name == "elu":
        return nn.ELU(alpha=alpha)
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=alpha)
    if name == "identity":
        return nn.Identity()
    raise InputError(f"activation {name!r} is not supported; accepted: tanh, relu, elu, leaky_relu, identity")


class _ImageBranch(nn.Module):
    """Flat image ``(batch, C*H*W)`` -> features: reshape, preprocessing, convolutions, flatten, linear.

    The preprocessing is written as :class:`robot_rl.nets.DepthCnnExtractor.preprocess` computes it
    (float32 ``(clip(d, near, far) - near) / (far - near)`` with Python-float scalars), except that
    the clip is :func:`box_clip` (NaN passes through, as ``clamp`` does).
    """

    near_t: torch.Tensor
    far_t: torch.Tensor

    def __init__(self, image: ImageSpec) -> None:
        super().__init__()
        self.shape = tuple(int(n) for n in image.shape)
        self.preprocess = image.near is not None and image.far is not None
        self.near = float(image.near or 0.0)
        self.far = float(image.far or 1.0)
        self.register_buffer("near_t", torch.tensor(self.near, dtype=torch.float32))
        self.register_buffer("far_t", torch.tensor(self.far, dtype=torch.float32))
        mods: list[nn.Module] = []
        for conv in image.convs:
            layer = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel, stride=conv.stride)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(conv.weight))
                layer.bias.copy_(torch.from_numpy(conv.bias))  # type: ignore[union-attr]
            mods += [layer, nn.ReLU()]
        lin = nn.Linear(image.linear.weight.shape[1], image.linear.weight.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(image.linear.weight))
            lin.bias.copy_(torch.from_numpy(image.linear.bias))
        self.cnn = nn.Sequential(*mods, nn.Flatten(), lin, nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = self.shape
        img = x.reshape(-1, c, h, w)
        if self.preprocess:
            img = (box_clip(img, self.near_t, self.far_t) - self.near) / (self.far - self.near)
        return self.cnn(img)


class ExportedPolicy(nn.Module):
    """Raw observation inputs -> env action (see module docstring).

    Args:
        spec: The policy description (weights are copied, float32).
    """

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, spec: PolicySpec) -> None:
        super().__init__()
        self.obs_clips = nn.ModuleList(_obs_clip(i) for i in spec.inputs)
        self.normalizers = nn.ModuleList(
            _Normalize(torch.from_numpy(i.mean), torch.from_numpy(i.std), i.clip_obs)
            if i.normalized and i.mean is not None
            else nn.Identity()
            for i in spec.inputs
        )
        # per input: its convolutional branch (images) or identity; then the extractor's concat order
        self.branches = nn.ModuleList(
            _ImageBranch(i.image) if i.image is not None else nn.Identity() for i in spec.inputs
        )
        names = [i.name for i in spec.inputs]
        self.order = [names.index(i.name) for i in spec.ordered_features]
        mods: list[nn.Module] = []
        for layer in spec.layers:
            lin = nn.Linear(layer.weight.shape[1], layer.weight.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.weight))
                lin.bias.copy_(torch.from_numpy(layer.bias))
            mods += [lin, _activation(layer.activation, layer.alpha)]
        self.net = nn.Sequential(*mods)
        self.postprocess = spec.postprocess
        self.register_buffer("low", torch.from_numpy(spec.action_low.copy()))
        self.register_buffer("high", torch.from_numpy(spec.action_high.copy()))
        self.eval()

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        clipped = [clip(x) for clip, x in zip(self.obs_clips, inputs, strict=True)]
        normed = [norm(x) for norm, x in zip(self.normalizers, clipped, strict=True)]
        feats = [branch(x) for branch, x in zip(self.branches, normed, strict=True)]
        parts = [feats[k] for k in self.order]
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        out = self.net(x)
        if self.postprocess == "argmax":
            return torch.argmax(out, dim=-1)
        if self.postprocess == "clip":
            return box_clip(out, self.low, self.high)
        return self.low + 0.5 * (torch.tanh(out) + 1.0) * (self.high - self.low)


def example_inputs(spec: PolicySpec, batch: int = 1) -> tuple[torch.Tensor, ...]:
    """Zero inputs of shape ``(batch, size)`` per input (for tracing and export)."""
    return tuple(torch.zeros(batch, i.size, dtype=torch.float32) for i in spec.inputs)
