"""verify on a copied bundle whose training run is gone: closed loop against ``closed_loop.json``."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from robot_rl.deploy.closed_loop import (
    CLOSED_LOOP_SEED,
    REFERENCE_FILE,
    compare_with_reference,
    load_reference,
    write_reference,
)
from robot_rl.deploy.export import export_policy
from robot_rl.deploy.manifest import MANIFEST, read_manifest, write_manifest
from robot_rl.deploy.runtime import PolicyRunner
from robot_rl.deploy.verify import CLOSED_LOOP_CHECK, verify_bundle
from tests.deploy.conftest import RUNS, safe_action_for

EPISODES = 3


@pytest.fixture(scope="module")
def moved_bundle(
    tmp_path_factory: pytest.TempPathFactory, make_run: Callable[[str], Path]
) -> Callable[[str], Path]:
    """``moved_bundle(name)``: bundle of a copy of run ``name``, moved elsewhere, run deleted."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            root = tmp_path_factory.mktemp(f"moved_{name}")
            run = shutil.copytree(make_run(name), root / "run")
            safe = safe_action_for(RUNS[name][1])
            bundle = export_policy(run, root / "bundle", reference_episodes=EPISODES, safe_action=safe)
            moved = shutil.copytree(bundle, root / "elsewhere" / "b")
            shutil.rmtree(run)
            shutil.rmtree(bundle)
            assert not run.exists() and not bundle.exists()
            assert not Path(read_manifest(moved)["provenance"]["model_path"]).exists()
            cache[name] = moved
        return cache[name]

    return get


def _copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "copy"))


def _rehash(bundle: Path) -> None:
    """Rewrite the manifest's SHA-256 list after a deliberate edit (what a forger could do)."""
    manifest = read_manifest(bundle)
    del manifest["files"]
    (bundle / MANIFEST).unlink()
    write_manifest(bundle, manifest)


def _details(report: Any) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.ok, c.detail) for c in report.checks}


@pytest.mark.parametrize("name", ["ppo_norm", "grasp_ppo_norm"])
def test_copied_bundle_verifies_without_the_training_run(
    name: str, moved_bundle: Callable[[str], Path]
) -> None:
    bundle = moved_bundle(name)
    report = verify_bundle(bundle, episodes=EPISODES, latency_calls=200)
    assert report.ok, report.format()
    ok, detail = _details(report)[CLOSED_LOOP_CHECK]
    assert ok and "SB3 reference" in detail and f"seeds {CLOSED_LOOP_SEED}..{CLOSED_LOOP_SEED + 2}" in detail
    loop = report.figures["closed_loop"]
    recorded = json.loads((bundle / REFERENCE_FILE).read_text())
    assert loop["episodes"] == EPISODES and loop["reference"]["per_episode"] == recorded["per_episode"]
    onnx = loop["onnx"]["per_episode"]
    assert [e["length"] for e in onnx] == [e["length"] for e in recorded["per_episode"]]
    assert [e["return"] for e in onnx] == pytest.approx(
        [e["return"] for e in recorded["per_episode"]], rel=1e-3
    )
    if name.startswith("grasp"):
        assert all(e["success"] is not None for e in recorded["per_episode"]) and "success SB3" in detail
    else:
        assert all(e["success"] is None for e in recorded["per_episode"]) and "no is_success" in detail


def test_reference_file_format(moved_bundle: Callable[[str], Path]) -> None:
    bundle = moved_bundle("grasp_ppo_norm")
    manifest = read_manifest(bundle)
    assert REFERENCE_FILE in manifest["files"]
    ref = load_reference(bundle / REFERENCE_FILE)
    assert ref["schema"] == 1 and ref["policy"] == "sb3 predict(deterministic=True)"
    assert ref["env"] == {"id": manifest["env"]["id"], "kwargs": manifest["env"]["kwargs"]}
    assert ref["seed"] == CLOSED_LOOP_SEED and ref["episodes"] == EPISODES
    assert [e["seed"] for e in ref["per_episode"]] == [CLOSED_LOOP_SEED + i for i in range(EPISODES)]
    assert all(set(e) == {"seed", "success", "return", "length"} for e in ref["per_episode"])
    assert ref["summary"]["successes"] == sum(e["success"] for e in ref["per_episode"])
    assert set(ref["summary"]) == {"successes", "success_rate", "return_mean", "length_mean"}


def test_verify_never_unpickles_nor_loads_sb3(
    moved_bundle: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecNormalize

    import robot_rl.deploy.source as source

    bundle = moved_bundle("grasp_ppo_norm")  # exported (with SB3) before the guards go up
    calls: list[str] = []

    def forbid(what: str) -> Callable[..., Any]:
        def raiser(*args: Any, **kwargs: Any) -> Any:
            calls.append(what)
            raise AssertionError(f"verify called {what}")

        return raiser

    for attr in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, attr, forbid(f"pickle.{attr}"))
    monkeypatch.setattr(BaseAlgorithm, "load", classmethod(forbid("BaseAlgorithm.load")))
    monkeypatch.setattr(VecNormalize, "load", staticmethod(forbid("VecNormalize.load")))
    monkeypatch.setattr(source, "load_source", forbid("load_source"))
    report = verify_bundle(bundle, latency_calls=200)  # all recorded episodes
    assert not calls, calls
    assert report.ok, report.format()
    assert report.figures["closed_loop"]["episodes"] == EPISODES


def test_tampered_reference_fails_sha256(moved_bundle: Callable[[str], Path], tmp_path: Path) -> None:
    bundle = _copy(moved_bundle("ppo_norm"), tmp_path)
    ref = json.loads((bundle / REFERENCE_FILE).read_text())
    ref["per_episode"][0]["return"] += 100.0
    write_reference(bundle / REFERENCE_FILE, ref)
    report = verify_bundle(bundle, episodes=EPISODES, latency_calls=200)
    ok, detail = _details(report)["manifest sha256"]
    assert not report.ok and not ok
    assert f"{REFERENCE_FILE}: SHA-256 differs" in detail


def test_success_count_beyond_tolerance_fails(moved_bundle: Callable[[str], Path], tmp_path: Path) -> None:
    bundle = _copy(moved_bundle("grasp_ppo_norm"), tmp_path)
    ref = load_reference(bundle / REFERENCE_FILE)
    recorded = sum(e["success"] for e in ref["per_episode"])
    forged = recorded <= 1  # all True when at most one succeeded, else all False: off by >= 2
    for e in ref["per_episode"]:
        e["success"] = forged
    ref["summary"]["successes"] = EPISODES if forged else 0
    write_reference(bundle / REFERENCE_FILE, ref)
    _rehash(bundle)
    report = verify_bundle(bundle, episodes=EPISODES, latency_calls=200, success_tolerance=1)
    checks = _details(report)
    assert checks["manifest sha256"][0], report.format()
    ok, detail = checks[CLOSED_LOOP_CHECK]
    assert not ok and not report.ok and "tolerance 1" in detail
    assert f"[FAIL] {CLOSED_LOOP_CHECK}" in report.format()
    # the same inputs pass with a tolerance of every episode
    manifest = read_manifest(bundle)
    runner = PolicyRunner(bundle)
    loose = compare_with_reference(
        runner, manifest["env"]["id"], manifest["env"]["kwargs"], ref, success_tolerance=EPISODES
    )
    assert loose["ok"] and loose["episodes"] == EPISODES


def test_return_beyond_one_percent_fails(moved_bundle: Callable[[str], Path]) -> None:
    bundle = moved_bundle("ppo_norm")
    manifest = read_manifest(bundle)
    runner = PolicyRunner(bundle)
    ref = load_reference(bundle / REFERENCE_FILE)
    env = (manifest["env"]["id"], manifest["env"]["kwargs"])
    assert compare_with_reference(runner, *env, ref, episodes=2)["ok"]
    for e in ref["per_episode"]:
        e["return"] *= 1.05
    result = compare_with_reference(runner, *env, ref, episodes=2)
    assert not result["ok"] and "no is_success" in result["detail"] and "of 3 recorded" in result["detail"]


def test_more_episodes_than_recorded_is_a_clear_fail(moved_bundle: Callable[[str], Path]) -> None:
    report = verify_bundle(moved_bundle("ppo_norm"), episodes=EPISODES + 1, latency_calls=200)
    ok, detail = _details(report)[CLOSED_LOOP_CHECK]
    assert not ok and not report.ok
    assert f"4 closed-loop episodes asked for, but {REFERENCE_FILE} records 3" in detail


def test_reference_on_another_env_is_refused(moved_bundle: Callable[[str], Path]) -> None:
    bundle = moved_bundle("ppo_norm")
    runner = PolicyRunner(bundle)
    ref = load_reference(bundle / REFERENCE_FILE)
    with pytest.raises(ValueError, match="was recorded on Pendulum-v1"):
        compare_with_reference(runner, "Pendulum-v1", {"g": 5.0}, ref)


def test_bundle_without_reference_fails_with_re_export_hint(
    make_run: Callable[[str], Path], tmp_path: Path
) -> None:
    run, safe = make_run("ppo_plain"), safe_action_for(RUNS["ppo_plain"][1])
    bundle = export_policy(
        run, tmp_path / "b", formats=("onnx",), golden_rows=600, reference_episodes=0, safe_action=safe
    )
    assert not (bundle / REFERENCE_FILE).exists()
    report = verify_bundle(bundle, latency_calls=200)
    ok, detail = _details(report)[CLOSED_LOOP_CHECK]
    assert not ok and not report.ok and "re-export" in detail
    skipped = verify_bundle(bundle, episodes=0, latency_calls=200)
    assert skipped.ok and CLOSED_LOOP_CHECK not in _details(skipped)
    with pytest.raises(ValueError, match="reference_episodes"):
        export_policy(run, tmp_path / "c", reference_episodes=-1, safe_action=safe)
