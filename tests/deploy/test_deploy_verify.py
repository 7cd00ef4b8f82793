"""verify_bundle: passes on good bundles, fails (with a named check) on tampered ones."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from robot_rl.deploy.c_build import CHarness
from robot_rl.deploy.closed_loop import CLOSED_LOOP_SEED
from robot_rl.deploy.golden import load_golden
from robot_rl.deploy.verify import CLOSED_LOOP_CHECK, verify_bundle


def _copy(bundle: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(bundle, dst)
    return dst


@pytest.mark.parametrize("name", ["ppo_norm", "her_goal_norm", "dqn", "tqc_norm"])
def test_verify_passes_and_reports_figures(name: str, make_bundle: Callable[[str], Path]) -> None:
    report = verify_bundle(make_bundle(name), episodes=2, latency_calls=500)
    assert report.ok, report.format()
    names = [c.name for c in report.checks]
    for expected in ("onnx.checker", "onnxruntime vs SB3", "torchscript vs SB3", CLOSED_LOOP_CHECK):
        assert expected in names
    assert report.figures["onnx_max_err"] <= 1e-5 and report.figures["c_max_err"] <= 2e-5
    lat = report.figures["onnxruntime_latency_us"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"] and lat["calls"] == 500
    loop = report.figures["closed_loop"]
    assert loop["episodes"] == 2 and loop["seed"] == CLOSED_LOOP_SEED
    assert len(loop["reference"]["per_episode"]) == len(loop["onnx"]["per_episode"]) == 2
    assert "of 10 recorded" in {c.name: c.detail for c in report.checks}[CLOSED_LOOP_CHECK]
    assert "OK: bundle verified" in report.format()


def test_closed_loop_reports_success_rates_on_robot_env(make_bundle: Callable[[str], Path]) -> None:
    report = verify_bundle(make_bundle("grasp_ppo_norm"), episodes=2, latency_calls=200)
    assert report.ok, report.format()
    loop = report.figures["closed_loop"]
    ref, onnx = loop["reference"], loop["onnx"]
    assert ref["summary"]["success_rate"] is not None and onnx["summary"]["success_rate"] is not None
    ref_returns = [e["return"] for e in ref["per_episode"]]
    assert ref_returns == pytest.approx([e["return"] for e in onnx["per_episode"]], rel=1e-3)
    assert [e["length"] for e in ref["per_episode"]] == [e["length"] for e in onnx["per_episode"]]


def test_tampered_weights_fail_hash_and_parity(make_bundle: Callable[[str], Path], tmp_path: Path) -> None:
    bundle = _copy(make_bundle("ppo_norm"), tmp_path)
    source = (bundle / "policy_c" / "policy.c").read_text()
    (bundle / "policy_c" / "policy.c").write_text(source.replace("e-01f", "e-02f", 3))
    report = verify_bundle(bundle, episodes=0, latency_calls=200)
    failed = {c.name for c in report.checks if not c.ok}
    assert not report.ok
    assert "manifest sha256" in failed and "C (cc -std=c99 -O2 -Wall -Werror) vs SB3" in failed
    assert "FAILED" in report.format()


def test_tampered_onnx_is_refused(make_bundle: Callable[[str], Path], tmp_path: Path) -> None:
    bundle = _copy(make_bundle("td3"), tmp_path)
    with (bundle / "policy.onnx").open("ab") as fh:
        fh.write(b"\x00")
    report = verify_bundle(bundle, episodes=0, latency_calls=200)
    detail = {c.name: c.detail for c in report.checks}
    assert not report.ok
    assert "SHA-256 differs" in detail["manifest sha256"]
    assert "refused" in detail["onnxruntime vs SB3"]


def test_c_harness_matches_golden_and_rejects_nonfinite(make_bundle: Callable[[str], Path]) -> None:
    bundle = make_bundle("sac_norm")
    golden = load_golden(bundle / "golden.npz")
    obs = golden["obs_flat"][:20].copy()
    obs[3, 1], obs[7, 0] = np.nan, np.inf
    with CHarness(bundle / "policy_c") as harness:
        actions, status = harness.run(obs)
        p50, p99, pmax = harness.bench(obs[:2], 1000)
    assert status[3] == 1 and status[7] == 1 and status[[0, 1, 2, 4]].sum() == 0
    good = np.setdiff1d(np.arange(20), [3, 7])
    assert np.max(np.abs(actions[good] - golden["actions"][:20][good])) <= 2e-5
    assert 0 < p50 <= p99 <= pmax


def test_generated_c_has_no_malloc_and_only_libm(make_bundle: Callable[[str], Path]) -> None:
    source = (make_bundle("her_goal_norm") / "policy_c" / "policy.c").read_text()
    includes = [line for line in source.splitlines() if line.startswith("#include")]
    assert includes == ["#include <math.h>", '#include "policy.h"']
    code = source.split("*/", 1)[1]  # after the header comment
    assert "alloc(" not in code and "static const float WT0[" in code
    assert "int policy_act(const float *obs, float *action)" in source


def test_verify_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not an exported bundle"):
        verify_bundle(tmp_path)
    with pytest.raises(ValueError, match="episodes"):
        verify_bundle(tmp_path, episodes=-1)
