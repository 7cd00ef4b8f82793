"""Network parts the trainer builds and the exporter reads back: the depth-image features extractor.

:class:`DepthCnnExtractor` is a Stable-Baselines3 features extractor for observations
``Dict{"depth": Box(1, H, W), "proprio": Box(P,)}`` (the depth-camera grasp env, ``obs_mode="depth"``).
It keeps the image preprocessing *inside* the network, so every export (ONNX, TorchScript, C)
carries it and the robot feeds raw metres:

1. ``depth`` is clipped to ``[near, far]`` and scaled to ``[0, 1]``: ``(clip(d) - near) / (far - near)``;
2. a small CNN: ``Conv2d -> ReLU`` per entry of ``channels``/``kernels``/``strides`` (no padding),
   ``Flatten``, ``Linear(cnn_features) -> ReLU``;
3. the features are ``concat(cnn(depth), proprio)``; SB3's policy MLP (``net_arch``) follows.

The layer list is deliberately small and fixed (Conv2d, ReLU, Flatten, Linear): exactly what the
exporter implements, so an unsupported network is refused when the config is read, not after
training (:data:`CNN_ACTIVATIONS`).

This module sits below both ``train`` and ``deploy`` (import-linter layers): the trainer builds the
extractor, the exporter reads its weights and settings.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from robot_rl.errors import InputError

#: the activations the exporter implements inside the CNN
CNN_ACTIVATIONS = ("relu",)
#: ``algo.policy_kwargs.features_extractor`` name -> class (what a YAML config may name)
FEATURES_EXTRACTORS: dict[str, type[BaseFeaturesExtractor]] = {}


class DepthCnnExtractor(BaseFeaturesExtractor):
    """CNN on a depth image (metres) plus the proprioception vector as is (see the module docstring).

    Args:
        observation_space: ``Dict`` with ``image_key`` (``Box`` of shape ``(1, H, W)``) and
            ``proprio_key`` (``Box`` of shape ``(P,)``).
        near: Near clip of the depth image in metres (the camera contract's ``near``).
        far: Far clip in metres.
        channels: Output channels of each convolution.
        kernels: Kernel size of each convolution (square).
        strides: Stride of each convolution.
        cnn_features: Width of the linear layer after the convolutions.
        image_key: Dict key of the depth image.
        proprio_key: Dict key of the proprioception vector.

    Raises:
        InputError: a space that does not fit, lists of different lengths, an image too small
            for the convolutions, or ``near >= far``.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        near: float = 0.07,
        far: float = 0.5,
        channels: tuple[int, ...] | list[int] = (16, 32, 32),
        kernels: tuple[int, ...] | list[int] = (5, 3, 3),
        strides: tuple[int, ...] | list[int] = (2, 2, 2),
        cnn_features: int = 64,
        image_key: str = "depth",
        proprio_key: str = "proprio",
    ) -> None:
        image, proprio = _check_space(observation_space, image_key, proprio_key)
        if not (len(channels) == len(kernels) == len(strides) >= 1):
            raise InputError(
                f"channels {list(channels)}, kernels {list(kernels)} and strides {list(strides)} need "
                "the same length >= 1 (one entry per convolution)"
            )
        if not 0 <= near < far:
            raise InputError(f"depth near={near} and far={far}: expected 0 <= near < far (metres)")
        _, height, width = image.shape
        convs: list[nn.Module] = []
        c_in, h, w = 1, height, width
        for c_out, k, s in zip(channels, kernels, strides, strict=True):
            h, w = (h - k) // s + 1, (w - k) // s + 1
            if h < 1 or w < 1:
                raise InputError(
                    f"a {height}x{width} image is too small for convolutions kernels={list(kernels)}, "
                    f"strides={list(strides)} (no padding)"
                )
            convs += [nn.Conv2d(c_in, int(c_out), int(k), stride=int(s)), nn.ReLU()]
            c_in = int(c_out)
        n_flat = c_in * h * w
        super().__init__(observation_space, features_dim=int(cnn_features) + int(proprio.shape[0]))
        self.near, self.far = float(near), float(far)
        self.image_key, self.proprio_key = image_key, proprio_key
        self.cnn = nn.Sequential(*convs, nn.Flatten(), nn.Linear(n_flat, int(cnn_features)), nn.ReLU())

    def preprocess(self, depth: torch.Tensor) -> torch.Tensor:
        """Metres -> ``[0, 1]``: clip to ``[near, far]``, subtract ``near``, divide by ``far - near``."""
        return (depth.clamp(self.near, self.far) - self.near) / (self.far - self.near)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        image = self.preprocess(observations[self.image_key])
        return torch.cat([self.cnn(image), observations[self.proprio_key].flatten(1)], dim=1)

    def describe(self) -> dict[str, Any]:
        """The settings an exporter and the manifest need (keys, clip range, layer shapes)."""
        convs = [m for m in self.cnn if isinstance(m, nn.Conv2d)]
        return {
            "image_key": self.image_key,
            "proprio_key": self.proprio_key,
            "near": self.near,
            "far": self.far,
            "convolutions": [
                {
                    "in": m.in_channels,
                    "out": m.out_channels,
                    "kernel": int(m.kernel_size[0]),  # type: ignore[index]
                    "stride": int(m.stride[0]),  # type: ignore[index]
                }
                for m in convs
            ],
            "cnn_features": int(self.cnn[-2].out_features),  # type: ignore[union-attr,arg-type]
        }


def _check_space(space: Any, image_key: str, proprio_key: str) -> tuple[spaces.Box, spaces.Box]:
    accepted = f"Dict{{{image_key!r}: Box(1, H, W), {proprio_key!r}: Box(P,)}}"
    if not isinstance(space, spaces.Dict) or set(space.spaces) != {image_key, proprio_key}:
        raise InputError(f"DepthCnnExtractor needs the observation space {accepted}, got {space}")
    image, proprio = space[image_key], space[proprio_key]
    if not isinstance(image, spaces.Box) or len(image.shape) != 3 or image.shape[0] != 1:
        raise InputError(f"DepthCnnExtractor: {image_key!r} must be a Box of shape (1, H, W), got {image}")
    if not isinstance(proprio, spaces.Box) or len(proprio.shape) != 1:
        raise InputError(f"DepthCnnExtractor: {proprio_key!r} must be a Box of shape (P,), got {proprio}")
    return image, proprio


FEATURES_EXTRACTORS["depth_cnn"] = DepthCnnExtractor
