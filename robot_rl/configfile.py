"""Every config file and every command-line override goes through this module.

One YAML reader, one value parser, one override syntax and one validation library for the
training configs, the sweep files, the deploy configs and the env kwargs of ``--set-env``:

* :func:`parse_yaml` / :func:`read_yaml_mapping` read YAML with one fix over PyYAML's YAML 1.1
  rules: ``1e-4`` and ``2e4`` are numbers (YAML 1.2 and every user agree), not the text PyYAML
  makes of them. The same loader parses command-line values, so a file and ``--set`` never
  disagree about what a value is.
* :func:`apply_overrides` applies ``a.b.c=value`` overrides (``value`` parsed as YAML, so ``null``,
  ``[64, 64]``, ``true`` and ``3e-4`` mean what they say). Sections whose keys are themselves
  dotted (a sweep's ``set`` and ``params``) take the rest of the key as one name.
* :func:`validate` checks a mapping against a pydantic model (``extra="forbid"``, strict types)
  and turns pydantic's errors into one message in the project's style: the dotted key, the value,
  and what is accepted (``algo.name='a2c' is not accepted; choose one of ['ppo', 'sac', ...]``).

Why pydantic and not our own checks: the project had three hand-written sets of them that
disagreed (``--set-env`` kept ``1e-4`` as text; ``null`` was refused where it meant "off").
pydantic is well kept, already in the dependency tree, and its strict mode refuses ``"0.5"``
for a number and unknown keys, which is what a config that drives a robot needs.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from robot_rl.errors import InputError, MissingInputError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every config model: unknown keys refused, no silent type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=False)


def _integral(value: Any) -> Any:
    """``1e5`` (a float in YAML) is the integer 100000 where an integer is expected."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: an int field that also takes integral floats (``total_timesteps: 2e5``)
Int = Annotated[int, BeforeValidator(_integral)]


# ---------------------------------------------------------------------- YAML
class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with YAML 1.2's floats: ``1e-4`` and ``2E5`` are numbers."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str, what: str = "value") -> Any:
    """Parse YAML text (a file's content or one command-line value) with the project's loader.

    Raises:
        InputError: not valid YAML (the message names ``what``).
    """
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise InputError(f"{what}: not valid YAML: {exc}") from None


def read_yaml_mapping(path: str | Path, what: str = "config file", hint: str = "") -> dict[str, Any]:
    """The top-level mapping of a YAML file (training config, sweep file, deploy config, run config).

    Raises:
        MissingInputError: no such file (the message names ``what`` and gives ``hint``).
        InputError: not valid YAML, or not a mapping at the top level.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{what} {str(path)!r} not found" + (f" ({hint})" if hint else ""))
    raw = parse_yaml(path.read_text(), str(path))
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


# ---------------------------------------------------------------------- overrides
def split_override(
    item: str, flag: str = "--set", example: str = "train.total_timesteps=20000"
) -> tuple[str, Any]:
    """``"a.b=value"`` -> ``("a.b", parsed value)``.

    Raises:
        InputError: no ``=`` or an empty key, or a value that is not valid YAML.
    """
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise InputError(f"{flag} expects key=value (e.g. {example}), got {item!r}")
    return key.strip(), parse_yaml(text, f"{flag} {item!r}")


def apply_overrides(
    raw: dict[str, Any],
    overrides: Iterable[str],
    flag: str = "--set",
    dotted_sections: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A copy of ``raw`` with ``a.b.c=value`` overrides applied in order.

    Missing sections are created. Under a top-level key in ``dotted_sections`` the rest of the key
    is one entry: ``set.train.seed=3`` sets ``raw["set"]["train.seed"]``.

    Raises:
        InputError: malformed ``key=value``, or a key that walks through a value that is not a
            section (``name.x=1``).
    """
    out = copy.deepcopy(raw)
    for item in overrides:
        key, value = split_override(item, flag)
        head, _, rest = key.partition(".")
        parts = [head, rest] if head in dotted_sections else key.split(".")
        if head in dotted_sections and not rest:
            raise InputError(f"{flag} expects {head}.<dotted key>=value, got {item!r}")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise InputError(f"{flag} {item!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return out


def format_value(value: Any) -> str:
    """A value as override text (YAML flow style) that :func:`parse_yaml` reads back as ``value``."""
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("...").strip()


# ---------------------------------------------------------------------- validation
def validate(model: type[M], raw: Any, where: str = "") -> M:
    """``model.model_validate(raw)`` with one readable message per problem.

    Raises:
        InputError: ``"<where>: <key>=<value> is not accepted; <what is>"`` for each error
            (joined with ``"; "``).
    """
    if not isinstance(raw, dict):
        raise InputError(
            f"{where + ': ' if where else ''}expected a mapping of keys {list(model.model_fields)}"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        # one entry per key; the branches of a union (a number or a list) join with "or"
        merged: dict[str, list[str]] = {}
        for err in exc.errors():
            head, sep, what = describe(model, err).partition(" is not accepted; ")
            merged.setdefault(head + sep, [])
            if what and what not in merged[head + sep]:
                merged[head + sep].append(what.removeprefix("expected ") if merged[head + sep] else what)
        problems = [head + " or ".join(whats) for head, whats in merged.items()]
        prefix = f"{where}: " if where else ""
        raise InputError(prefix + "; ".join(problems)) from None


def _walk(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[Any], Any, Any]:
    """Follow pydantic's error location through the model.

    Returns the location without pydantic's union-branch tags (``SchedulerSpec``,
    ``list[float]``), the annotation it ends at (``None`` past the declared fields) and the
    annotation of the section that holds its last key.
    """
    clean: list[Any] = []
    tp: Any = model
    section: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if get_origin(tp) in (typing.Union, types.UnionType):
            branches = [_unwrap(a) for a in get_args(tp) if a is not type(None)]
            named = [b for b in branches if getattr(b, "__name__", None) == part]
            if named or (isinstance(part, str) and ("[" in part or part in _SCALARS)):
                tp = named[0] if named else next((b for b in branches if _type_tag(b) == part), None)
                continue
        section = tp
        clean.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = tp.model_fields[part].annotation if part in tp.model_fields else None
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1] if get_args(tp) else Any
        elif get_origin(tp) is list:
            tp = get_args(tp)[0] if get_args(tp) else Any
        else:
            tp = None
    return clean, _unwrap(tp), _unwrap(section)


_SCALARS = ("int", "float", "str", "bool", "list", "dict", "none")


def _type_tag(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _unwrap(tp: Any) -> Any:
    """``X | None`` -> ``X``; ``Annotated[X, ...]`` -> ``X``."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


_EXPECTED = {
    "int": "expected an integer",
    "float": "expected a number",
    "bool": "expected true or false",
    "string": "expected a string",
    "dict": "expected a mapping",
    "list": "expected a list",
}


def describe(model: type[BaseModel], err: Any) -> str:
    """One pydantic error as ``key=value is not accepted; ...`` (or ``unknown key ...``)."""
    loc, tp, section = _walk(model, tuple(err["loc"]))
    dotted = ".".join(str(p) for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        is_model = isinstance(section, type) and issubclass(section, BaseModel)
        names = list(section.model_fields) if is_model else []
        where = ".".join(str(p) for p in loc[:-1])
        prefix = f"{where}." if where else ""
        return f"unknown key {prefix}{loc[-1]!r} ({where or 'top level'}); accepted keys: {', '.join(names)}"
    if kind == "missing":
        return f"{dotted} is required"
    value = err.get("input")
    head = f"{dotted}={value!r} is not accepted; "
    if get_origin(tp) is Literal:
        return head + f"choose one of {list(get_args(tp))}"
    if isinstance(tp, type) and issubclass(tp, BaseModel) and kind in ("model_type", "model_attributes_type"):
        return f"{dotted} must be a mapping with keys {list(tp.model_fields)}, got {value!r}"
    ctx = err.get("ctx") or {}
    for bound, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx:
            base = "expected an integer" if tp is int else "expected a number"
            return head + f"{base} {sign} {ctx[bound]}"
    if kind == "too_short":
        return head + f"expected at least {ctx.get('min_length')} entries"
    if kind == "too_long":
        return head + f"expected at most {ctx.get('max_length')} entries"
    if kind == "value_error":
        return head + str(ctx.get("error", err["msg"]))
    if tp is int:
        return head + "expected an integer"
    what = next((text for name, text in _EXPECTED.items() if kind.startswith(name)), None)
    return head + (what or err["msg"])
