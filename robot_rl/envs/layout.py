"""Named vector layouts for observations and actions.

The environment builds its observation with :meth:`VectorLayout.pack` and the deploy manifest is
written from :meth:`VectorLayout.to_dict` of the *same object*, so the robot side never re-types
slice indices by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class Field:
    """One named block of a flat vector.

    Attributes:
        name: Identifier (unique within a layout), e.g. ``"ee_position"``.
        size: Number of float entries.
        unit: Physical unit, e.g. ``"m"``, ``"m/s"``, ``"rad"``, ``"1"`` for dimensionless.
        low: Lower bound of every entry (``-inf`` if unbounded).
        high: Upper bound of every entry (``inf`` if unbounded).
        description: What the entries mean, including the frame (e.g. "world frame, x y z").
    """

    name: str
    size: int
    unit: str
    low: float = -math.inf
    high: float = math.inf
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ValueError(f"field name must be a non-empty identifier, got {self.name!r}")
        if not isinstance(self.size, int) or self.size <= 0:
            raise ValueError(f"field {self.name!r}: size must be a positive int, got {self.size!r}")
        if not self.low <= self.high:
            raise ValueError(f"field {self.name!r}: low={self.low} must be <= high={self.high}")


@dataclass(frozen=True)
class VectorLayout:
    """An ordered tuple of :class:`Field` describing a flat float32 vector."""

    fields: tuple[Field, ...]
    _slices: dict[str, slice] = field(init=False, repr=False, compare=False)
    _spec: tuple[tuple[str, slice, int], ...] = field(init=False, repr=False, compare=False)
    size: int = field(init=False, repr=False, compare=False)
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _keys: frozenset[str] = field(init=False, repr=False, compare=False)

    def __init__(self, fields: Iterable[Field]) -> None:
        fields = tuple(fields)
        if not fields:
            raise ValueError("a layout needs at least one field")
        names = [f.name for f in fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate field names in layout: {duplicates}")
        object.__setattr__(self, "fields", fields)
        slices: dict[str, slice] = {}
        start = 0
        for f in fields:
            slices[f.name] = slice(start, start + f.size)
            start += f.size
        object.__setattr__(self, "_slices", slices)
        # Cached once: pack() runs in every env.step.
        object.__setattr__(self, "_spec", tuple((f.name, slices[f.name], f.size) for f in fields))
        object.__setattr__(self, "size", start)  # total number of entries
        object.__setattr__(self, "names", tuple(names))  # field names in order
        object.__setattr__(self, "_keys", frozenset(names))

    def slice(self, name: str) -> slice:
        """Slice of field ``name`` in the flat vector."""
        try:
            return self._slices[name]
        except KeyError:
            raise KeyError(f"no field {name!r} in layout; fields are {list(self.names)}") from None

    @property
    def low(self) -> NDArray[np.float32]:
        """Per-entry lower bounds, shape ``(size,)``."""
        return np.concatenate([np.full(f.size, f.low, np.float32) for f in self.fields])

    @property
    def high(self) -> NDArray[np.float32]:
        """Per-entry upper bounds, shape ``(size,)``."""
        return np.concatenate([np.full(f.size, f.high, np.float32) for f in self.fields])

    def box(self) -> spaces.Box:
        """A float32 ``Box`` with this layout's bounds."""
        return spaces.Box(self.low, self.high, dtype=np.float32)

    def pack(self, values: Mapping[str, ArrayLike]) -> NDArray[np.float32]:
        """Concatenate named values into one float32 vector in layout order.

        Raises:
            KeyError: if a field is missing or an unknown name is given.
            ValueError: if a value has the wrong number of entries.
        """
        if values.keys() != self._keys:  # one set comparison (names are unique)
            missing = [n for n in self.names if n not in values]
            extra = [n for n in values if n not in self._slices]
            raise KeyError(f"pack: missing fields {missing}, unknown fields {extra}")
        # One flat Python list and one conversion: ~6x faster than assigning field by field
        # (this runs in every env.step).
        parts: list[Any] = []
        for name, _, size in self._spec:
            v = values[name]
            if type(v) is np.ndarray:
                v = v.ravel().tolist()
            elif not isinstance(v, tuple | list):
                v = np.ravel(v).tolist()
            if len(v) != size:
                raise ValueError(f"pack: field {name!r} needs {size} entries, got {len(v)}")
            parts.extend(v)
        try:
            return np.array(parts, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"pack: every field must hold numbers ({exc})") from exc

    def unpack(self, vector: ArrayLike) -> dict[str, NDArray[np.float32]]:
        """Split a flat vector (or a batch ``(..., size)``) into named arrays."""
        arr = np.asarray(vector, dtype=np.float32)
        if arr.shape[-1:] != (self.size,):
            raise ValueError(f"unpack: expected last dimension {self.size}, got shape {arr.shape}")
        return {name: arr[..., s] for name, s in self._slices.items()}

    def to_dict(self) -> list[dict[str, Any]]:
        """JSON-ready description (name, unit, size, start, stop, low, high, description)."""
        rows = []
        for f in self.fields:
            s = self._slices[f.name]
            rows.append(
                {
                    "name": f.name,
                    "unit": f.unit,
                    "size": f.size,
                    "start": s.start,
                    "stop": s.stop,
                    "low": None if math.isinf(f.low) else f.low,
                    "high": None if math.isinf(f.high) else f.high,
                    "description": f.description,
                }
            )
        return rows

    @classmethod
    def from_dict(cls, rows: Sequence[Mapping[str, Any]]) -> VectorLayout:
        """Inverse of :meth:`to_dict` (``None`` bounds become infinite)."""
        return cls(
            Field(
                name=r["name"],
                size=int(r["size"]),
                unit=r["unit"],
                low=-math.inf if r.get("low") is None else float(r["low"]),
                high=math.inf if r.get("high") is None else float(r["high"]),
                description=r.get("description", ""),
            )
            for r in rows
        )
