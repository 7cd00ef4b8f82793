"""The torch module holding the WHOLE observation -> action path, built from a :class:`PolicySpec`.

``forward(*inputs)`` takes the raw float32 observation inputs (batch-first, in
``spec.inputs`` order) and returns the action the env accepts:

1. the env's clip of each input into its observation-space Box, in float32 (the envs return
   ``minimum(maximum(obs, low), high)``): an observation outside the Box gives the action of the
   clipped one. Infinite bounds never clip; an input whose bounds are all infinite is left as is;
2. VecNormalize's exact formula per normalized input, computed in float64 as numpy does:
   ``clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs)``, then cast to float32;
3. the dense layers of the deterministic actor (PPO mean, SAC/TD3/TQC pre-tanh mean, DQN Q);
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

from robot_rl.deploy.spec import InputSpec, PolicySpec
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
        parts = [norm(x) for norm, x in zip(self.normalizers, clipped, strict=True)]
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
