"""The torch module holding the WHOLE observation -> action path, built from a :class:`PolicySpec`.

``forward(*inputs)`` takes the raw float32 observation inputs (batch-first, in
``spec.inputs`` order) and returns the action the env accepts:

1. VecNormalize's exact formula per normalized input, computed in float64 as numpy does:
   ``clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs)``, then cast to float32;
2. the dense layers of the deterministic actor (PPO mean, SAC/TD3/TQC pre-tanh mean, DQN Q);
3. SB3's post-processing: PPO Box ``clip(a, low, high)``; SAC/TD3/TQC
   ``low + 0.5 * (tanh(a) + 1) * (high - low)``; argmax for discrete actions (int64 index).

There are no random ops: the deterministic action is the distribution's mode.
"""

from __future__ import annotations

import torch
from torch import nn

from robot_rl.deploy.spec import PolicySpec


class _Normalize(nn.Module):
    """VecNormalize's formula in float64 (identical rounding to numpy), output float32."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, clip_obs: float) -> None:
        super().__init__()
        self.register_buffer("mean", mean.to(torch.float64))
        self.register_buffer("std", std.to(torch.float64))
        self.clip_obs = float(clip_obs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x.to(torch.float64) - self.mean) / self.std
        return torch.clamp(z, -self.clip_obs, self.clip_obs).to(torch.float32)


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
    raise ValueError(f"activation {name!r} is not supported; accepted: tanh, relu, elu, leaky_relu, identity")


class ExportedPolicy(nn.Module):
    """Raw observation inputs -> env action (see module docstring).

    Args:
        spec: The policy description (weights are copied, float32).
    """

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, spec: PolicySpec) -> None:
        super().__init__()
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
        parts = [norm(x) for norm, x in zip(self.normalizers, inputs, strict=True)]
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        out = self.net(x)
        if self.postprocess == "argmax":
            return torch.argmax(out, dim=-1)
        if self.postprocess == "clip":
            return torch.maximum(torch.minimum(out, self.high), self.low)
        return self.low + 0.5 * (torch.tanh(out) + 1.0) * (self.high - self.low)


def example_inputs(spec: PolicySpec, batch: int = 1) -> tuple[torch.Tensor, ...]:
    """Zero inputs of shape ``(batch, size)`` per input (for tracing and export)."""
    return tuple(torch.zeros(batch, i.size, dtype=torch.float32) for i in spec.inputs)
