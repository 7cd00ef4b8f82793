"""``gym.make`` for ids and kwargs that come from the user (a config, ``--set-env``, a bundle).

Gymnasium reports an unknown id as ``gymnasium.error.NameNotFound`` and a wrong keyword as the
constructor's ``TypeError``; neither says what *is* accepted, and the CLI prints only the
project's :class:`~robot_rl.errors.InputError` as a one-line message. :func:`make_env` turns both
into an ``InputError`` that names the registered ids or the constructor's keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from robot_rl.errors import InputError

#: keywords ``gym.make`` itself takes (not passed to the constructor)
GYM_MAKE_KWARGS = frozenset(
    {"render_mode", "max_episode_steps", "disable_env_checker", "autoreset", "apply_api_compatibility"}
)


def constructor_parameters(env_id: str) -> Mapping[str, inspect.Parameter] | None:
    """The parameters of ``env_id``'s constructor (``None`` when it has no inspectable signature)."""
    import gymnasium as gym

    entry: Any = gym.spec(env_id).entry_point
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(__import__(module, fromlist=[attr]), attr)
    try:
        return inspect.signature(entry).parameters
    except (TypeError, ValueError):
        return None


def constructor_kwargs(env_id: str) -> list[str] | None:
    """The keyword arguments ``env_id``'s constructor takes (``None``: any, or unknown)."""
    params = constructor_parameters(env_id)
    if params is None or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def make_env(env_id: str, **kwargs: Any) -> Any:
    """``gym.make(env_id, **kwargs)`` with the robot_rl ids registered and input errors named.

    Raises:
        InputError: an id that is not registered (the message lists the robot_rl ids), or a
            keyword argument the env does not take (the message lists those it takes).
    """
    import gymnasium as gym

    from robot_rl.envs.registration import register_all

    register_all()

    try:
        gym.spec(env_id)
    except gym.error.Error as exc:
        ours = sorted(i for i in gym.registry if i.startswith("robot_rl/"))
        raise InputError(f"env id {env_id!r} is not registered ({exc}); robot_rl ids: {ours}") from None
    accepted = constructor_kwargs(env_id)
    gym_kwargs = {
        "render_mode",
        "max_episode_steps",
        "disable_env_checker",
        "autoreset",
        "apply_api_compatibility",
    }
    if accepted is not None:
        unknown = sorted(k for k in kwargs if k not in accepted and k not in gym_kwargs)
        if unknown:
            raise InputError(f"{env_id} takes no keyword argument {unknown[0]!r}; it takes {accepted}")
    return gym.make(env_id, **kwargs)
