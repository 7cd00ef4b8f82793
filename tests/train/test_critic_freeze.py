"""SAC/TQC without the critic's weight gradients in the actor update: bit-identical weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import torch
from sb3_contrib import TQC
from stable_baselines3 import SAC, TD3

from robot_rl.train.critic_freeze import skip_critic_weight_grads


def _model(cls: Any, freeze: bool) -> Any:
    torch.manual_seed(0)
    kwargs: dict[str, Any] = {"learning_starts": 64, "batch_size": 32, "seed": 0, "device": "cpu"}
    kwargs["policy_kwargs"] = {"net_arch": [32, 32]}
    model = cls("MlpPolicy", gym.make("Pendulum-v1"), **kwargs)
    installed = skip_critic_weight_grads(model) if freeze else None
    if freeze:
        assert installed is True
    return model


def _train(cls: Any, freeze: bool, steps: int = 200) -> Any:
    model = _model(cls, freeze)
    model.learn(steps)
    return model


@pytest.mark.parametrize("cls", [SAC, TQC])
def test_weights_are_bit_identical_and_critic_grads_are_skipped(cls: Any) -> None:
    plain, frozen = _train(cls, freeze=False), _train(cls, freeze=True)
    assert frozen._n_updates == plain._n_updates > 100
    for name in ("actor", "critic", "critic_target"):
        a, b = getattr(plain, name).state_dict(), getattr(frozen, name).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key} differs"
    assert torch.equal(plain.log_ent_coef, frozen.log_ent_coef)
    # The hooks did something: without them the last actor loss added its gradient to the
    # critic's .grad (it stays until the next critic zero_grad); with them .grad holds the critic
    # loss's gradient only.
    grads_plain = [p.grad for p in plain.critic.optimizer.param_groups[0]["params"]]
    grads_frozen = [p.grad for p in frozen.critic.optimizer.param_groups[0]["params"]]
    assert any(not torch.equal(a, b) for a, b in zip(grads_plain, grads_frozen, strict=True))
    # Training ends thawed: the critic can be trained or fine-tuned as usual afterwards.
    assert all(p.requires_grad for p in frozen.critic.parameters())


def test_frozen_only_between_critic_step_and_actor_step() -> None:
    model = _model(SAC, freeze=True)
    params = model.critic.optimizer.param_groups[0]["params"]
    model.critic.optimizer.step()
    assert not any(p.requires_grad for p in params)
    model.actor.optimizer.step()
    assert all(p.requires_grad for p in params)


def test_td3_is_left_alone_and_install_is_idempotent() -> None:
    td3 = TD3("MlpPolicy", gym.make("Pendulum-v1"), seed=0, device="cpu")
    assert skip_critic_weight_grads(td3) is False
    assert not td3.critic.optimizer._optimizer_step_post_hooks
    sac = _model(SAC, freeze=True)
    assert skip_critic_weight_grads(sac) is True
    assert len(sac.critic.optimizer._optimizer_step_post_hooks) == 1
    assert len(sac.actor.optimizer._optimizer_step_post_hooks) == 1


def test_saved_model_is_plain_and_a_loaded_one_gets_the_hooks_again(tmp_path: Path) -> None:
    model = _train(SAC, freeze=True, steps=100)
    model.save(tmp_path / "m.zip")
    loaded = SAC.load(tmp_path / "m.zip", device="cpu")
    assert not loaded.critic.optimizer._optimizer_step_post_hooks
    assert skip_critic_weight_grads(loaded) is True
    assert len(loaded.critic.optimizer._optimizer_step_post_hooks) == 1


def test_an_n_step_model_reloads_with_its_n_step_buffer_and_no_warning(tmp_path: Path) -> None:
    import warnings

    from robot_rl.runs import load_model

    model = SAC("MlpPolicy", gym.make("Pendulum-v1"), n_steps=5, gamma=0.98, device="cpu", seed=0)
    model.save(tmp_path / "m.zip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plain = SAC.load(tmp_path / "m.zip", env=gym.make("Pendulum-v1"), device="cpu")
    assert any("n_steps=5" in str(w.message) for w in caught)  # SB3's own load warns ...
    assert plain.replay_buffer.n_steps == 5  # ... although the buffer keeps its n steps
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_model(SAC, tmp_path / "m.zip", env=gym.make("Pendulum-v1"), device="cpu")
    assert not [w for w in caught if "n_steps" in str(w.message)]
    assert type(loaded.replay_buffer).__name__ == "NStepReplayBuffer"
    assert (loaded.replay_buffer.n_steps, loaded.replay_buffer.gamma) == (5, 0.98)
