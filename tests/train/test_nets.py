"""The depth-image features extractor: preprocessing, shapes, SB3 integration and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from robot_rl.errors import InputError
from robot_rl.nets import FEATURES_EXTRACTORS, DepthCnnExtractor


def depth_space(h: int = 32, w: int = 32, p: int = 7) -> spaces.Dict:
    return spaces.Dict(
        {
            "depth": spaces.Box(0.0, 2.0, (1, h, w), np.float32),
            "proprio": spaces.Box(-np.inf, np.inf, (p,), np.float32),
        }
    )


def test_preprocessing_clips_to_near_far_and_scales_to_unit_range() -> None:
    ex = DepthCnnExtractor(depth_space(), near=0.1, far=0.5)
    d = torch.tensor([0.0, 0.1, 0.3, 0.5, 1.7])
    assert torch.allclose(ex.preprocess(d), torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))


def test_features_are_cnn_then_proprio_with_the_declared_width() -> None:
    torch.manual_seed(0)
    ex = DepthCnnExtractor(
        depth_space(32, 40, 7), channels=(4, 8), kernels=(5, 3), strides=(2, 2), cnn_features=16
    )
    obs = {"depth": torch.rand(3, 1, 32, 40), "proprio": torch.arange(21, dtype=torch.float32).reshape(3, 7)}
    out = ex(obs)
    assert ex.features_dim == 16 + 7 and out.shape == (3, 23)
    assert torch.equal(out[:, 16:], obs["proprio"])  # proprioception passes through unchanged
    assert (out[:, :16] >= 0).all()  # ReLU after the linear layer
    # 32x40 -> conv5/2 -> 14x18 -> conv3/2 -> 6x8
    assert ex.cnn[-2].in_features == 8 * 6 * 8
    info = ex.describe()
    assert info["convolutions"] == [
        {"in": 1, "out": 4, "kernel": 5, "stride": 2},
        {"in": 4, "out": 8, "kernel": 3, "stride": 2},
    ]
    assert (info["near"], info["far"], info["cnn_features"]) == (0.07, 0.5, 16)


def test_sb3_multi_input_policy_uses_it_by_name() -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from tests.deploy.toy_envs import register_toy_envs

    assert FEATURES_EXTRACTORS["depth_cnn"] is DepthCnnExtractor
    register_toy_envs()
    import gymnasium as gym

    class DepthToy(gym.Env):
        observation_space = depth_space(24, 24, 3)
        action_space = spaces.Box(-1, 1, (2,), np.float32)

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, False, True, {}

    venv = make_vec_env(DepthToy, n_envs=1)
    model = PPO(
        "MultiInputPolicy",
        venv,
        n_steps=16,
        batch_size=16,
        n_epochs=1,
        policy_kwargs={
            "features_extractor_class": DepthCnnExtractor,
            "features_extractor_kwargs": {"cnn_features": 8},
        },
    )
    model.learn(16)
    action, _ = model.predict(DepthToy.observation_space.sample(), deterministic=True)
    assert action.shape == (2,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channels": (4, 8), "kernels": (3,), "strides": (2, 2)}, "need the same length"),
        ({"near": 0.5, "far": 0.1}, "expected 0 <= near < far"),
        (
            {"channels": (4, 4, 4, 4), "kernels": (5, 5, 5, 5), "strides": (2, 2, 2, 2)},
            "too small for convolutions",
        ),
    ],
)
def test_bad_settings_are_refused_when_built(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        DepthCnnExtractor(depth_space(), **kwargs)


def test_a_space_without_image_and_proprio_is_refused() -> None:
    with pytest.raises(InputError, match=r"needs the observation space Dict\{'depth': Box\(1, H, W\)"):
        DepthCnnExtractor(spaces.Dict({"obs": spaces.Box(0, 1, (3,), np.float32)}))  # type: ignore[arg-type]
    bad = spaces.Dict({"depth": spaces.Box(0, 1, (3, 8, 8), np.float32), "proprio": spaces.Box(0, 1, (2,))})
    with pytest.raises(InputError, match=r"'depth' must be a Box of shape \(1, H, W\)"):
        DepthCnnExtractor(bad)
