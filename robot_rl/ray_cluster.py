"""Joining Ray: one way for every verb that runs on a cluster (``robot-rl sweep``, ``robot-rl benchmark``).

Ray is an optional dependency (the ``ray`` extra) and is imported only inside these functions.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from robot_rl.errors import InputError


def require_ray(hint: str, *modules: str) -> None:
    """Raise ``InputError(hint)`` when Ray (and ``modules``, e.g. ``optuna``) cannot be imported."""
    import importlib

    try:
        for name in ("ray", *modules):
            importlib.import_module(name)
    except ImportError as exc:
        raise InputError(f"{hint} ({exc})") from exc


def start_ray(address: str | None, cpus: int | None = None) -> bool:
    """Join ``address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:10001``) or start a local Ray.

    Raises:
        InputError: no Ray cluster answers at ``address``.

    Returns:
        ``True`` if this call connected (the caller may ``ray.shutdown()``), ``False`` if Ray was
        already initialized in this process.
    """
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {
        "log_to_driver": False,  # workers' output stays in their logs (sweeps: SWEEP/logs/<trial>.log)
        "logging_level": logging.ERROR,
        "include_dashboard": False,
    }
    if address:
        kwargs.pop("include_dashboard")
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as exc:
            raise InputError(
                f"cannot join the Ray cluster at --address {address}: {exc} (`ray start --head` starts one "
                "and prints its address)"
            ) from exc
    else:
        # "local": a new Ray of our own, even when `ray start` left a cluster (or a stale address
        # file) on this machine, which a bare ray.init() would join instead
        ray.init(address="local", num_cpus=cpus or os.cpu_count() or 1, **kwargs)
    return True


def ray_is_initialized() -> bool:
    """Whether this process is connected to Ray (``False`` without Ray installed)."""
    try:
        import ray
    except ImportError:
        return False
    return bool(ray.is_initialized())
