import math

import pytest

from robot_rl.sim.timing import SimTiming


def test_default_rates_give_whole_substeps_and_dt():
    t = SimTiming(physics_hz=240, control_hz=20)
    assert t.substeps == 12
    assert t.dt == pytest.approx(0.05)
    assert t.physics_dt == pytest.approx(1 / 240)
    assert t.steps_for(5.0) == 100
    assert t.steps_for(0.01) == 1


@pytest.mark.parametrize(
    ("physics", "control", "message"),
    [
        (100, 10, "below the accepted minimum"),
        (240, 7, "not a whole number"),
        (240, 480, "exceeds physics_hz"),
        (240, 0, "finite positive"),
        (math.nan, 20, "finite positive"),
    ],
)
def test_bad_rate_pairs_are_rejected_with_a_reason(physics, control, message):
    with pytest.raises(ValueError, match=message):
        SimTiming(physics_hz=physics, control_hz=control)


def test_bad_duration_is_rejected():
    with pytest.raises(ValueError, match="finite positive number of seconds"):
        SimTiming().steps_for(-1)
