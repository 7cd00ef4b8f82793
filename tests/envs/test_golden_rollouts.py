"""Every registered env behaves as recorded in ``golden_rollouts.npz`` (from commit 2ed6f1b).

Seeded rollouts with fixed random actions (:mod:`tests.envs.golden_rollouts`): observations,
rewards, terminations, truncations, ``is_success``, end-of-episode metrics, and what each
constructor built (spaces with their bounds, layouts, episode limit, rates, noise and latency).

On the machine that recorded the file the rollouts are bit-identical. Floats are compared with a
tolerance of 1e-5 all the same: numpy picks SIMD/BLAS kernels by CPU (the Panda's IK solve, the
lidar's trigonometry), which may change last bits on another machine; a real change of behaviour
(an off-by-one limit, a stale measurement, a reordered random draw) moves them far more.
"""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.envs.registration import ENVIRONMENTS
from tests.envs import golden_rollouts as golden

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def recorded() -> dict[str, np.ndarray]:
    with np.load(golden.GOLDEN) as data:  # plain arrays and strings: no pickle
        return {key: data[key] for key in data.files}


def test_golden_file_covers_every_registered_env_and_stays_small(recorded):
    assert {env_id for _, env_id, _, _ in golden.CASES} == set(ENVIRONMENTS)
    assert golden.GOLDEN.stat().st_size < 200_000
    names = [name for name, *_ in golden.CASES] + [name for name, *_ in golden.SPACE_ONLY_CASES]
    assert {key.split("/")[0] for key in recorded} == set(names)


@pytest.mark.parametrize(("name", "env_id", "kwargs", "seed"), golden.CASES, ids=[c[0] for c in golden.CASES])
def test_rollout_matches_golden(recorded, name, env_id, kwargs, seed):
    now = golden.rollout(env_id, kwargs, seed)
    assert str(now["description"]) == str(recorded[f"{name}/description"])
    np.testing.assert_array_equal(now["flags"], recorded[f"{name}/flags"], err_msg=f"{name}: done/success")
    for key in ("observations", "rewards", "metrics"):
        want = recorded[f"{name}/{key}"]
        assert now[key].shape == want.shape, f"{name}/{key}: shape {now[key].shape} != {want.shape}"
        np.testing.assert_allclose(now[key], want, **TOLERANCE, err_msg=f"{name}/{key}")


@pytest.mark.parametrize(
    ("name", "env_id", "kwargs"), golden.SPACE_ONLY_CASES, ids=[c[0] for c in golden.SPACE_ONLY_CASES]
)
def test_constructor_builds_the_recorded_spaces(recorded, name, env_id, kwargs):
    assert golden.built(env_id, kwargs) == str(recorded[f"{name}/description"])
