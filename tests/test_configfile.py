"""The one YAML reader, value parser, override syntax and error formatter of every config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from robot_rl.configfile import (
    Int,
    StrictModel,
    apply_overrides,
    format_value,
    parse_yaml,
    read_yaml_mapping,
    validate,
)
from robot_rl.errors import InputError, MissingInputError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e-4", 1e-4),
        ("2e4", 20000.0),
        ("-3.5E+2", -350.0),
        (".5e1", 5.0),
        ("1.0e-5", 1e-5),
        ("10", 10),
        ("null", None),
        ("~", None),
        ("true", True),
        ("[64, 64]", [64, 64]),
        ("{a: 1e-3}", {"a": 1e-3}),
        ("random_test", "random_test"),
        ("1e", "1e"),  # not a number: stays text
        ("e5", "e5"),
    ],
)
def test_one_value_parser_reads_yaml_1_2_numbers(text: str, value: object) -> None:
    parsed = parse_yaml(text)
    assert parsed == value and type(parsed) is type(value)


def test_format_value_round_trips_through_the_parser() -> None:
    for value in (1e-4, 20000, [64, 64], None, True, "val", {"a": [1, 2]}, 0.0003):
        assert parse_yaml(format_value(value)) == value


def test_overrides_create_sections_keep_the_input_and_take_dotted_sections() -> None:
    raw = {"train": {"seed": 0}, "set": {"train.eval_freq": 10}}
    out = apply_overrides(
        raw,
        ["train.seed=3", "env.kwargs.split=val", "set.train.total_timesteps=4e4", "train.demo=null"],
        dotted_sections=("set",),
    )
    assert out == {
        "train": {"seed": 3, "demo": None},
        "env": {"kwargs": {"split": "val"}},
        "set": {"train.eval_freq": 10, "train.total_timesteps": 40000.0},
    }
    assert raw == {"train": {"seed": 0}, "set": {"train.eval_freq": 10}}  # the input is untouched
    with pytest.raises(InputError, match=r"--set-env expects key=value .*got 'split'"):
        apply_overrides({}, ["split"], flag="--set-env")
    with pytest.raises(InputError, match=r"--set 'train.seed.x=1': 'seed' is not a section"):
        apply_overrides(raw, ["train.seed.x=1"])
    with pytest.raises(InputError, match=r"--set 'a=\[1': not valid YAML"):
        apply_overrides(raw, ["a=[1"])


def test_read_yaml_mapping_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match=r"deploy config '\S+/nope.yaml' not found \(see here\)"):
        read_yaml_mapping(tmp_path / "nope.yaml", "deploy config", "see here")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n")
    with pytest.raises(InputError, match="not valid YAML"):
        read_yaml_mapping(bad)
    bad.write_text("- 1\n")
    with pytest.raises(InputError, match="expected a mapping at the top level, got list"):
        read_yaml_mapping(bad)
    bad.write_text("")
    assert read_yaml_mapping(bad) == {}
    bad.write_text("lr: 3e-4\n")
    assert read_yaml_mapping(bad) == {"lr": 3e-4}


class Inner(StrictModel):
    mode: Literal["a", "b"] = "a"
    rates: list[float] | None = Field(default=None, min_length=2, max_length=2)


class Outer(StrictModel):
    steps: Int = Field(default=1, ge=1)
    gain: float = 1.0
    flag: bool = False
    inner: Inner = Inner()
    table: dict[str, float] = Field(default_factory=dict)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"stepz": 1}, "unknown key 'stepz' (top level); accepted keys: steps, gain, flag, inner, table"),
        ({"inner": {"mod": "a"}}, "unknown key inner.'mod' (inner); accepted keys: mode, rates"),
        ({"inner": {"mode": "c"}}, "inner.mode='c' is not accepted; choose one of ['a', 'b']"),
        ({"inner": 3}, "inner must be a mapping with keys ['mode', 'rates'], got 3"),
        ({"inner": {"rates": [1.0]}}, "inner.rates=[1.0] is not accepted; expected at least 2 entries"),
        ({"steps": 0}, "steps=0 is not accepted; expected an integer >= 1"),
        ({"steps": 2.5}, "steps=2.5 is not accepted; expected an integer"),
        ({"gain": "0.5"}, "gain='0.5' is not accepted; expected a number"),
        ({"flag": "yes"}, "flag='yes' is not accepted; expected true or false"),
        ({"table": {"spl": "high"}}, "table.spl='high' is not accepted; expected a number"),
    ],
)
def test_validation_errors_name_the_key_the_value_and_what_is_accepted(raw: dict, message: str) -> None:
    with pytest.raises(InputError) as info:
        validate(Outer, raw, "cfg.yaml")
    assert str(info.value) == f"cfg.yaml: {message}"


def test_integral_floats_are_integers_and_every_problem_is_listed() -> None:
    assert validate(Outer, {"steps": 2e4}).steps == 20000
    with pytest.raises(InputError, match=r"^steps=0 .*; gain='x' .*expected a number$"):
        validate(Outer, {"steps": 0, "gain": "x"})
    with pytest.raises(InputError, match=r"expected a mapping of keys \['steps'"):
        validate(Outer, [1, 2])
