"""Strict JSON for every file robot_rl writes: no ``NaN`` or ``Infinity`` (not JSON; many parsers
refuse them), ``null`` instead.

Bottom layer (standard library only): the robot-side runtime may use it as well.
"""

from __future__ import annotations

import json
import math
from typing import Any


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None``, recursively through dicts,
    lists and tuples; numpy scalars become Python numbers (anything with ``item()``)."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if not isinstance(value, bool | int | float | str | type(None)) and hasattr(value, "item"):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_strict(data: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`strict` ``(data)`` with ``allow_nan=False`` (same keyword arguments)."""
    return json.dumps(strict(data), allow_nan=False, **kwargs)


def loads_strict(text: str) -> Any:
    """Parse JSON, refusing ``NaN``, ``Infinity`` and ``-Infinity``.

    Raises:
        ValueError: the text holds one of them (or is not JSON).
    """

    def refuse(name: str) -> Any:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)
