"""The pretrained policies (``assets/policies/NAME``, ``zoo:NAME``): every shipped bundle still
verifies against the code's export format, its zoo.json describes the bundle it ships, and the
name resolves wherever the package is used from."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from robot_rl import zoo
from robot_rl.cli import main
from robot_rl.deploy.verify import verify_bundle

NAMES = zoo.names()
#: Seeds of the evaluations that selected the best model during training (train.eval_seed).
SELECTION_SEED = 1_000_000


def regenerate_hint(p: zoo.Pretrained) -> str:
    c = p.commands
    return (
        f"the shipped bundle zoo:{p.name} ({p.bundle}) no longer matches this code's export format; "
        f"regenerate it: {c.get('export')} (run made by: {c.get('train')}), "
        f"then measure it again: {c.get('evaluate')} and update {p.root / zoo.ZOO_JSON}"
    )


def test_the_readme_policies_are_shipped() -> None:
    assert {"grasp_ppo", "nav_sac"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_bundle_verifies(name: str) -> None:
    """Hashes, schema, deploy contract, ONNX checks and golden parity of ONNX/TorchScript/C."""
    p = zoo.get(name)
    try:
        report = verify_bundle(p.bundle, episodes=0, latency_calls=200)
    except (ValueError, KeyError, FileNotFoundError) as exc:  # e.g. a manifest schema this code cannot read
        pytest.fail(f"{type(exc).__name__}: {exc}\n{regenerate_hint(p)}")
    failed = [c for c in report.checks if not c.ok]
    if failed:
        pytest.fail(f"{report.format()}\n{regenerate_hint(p)}")
    names = {c.name for c in report.checks}
    assert {"manifest sha256", "onnx.checker", "onnxruntime vs SB3", "torchscript vs SB3"} <= names, names
    assert any(n.startswith("C (") and n.endswith("vs SB3") for n in names), names


@pytest.mark.parametrize("name", NAMES)
def test_zoo_json_describes_the_shipped_bundle(name: str) -> None:
    p = zoo.get(name)
    size = sum(f.stat().st_size for f in p.root.rglob("*") if f.is_file())
    assert size < 2 * 1024 * 1024, f"{p.root} holds {size} bytes; pretrained policies stay under 2 MB"
    for what in ("train", "export", "evaluate"):
        assert p.commands.get(what, "").startswith("robot-rl "), f"zoo.json of {name}: no {what} command"
    assert f"zoo:{name}" in p.commands["evaluate"]
    ev = p.evaluation
    manifest_sha = hashlib.sha256((p.bundle / "manifest.json").read_bytes()).hexdigest()
    assert ev["manifest_sha256"] == manifest_sha, (
        f"zoo.json of {name} reports an evaluation of another bundle; measure it again: "
        f"{p.commands['evaluate']} and update {p.root / zoo.ZOO_JSON}"
    )
    assert ev["policy"].startswith("bundle ONNX")
    assert ev["episodes"] >= 200 and 0.0 <= ev["success_ci95"][0] <= ev["success_rate"] <= 1.0
    # never the episodes that chose the model: other seeds (grasp) or another split (navigation)
    selection = p.info["selection"]
    first, count = selection["seed"], selection["episodes"]
    disjoint_seeds = ev["seed"] >= first + count or ev["seed"] + ev["episodes"] <= first
    assert disjoint_seeds or ev["env_kwargs"].get("split") not in (None, selection.get("split"))
    manifest = json.loads((p.bundle / "manifest.json").read_text())
    assert ev["env_id"] == manifest["env"]["id"] == p.info["env_id"]


def test_zoo_name_resolves_from_any_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in NAMES:
        bundle = zoo.resolve_bundle(f"zoo:{name}")
        assert bundle.is_absolute() and (bundle / "manifest.json").is_file()
        assert bundle == zoo.zoo_bundle(name) == zoo.zoo_bundle(f"zoo:{name}")
        assert zoo.policies_dir() in bundle.parents
    assert zoo.resolve_bundle("exports/demo") == Path("exports/demo")


@pytest.mark.parametrize("verb", ["evaluate", "verify", "deploy", "zoo"])
def test_unknown_name_is_one_line_listing_the_names(verb: str, capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([verb, "zoo:grasp_dqn" if verb != "zoo" else "grasp_dqn"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"robot-rl {verb}: error: no pretrained policy is called 'grasp_dqn'; ")
    assert err.count("\n") == 1
    for name in NAMES:
        assert f"zoo:{name}" in err
    with pytest.raises(FileNotFoundError, match="pretrained policies: zoo:grasp_ppo, zoo:nav_sac"):
        zoo.zoo_bundle("grasp_dqn")


def test_zoo_verb_lists_results_and_commands(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    for p in zoo.pretrained():
        assert f"zoo:{p.name}" in out and p.summary_line() in out and p.commands["evaluate"] in out
    assert main(["zoo", "nav_sac"]) == 0
    out = capsys.readouterr().out
    assert str(zoo.zoo_bundle("nav_sac")) in out and "SPL" in out and "robot-rl train" in out


def test_evaluate_zoo_runs_the_bundle_onnx_policy(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "zoo:grasp_ppo", "--episodes", "2", "--seed", "2000000"]) == 0
    summary = json.loads((tmp_path / "runs/eval/grasp_ppo/summary.json").read_text())
    assert summary["episodes"] == 2 and summary["source"] == "zoo:grasp_ppo"
    assert summary["policy"].startswith("bundle ONNX") and summary["env_id"] == "robot_rl/PandaGrasp-v0"
    assert (tmp_path / "runs/eval/grasp_ppo/episodes.csv").is_file()
    assert not (zoo.zoo_bundle("grasp_ppo").parent / "runs").exists()
    capsys.readouterr()
    assert main(["evaluate", "zoo:grasp_ppo", "--episodes", "1", "--stochastic"]) == 2
    assert "deterministic policy only" in capsys.readouterr().err


def test_a_stale_bundle_fails_naming_the_command_that_regenerates_it(tmp_path: Path, monkeypatch) -> None:
    import shutil

    shutil.copytree(zoo.policies_dir() / "grasp_ppo", tmp_path / "grasp_ppo")
    manifest = tmp_path / "grasp_ppo" / zoo.BUNDLE_DIR / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"schema": 2', '"schema": 3', 1))
    monkeypatch.setattr(zoo, "policies_dir", lambda: tmp_path)
    with pytest.raises(pytest.fail.Exception) as failed:
        test_shipped_bundle_verifies("grasp_ppo")
    message = str(failed.value)
    assert "schema 3 is not supported" in message
    assert zoo.get("grasp_ppo").commands["export"] in message and "robot-rl evaluate zoo:grasp_ppo" in message
