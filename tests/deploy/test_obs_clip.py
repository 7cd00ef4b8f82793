"""The exported policy clips observations into the observation-space Box exactly as the env does.

Every format (ONNX Runtime, TorchScript, C) must give an out-of-Box observation the action of its
clipped version, leave infinite-bound entries alone, and still turn a NaN observation into a NaN
action (ONNX, TorchScript) or a rejection (C status 1). ``golden.npz`` holds out-of-box rows whose
reference is SB3 on the env-clipped observation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from numpy.typing import NDArray

from robot_rl.deploy.c_build import CHarness
from robot_rl.deploy.export import OPSET, RANDOM_OPS, load_torchscript
from robot_rl.deploy.golden import KIND_NAMES, OUT_OF_BOX, load_golden, sb3_actions
from robot_rl.deploy.graph import box_clip
from robot_rl.deploy.runtime import PolicyRunner
from robot_rl.deploy.source import PolicySource, load_source
from robot_rl.deploy.spec import PolicySpec, extract_spec

Obs = dict[str, NDArray[np.float32]]
BUNDLES = ["ppo_norm", "sac_norm", "dqn", "her_goal_norm", "grasp_ppo_norm"]
CONTINUOUS = ["ppo_norm", "sac_norm", "her_goal_norm", "grasp_ppo_norm"]


def _source_and_spec(make_run: Callable[[str], Path], name: str) -> tuple[PolicySource, PolicySpec]:
    src = load_source(make_run(name))
    return src, extract_spec(src.model, src.vecnormalize, src.algo)


def _env_clip(obs: Obs, spec: PolicySpec) -> Obs:
    """What the envs do: float32 ``minimum(maximum(obs, low), high)`` per input."""
    return {i.name: np.minimum(np.maximum(obs[i.name], i.low), i.high) for i in spec.inputs}


def _out_of_box(spec: PolicySpec, seed: int = 7) -> Obs:
    """Rows far outside the Box: finite-bound entries at ``bound +- 0.5..8 x range`` (both sides,
    corners), infinite-bound entries at up to +-50 (never clipped)."""
    rng = np.random.default_rng(seed)
    n, obs = 40, {}
    for inp in spec.inputs:
        finite = np.isfinite(inp.low) & np.isfinite(inp.high)
        width = np.where(finite, inp.high - inp.low, 1.0)
        m = rng.uniform(0.5, 8.0, (n, inp.size)) * width
        below = np.where(np.isfinite(inp.low), inp.low - m, -50.0 * rng.random((n, inp.size)))
        above = np.where(np.isfinite(inp.high), inp.high + m, 50.0 * rng.random((n, inp.size)))
        pick_low = rng.random((n, inp.size)) < 0.5
        pick_low[0], pick_low[1] = True, False  # all below / all above
        obs[inp.name] = np.where(pick_low, below, above).astype(np.float32)
    return obs


def _flat(obs: Obs, spec: PolicySpec) -> NDArray[np.float32]:
    return np.concatenate([obs[i.name] for i in spec.inputs], axis=1).astype(np.float32)


def _torchscript(bundle: Path, obs: Obs, spec: PolicySpec) -> NDArray[Any]:
    module = load_torchscript(bundle / "policy.pt")
    with torch.no_grad():
        return np.asarray(module(*(torch.from_numpy(obs[i.name]) for i in spec.inputs)).numpy())


def _c(bundle: Path, obs: Obs, spec: PolicySpec) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    with CHarness(bundle / "policy_c") as harness:
        return harness.run(_flat(obs, spec))


def _close(actual: NDArray[Any], expected: NDArray[Any], tol: float) -> bool:
    actual = np.asarray(actual).reshape(expected.shape)
    if expected.dtype == np.int64:
        return bool(np.array_equal(actual.astype(np.int64), expected))
    return bool(np.max(np.abs(actual.astype(np.float64) - expected)) <= tol)


# ------------------------------------------------------------------------------------ clip op
def test_box_clip_matches_numpy_keeps_nan_and_ignores_infinite_bounds() -> None:
    low = np.array([-1.0, -np.inf, 0.0, -2.0], np.float32)
    high = np.array([1.0, np.inf, np.inf, 3.0], np.float32)
    x = np.array(
        [[5.0, -(2.0**100), -4.0, np.inf], [-5.0, 2.0**100, 7.0, -np.inf], [np.nan, np.nan, np.nan, 0.5]],
        np.float32,
    )
    out = box_clip(torch.from_numpy(x), torch.from_numpy(low), torch.from_numpy(high)).numpy()
    np.testing.assert_array_equal(out, np.minimum(np.maximum(x, low), high))
    assert out[0].tolist() == [1.0, -(2.0**100), 0.0, 3.0] and out[1].tolist() == [-1.0, 2.0**100, 7.0, -2.0]
    assert np.isnan(out[2, :3]).all() and out[2, 3] == 0.5


# ---------------------------------------------------------------- out-of-box == clipped obs
@pytest.mark.parametrize("name", BUNDLES)
def test_out_of_box_obs_acts_like_clipped_obs_in_every_format(
    name: str, make_run: Callable[[str], Path], make_bundle: Callable[[str], Path]
) -> None:
    src, spec = _source_and_spec(make_run, name)
    bundle = make_bundle(name)
    raw = _out_of_box(spec)
    clipped = _env_clip(raw, spec)
    assert any(not np.array_equal(raw[k], clipped[k]) for k in raw)  # really outside the Box
    runner = PolicyRunner(bundle)
    onnx_raw = runner.act_batch(raw)
    np.testing.assert_array_equal(onnx_raw, runner.act_batch(clipped))
    np.testing.assert_array_equal(_torchscript(bundle, raw, spec), _torchscript(bundle, clipped, spec))
    (c_raw, status_raw), (c_clip, status_clip) = _c(bundle, raw, spec), _c(bundle, clipped, spec)
    assert not status_raw.any() and not status_clip.any()
    np.testing.assert_array_equal(c_raw, c_clip)
    # ... and that action is SB3's on the env-clipped observation.
    expected = sb3_actions(src.model, src.vecnormalize, clipped, spec)
    assert _close(onnx_raw, expected, 1e-5) and _close(
        c_raw[:, 0] if runner.discrete else c_raw, expected, 2e-5
    )
    one = {k: v[0] for k, v in raw.items()}
    assert _close(np.atleast_1d(runner.act(one)), expected[:1], 1e-5)


@pytest.mark.parametrize("name", ["ppo_norm", "grasp_ppo_norm"])
def test_clip_changes_the_action_of_out_of_box_obs(name: str, make_run: Callable[[str], Path]) -> None:
    """Without the clip, SB3 itself would act differently on these rows: the clip is not a no-op."""
    src, spec = _source_and_spec(make_run, name)
    raw = _out_of_box(spec)
    unclipped = sb3_actions(src.model, src.vecnormalize, raw, spec)
    clipped = sb3_actions(src.model, src.vecnormalize, _env_clip(raw, spec), spec)
    assert np.max(np.abs(unclipped - clipped)) > 1e-3


def test_infinite_bound_input_is_not_clipped(make_bundle: Callable[[str], Path]) -> None:
    """ToyGoal's ``observation`` input has infinite bounds: no clip constants, values pass through."""
    bundle = make_bundle("her_goal_norm")
    source = (bundle / "policy_c" / "policy.c").read_text()
    names = PolicyRunner(bundle).input_names  # Dict keys sorted: goals first
    for k, name in enumerate(names):  # 'observation': +-inf everywhere; the goals: [-2, 2]
        assert (f"OBS{k}_LOW" in source) == (f"OBS{k}_HIGH" in source) == (name != "observation")
    runner = PolicyRunner(bundle)
    base = {"observation": np.zeros(4, np.float32), "achieved_goal": np.zeros(2, np.float32)}
    goal = {"desired_goal": np.full(2, 0.5, np.float32)}
    near = runner.act({**base, "observation": np.array([0.1, 0.0, 0.0, 0.0], np.float32), **goal})
    far = runner.act({**base, "observation": np.array([0.6, 0.0, 0.0, 0.0], np.float32), **goal})
    assert not np.array_equal(near, far)
    far_goal = runner.act({**base, "desired_goal": np.full(2, 9.0, np.float32)})
    np.testing.assert_array_equal(far_goal, runner.act({**base, "desired_goal": np.full(2, 2.0, np.float32)}))


# ------------------------------------------------------------------------------------- NaN / Inf
@pytest.mark.parametrize("name", ["ppo_norm", "sac_norm", "her_goal_norm", "grasp_ppo_norm"])
def test_nan_obs_gives_nan_action_and_c_rejects_it(
    name: str, make_run: Callable[[str], Path], make_bundle: Callable[[str], Path]
) -> None:
    _, spec = _source_and_spec(make_run, name)
    bundle = make_bundle(name)
    obs = _env_clip(_out_of_box(spec), spec)
    for k, inp in enumerate(spec.inputs):  # row k: NaN on a finite-bound entry of input k, if any
        finite = np.flatnonzero(np.isfinite(inp.low) | np.isfinite(inp.high))
        obs[inp.name][k, finite[0] if finite.size else 0] = np.nan
    rows = len(spec.inputs)
    runner = PolicyRunner(bundle)
    assert np.isnan(runner.act_batch(obs)[:rows]).all()
    assert np.isnan(runner.act({i.name: obs[i.name][0] for i in spec.inputs})).all()
    assert np.isnan(_torchscript(bundle, obs, spec)[:rows]).all()
    actions, status = _c(bundle, obs, spec)
    assert status[:rows].tolist() == [1.0] * rows and not status[rows:].any()
    assert not actions[:rows].any()  # rejected: the harness's zeroed action left untouched
    assert np.isfinite(runner.act_batch(obs)[rows:]).all()


def test_inf_on_finite_bound_entry_is_clipped_like_the_env(make_bundle: Callable[[str], Path]) -> None:
    """+-Inf beyond a finite bound: ONNX clips it as the env would; C rejects non-finite obs."""
    bundle = make_bundle("ppo_norm")
    runner = PolicyRunner(bundle)
    inf = np.array([np.inf, -np.inf, np.inf], np.float32)
    np.testing.assert_array_equal(runner.act(inf), runner.act(np.array([1.0, -1.0, 8.0], np.float32)))
    with CHarness(bundle / "policy_c") as harness:
        assert harness.run(inf[None])[1].tolist() == [1.0]


# ------------------------------------------------------------------------------------- golden
@pytest.mark.parametrize("name", BUNDLES)
def test_golden_out_of_box_rows_have_sb3_action_on_clipped_obs(
    name: str, make_run: Callable[[str], Path], make_bundle: Callable[[str], Path]
) -> None:
    src, spec = _source_and_spec(make_run, name)
    golden = load_golden(make_bundle(name) / "golden.npz")
    assert KIND_NAMES[OUT_OF_BOX] == "out_of_box" and list(golden["kind_names"]) == list(KIND_NAMES)
    rows = golden["kind"] == OUT_OF_BOX
    obs = {i.name: golden[f"obs__{i.name}"] for i in spec.inputs}
    clipped = _env_clip(obs, spec)
    outside = np.any(_flat(obs, spec) != _flat(clipped, spec), axis=1)
    below = sum(int(np.sum(obs[i.name][rows] < i.low)) for i in spec.inputs)
    above = sum(int(np.sum(obs[i.name][rows] > i.high)) for i in spec.inputs)
    assert rows.sum() >= 16 and below > 0 and above > 0 and np.isfinite(golden["obs_flat"]).all()
    assert np.array_equal(outside, rows)  # out-of-box rows leave the Box, every other row is inside
    # Reference: SB3 on the env-clipped obs for out-of-box rows, on the raw obs for the others (in
    # one batch, as write_golden computes it: SB3's float32 matmul results depend on the batch).
    reference = {k: np.where(rows[:, None], clipped[k], v) for k, v in obs.items()}
    expected = sb3_actions(src.model, src.vecnormalize, reference, spec)
    np.testing.assert_array_equal(golden["actions"], expected)


def test_golden_out_of_box_rows_differ_from_sb3_on_raw_obs(
    make_run: Callable[[str], Path], make_bundle: Callable[[str], Path]
) -> None:
    src, spec = _source_and_spec(make_run, "ppo_norm")
    golden = load_golden(make_bundle("ppo_norm") / "golden.npz")
    rows = golden["kind"] == OUT_OF_BOX
    raw_actions = sb3_actions(src.model, src.vecnormalize, {"obs": golden["obs__obs"][rows]}, spec)
    assert np.max(np.abs(raw_actions - golden["actions"][rows])) > 1e-3


# --------------------------------------------------------------------------- graph + verify
def test_onnx_graph_clips_with_standard_deterministic_ops(make_bundle: Callable[[str], Path]) -> None:
    model = onnx.load(str(make_bundle("grasp_ppo_norm") / "policy.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert {"Less", "Greater", "Where"} <= ops and not ops & RANDOM_OPS
    assert all(n.domain in ("", "ai.onnx") for n in model.graph.node)
    assert [(o.domain, o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")] == [("", OPSET)]


@pytest.mark.parametrize("name", BUNDLES)
def test_verify_bundle_passes_with_out_of_box_rows(name: str, make_bundle: Callable[[str], Path]) -> None:
    from robot_rl.deploy.verify import verify_bundle

    report = verify_bundle(make_bundle(name), episodes=0, latency_calls=200)
    assert report.ok, report.format()
