import math

import numpy as np
import pytest

from robot_rl.envs.layout import Field, VectorLayout

LAYOUT = VectorLayout([Field("pos", 3, "m", -2, 2), Field("grip", 1, "m", 0, 0.08)])


def test_pack_unpack_round_trip_and_bounds():
    v = LAYOUT.pack({"pos": [1, 2, 3], "grip": 0.04})
    assert v.dtype == np.float32 and v.shape == (4,)
    parts = LAYOUT.unpack(v)
    np.testing.assert_allclose(parts["pos"], [1, 2, 3])
    assert LAYOUT.slice("grip") == slice(3, 4)
    np.testing.assert_allclose(LAYOUT.low, [-2, -2, -2, 0])
    assert LAYOUT.box().shape == (4,)


def test_pack_errors_name_the_field():
    with pytest.raises(KeyError, match="missing fields \\['grip'\\]"):
        LAYOUT.pack({"pos": [0, 0, 0]})
    with pytest.raises(ValueError, match="'pos' needs 3 entries, got 2"):
        LAYOUT.pack({"pos": [0, 0], "grip": 0})


def test_pack_refuses_unknown_and_missing_names_together():
    with pytest.raises(KeyError, match="missing fields \\['grip'\\], unknown fields \\['other'\\]"):
        LAYOUT.pack({"pos": [0, 0, 0], "other": 1})
    with pytest.raises(KeyError, match="unknown fields \\['other'\\]"):
        LAYOUT.pack({"pos": [0, 0, 0], "grip": 0, "other": 1})


def test_dict_round_trip_keeps_infinite_bounds():
    lay = VectorLayout([Field("v", 2, "m/s"), Field("a", 1, "1", -1, 1, "x")])
    rows = lay.to_dict()
    assert rows[0]["low"] is None and rows[1]["start"] == 2
    again = VectorLayout.from_dict(rows)
    assert again == lay
    assert math.isinf(again.fields[0].high)


def test_duplicate_and_bad_fields_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        VectorLayout([Field("a", 1, "m"), Field("a", 1, "m")])
    with pytest.raises(ValueError, match="positive int"):
        Field("a", 0, "m")


def test_pack_accepts_arrays_tuples_scalars_and_refuses_nested_or_text():
    v = LAYOUT.pack({"pos": (1.0, 2.0, 3.0), "grip": np.float64(0.5)})
    np.testing.assert_allclose(v, [1, 2, 3, 0.5])
    v = LAYOUT.pack({"pos": np.ones((3, 1)), "grip": [0.25]})
    np.testing.assert_allclose(v, [1, 1, 1, 0.25])
    with pytest.raises(ValueError, match="'grip' needs 1 entries, got 2"):
        LAYOUT.pack({"pos": [0, 0, 0], "grip": (0.1, 0.2)})
    with pytest.raises(ValueError, match="must hold numbers"):
        LAYOUT.pack({"pos": ["a", "b", "c"], "grip": 0})
