"""Warm-start learners with episodes of a scripted controller.

Off-policy learners (SAC, TD3, TQC, DQN): the episodes seed the replay buffer
(:func:`prefill_with_demos`). PPO: the actor's mean is first fitted to the controller's actions
by behaviour cloning (:func:`behaviour_clone`, ``F.mse_loss`` on the policy mean, Adam), then
PPO improves it with its own rollouts.

Why: on a dense-but-long-horizon task such as grasp-and-lift, a learner that never closes the
gripper around the object never sees the grasp and lift rewards; a few hundred demonstration
episodes in the replay buffer (as in DDPG-from-demonstrations, Vecerik et al. 2017, or
Nair et al. 2018) let the critic value grasping from the first gradient step. The learner then
improves on the controller with its own data. Demonstration transitions are real environment
steps: they are counted in ``num_timesteps`` and in the wall time, so reported budgets are honest.

A controller is named ``"module:Class"``; it is built as ``Class(obs_layout)`` per env, has
``reset()`` (called at every episode start) and maps one raw observation (flat vector or goal
Dict) to an action in the env's action space.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from robot_rl.errors import InputError


def load_controller_class(spec: str) -> Any:
    """Import ``"package.module:Class"``.

    Raises:
        ValueError: Malformed spec, or module/class not found.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(
            f"train.demo_controller={spec!r}; expected 'module:Class', e.g. "
            "'robot_rl.envs.scripted.grasp_controller:ScriptedGraspController'"
        )
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"train.demo_controller={spec!r} cannot be imported: {exc}") from exc


def _raw_obs(obs: Any, i: int) -> Any:
    if isinstance(obs, dict):
        return {k: v[i] for k, v in obs.items()}
    return obs[i]


def collect_demos(model: Any, controller_spec: str, episodes: int, into_buffer: bool) -> dict[str, Any]:
    """Run ``episodes`` controller episodes in the model's training envs.

    The transitions go through ``VecNormalize`` (statistics updated, raw observations kept, as
    SB3 does for its own rollouts), advance ``model.num_timesteps``, and go into the replay buffer
    when ``into_buffer``.

    Returns:
        ``{"episodes", "steps", "success_rate", "obs", "actions"}`` (raw observations and actions,
        stacked over steps and envs).
    """
    cls = load_controller_class(controller_spec)
    venv = model.get_env()
    vecnorm = model.get_vec_normalize_env()
    layouts = venv.get_attr("obs_layout")
    controllers = [cls(layout) for layout in layouts]
    for c in controllers:
        c.reset()
    first = venv.reset()
    raw = vecnorm.get_original_obs() if vecnorm is not None else first
    done_eps = successes = steps = 0
    n = venv.num_envs
    all_obs: list[Any] = []
    all_actions: list[np.ndarray] = []
    while done_eps < episodes:
        actions = np.stack([controllers[i](_raw_obs(raw, i)) for i in range(n)])
        obs, rewards, dones, infos = venv.step(actions)
        new_raw = vecnorm.get_original_obs() if vecnorm is not None else obs
        rewards_raw = vecnorm.get_original_reward() if vecnorm is not None else rewards
        if into_buffer:
            next_obs = _next_obs(new_raw, dones, infos, vecnorm)
            model.replay_buffer.add(raw, next_obs, actions, rewards_raw, dones, infos)
        else:
            all_obs.append(raw)
            all_actions.append(actions)
        steps += n
        for i in np.flatnonzero(dones):
            done_eps += 1
            successes += int(bool(infos[i].get("is_success", False)))
            controllers[i].reset()
        raw = new_raw
    model.num_timesteps += steps
    model._last_obs = None  # learn() resets the envs: no half-finished demo episode continues
    return {
        "episodes": float(done_eps),
        "steps": float(steps),
        "success_rate": successes / max(done_eps, 1),
        "obs": all_obs,
        "actions": all_actions,
    }


def prefill_with_demos(model: Any, controller_spec: str, episodes: int) -> dict[str, Any]:
    """Controller episodes into an off-policy learner's replay buffer (see :func:`collect_demos`)."""
    return collect_demos(model, controller_spec, episodes, into_buffer=True)


def behaviour_clone(model: Any, controller_spec: str, episodes: int, epochs: int = 20) -> dict[str, Any]:
    """Collect controller episodes and fit PPO's action mean to them (MSE, minibatches of 256).

    Observations are normalized with the (demo-updated) ``VecNormalize`` statistics, exactly as
    the policy will see them. Returns the :func:`collect_demos` figures plus
    ``bc_loss_initial`` and ``bc_loss`` (whole-set MSE before and after).
    """
    import torch
    import torch.nn.functional as F

    stats = collect_demos(model, controller_spec, episodes, into_buffer=False)
    obs_steps, actions = stats.pop("obs"), np.concatenate(stats.pop("actions"))
    if isinstance(obs_steps[0], dict):
        raise InputError("behaviour cloning supports flat (Box) observations only")
    obs = np.concatenate(obs_steps)
    vecnorm = model.get_vec_normalize_env()
    if vecnorm is not None:
        obs = vecnorm.normalize_obs(obs)
    policy = model.policy
    obs_t = torch.as_tensor(obs, dtype=torch.float32, device=policy.device)
    act_t = torch.as_tensor(actions, dtype=torch.float32, device=policy.device)
    gen = torch.Generator().manual_seed(0)
    stats["bc_loss_initial"] = _mse(policy, obs_t, act_t)
    for _ in range(epochs):
        for idx in torch.randperm(len(obs_t), generator=gen).split(256):
            mean = policy.get_distribution(obs_t[idx]).distribution.mean
            loss = F.mse_loss(mean, act_t[idx])
            policy.optimizer.zero_grad()
            loss.backward()
            policy.optimizer.step()
    stats["bc_loss"] = _mse(policy, obs_t, act_t)
    return stats


def _mse(policy: Any, obs: Any, actions: Any) -> float:
    """Mean squared error of the policy's action mean over the whole demonstration set."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        return float(F.mse_loss(policy.get_distribution(obs).distribution.mean, actions))


def _next_obs(new_raw: Any, dones: np.ndarray, infos: list[dict[str, Any]], vecnorm: Any) -> Any:
    """Next observations with the true terminal observation for finished envs (as SB3 stores them)."""
    nxt = {k: v.copy() for k, v in new_raw.items()} if isinstance(new_raw, dict) else new_raw.copy()
    for i in np.flatnonzero(dones):
        term = infos[i].get("terminal_observation")
        if term is None:
            continue
        if vecnorm is not None:
            term = vecnorm.unnormalize_obs(term)
        if isinstance(nxt, dict):
            for k in nxt:
                nxt[k][i] = term[k]
        else:
            nxt[i] = term
    return nxt
