"""Export: every algorithm and format reproduces SB3's deterministic actions; bundle contents."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

from robot_rl.deploy.export import RANDOM_OPS, export_policy, load_torchscript
from robot_rl.deploy.golden import KIND_NAMES, load_golden
from robot_rl.deploy.manifest import sha256_file
from robot_rl.deploy.runtime import PolicyRunner
from robot_rl.deploy.source import load_source
from tests.deploy.conftest import RUNS, safe_action_for

ALL = sorted(RUNS)


@pytest.mark.parametrize("name", ALL)
def test_onnx_and_torchscript_match_sb3_on_golden(name: str, make_bundle: Callable[[str], Path]) -> None:
    import torch

    bundle = make_bundle(name)
    golden = load_golden(bundle / "golden.npz")
    runner = PolicyRunner(bundle)
    inputs = {n: golden[f"obs__{n}"] for n in runner.input_names}
    onnx_out = runner.act_batch(inputs)
    ts = load_torchscript(bundle / "policy.pt")
    with torch.no_grad():
        ts_out = ts(*(torch.from_numpy(inputs[n]) for n in runner.input_names)).numpy()
    expected = golden["actions"]
    if runner.discrete:
        assert onnx_out.dtype == np.int64 and np.array_equal(onnx_out, expected)
        assert np.array_equal(ts_out, expected)
    else:
        assert onnx_out.shape == expected.shape
        assert np.max(np.abs(onnx_out - expected)) <= 1e-5
        assert np.max(np.abs(ts_out - expected)) <= 1e-5


def test_golden_covers_every_kind_and_loads_without_pickle(make_bundle: Callable[[str], Path]) -> None:
    golden = load_golden(make_bundle("ppo_norm") / "golden.npz")
    assert 900 <= len(golden["kind"]) <= 1100
    assert list(golden["kind_names"]) == list(KIND_NAMES)
    assert set(np.unique(golden["kind"])) == set(range(len(KIND_NAMES)))
    assert np.all(golden["obs_flat"][golden["kind"] == 0] == 0)
    # rollout states come from the real env: Pendulum observations are (cos, sin, theta_dot)
    roll = golden["obs__obs"][golden["kind"] == 4]
    assert np.allclose(roll[:, 0] ** 2 + roll[:, 1] ** 2, 1.0, atol=1e-5)


def test_graph_holds_normalization_and_unscaling(make_run: Callable[[str], Path], tmp_path: Path) -> None:
    """The raw-obs -> env-action path: SAC actions span [-2, 2] and normalization is in the graph."""
    src = load_source(make_run("sac_norm"))
    bundle = export_policy(src, tmp_path / "b", formats=("onnx",), safe_action=safe_action_for(src.env_id))
    runner = PolicyRunner(bundle)
    obs = np.array([0.3, -0.9, 4.0], np.float32)
    normed = src.vecnormalize.normalize_obs(obs[None])
    expected = src.model.predict(normed, deterministic=True)[0][0]
    assert np.allclose(runner.act(obs), expected, atol=1e-5)
    # Without the normalization in the graph the answer would differ.
    raw = src.model.predict(obs[None], deterministic=True)[0][0]
    assert not np.allclose(raw, expected, atol=1e-3)


def test_manifest_contents(make_run: Callable[[str], Path], make_bundle: Callable[[str], Path]) -> None:
    bundle = make_bundle("her_goal_norm")
    manifest = json.loads((bundle / "manifest.json").read_text())
    src = load_source(make_run("her_goal_norm"))
    assert manifest["schema"] == 2 and manifest["algo"] == "sac"
    assert [i["name"] for i in manifest["observation"]["inputs"]] == [
        "achieved_goal",
        "desired_goal",
        "observation",
    ]
    stats = manifest["normalization"]["observation"]
    assert stats["mean"] == src.vecnormalize.obs_rms["observation"].mean.tolist()  # full float64 precision
    assert stats["var"] == src.vecnormalize.obs_rms["observation"].var.tolist()
    assert stats["clip_obs"] == 5.0 and stats["epsilon"] == src.vecnormalize.epsilon
    assert manifest["env"]["control_period_s"] == pytest.approx(0.1)
    assert manifest["action"]["low"] == [-1.0, -1.0]
    assert manifest["env"]["policy_hz"] == pytest.approx(10.0)
    assert manifest["action"]["safe_action"] == [0.0, 0.0]  # given at export (not a robot_rl env)
    assert manifest["safety"] == {
        "watchdog_timeout_s": pytest.approx(0.3),
        "max_consecutive_faults": 5,
        "command_hz": pytest.approx(10.0),
        "source": None,
        "action_low": [-1.0, -1.0],
        "action_high": [1.0, 1.0],
        "max_rate_per_s": [None, None],
    }
    assert "source" not in manifest and Path(manifest["provenance"]["model_path"]).is_absolute()
    assert set(manifest["files"]) == {"policy.onnx", "policy.pt", "golden.npz", "closed_loop.json", *(
        f"policy_c/{n}" for n in ("policy.c", "policy.h", "harness.c", "README.txt"))}  # fmt: skip
    for rel, digest in manifest["files"].items():
        assert sha256_file(bundle / rel) == digest
    assert manifest["num_timesteps"] == 300 and manifest["eval"]["episodes"] == 1


def test_robot_rl_layouts_in_manifest(make_bundle: Callable[[str], Path]) -> None:
    import gymnasium as gym

    manifest = json.loads((make_bundle("grasp_ppo_norm") / "manifest.json").read_text())
    env = gym.make("robot_rl/PandaGrasp-v0")
    try:
        assert manifest["observation"]["inputs"][0]["layout"] == env.unwrapped.obs_layout.to_dict()
        assert manifest["action"]["layout"] == env.unwrapped.action_layout.to_dict()
        assert manifest["env"]["control_period_s"] == env.unwrapped.dt
        assert manifest["env"]["policy_hz"] == pytest.approx(20.0)
        assert manifest["action"]["safe_action"] == [0.0, 0.0, 0.0, 0.0, None]  # hold the gripper
        semantics = {row["name"]: row for row in manifest["action"]["semantics"]}
        assert semantics["ee_displacement"]["kind"] == "displacement"
        assert semantics["ee_displacement"]["per_unit_per_s"] == pytest.approx(0.4)  # 0.02 m per 50 ms
        assert semantics["gripper"]["kind"] == "position"
        assert manifest["safety"]["source"] == "deploy_grasp.yaml"
        assert manifest["safety"]["max_rate_per_s"] == [10.0, 10.0, 10.0, 10.0, 40.0]
    finally:
        env.close()


@pytest.mark.parametrize("name", ["ppo_norm", "her_goal_norm", "dqn"])
def test_onnx_file_is_self_contained_and_deterministic(name: str, make_bundle: Callable[[str], Path]) -> None:
    bundle = make_bundle(name)
    model = onnx.load(str(bundle / "policy.onnx"))
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert not ops & RANDOM_OPS
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert [o.name for o in model.graph.output] == ["action"]


def test_bundle_has_no_pickle(make_bundle: Callable[[str], Path]) -> None:
    bundle = make_bundle("ppo_norm")
    names = [p.name for p in bundle.rglob("*") if p.is_file()]
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".zip"))]
    with zipfile.ZipFile(bundle / "golden.npz") as zf:
        for member in zf.namelist():
            header = zf.read(member)[:128]
            assert b"'descr': '|O'" not in header  # no object arrays (which would need pickle)


def test_export_rejects_bad_input(make_run: Callable[[str], Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="formats"):
        export_policy(make_run("td3"), tmp_path / "a", formats=("onnx", "tflite"), safe_action=[0.0])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an exported bundle"):
        export_policy(make_run("td3"), tmp_path / "busy", safe_action=[0.0])
    with pytest.raises(FileNotFoundError):
        export_policy(tmp_path / "no_such_run", tmp_path / "b")
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "model.zip").write_bytes((make_run("td3") / "model.zip").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"run\.json"):
        export_policy(lone / "model.zip", tmp_path / "c")


def test_export_subset_of_formats_and_reexport(make_run: Callable[[str], Path], tmp_path: Path) -> None:
    out = export_policy(make_run("td3"), tmp_path / "b", formats=("c",), safe_action=[0.0])
    assert (out / "policy_c" / "policy.c").exists() and not (out / "policy.onnx").exists()
    out = export_policy(make_run("td3"), tmp_path / "b", formats=("onnx",), safe_action=[0.0])  # replaces
    assert (out / "policy.onnx").exists() and not (out / "policy_c").exists()


def _untrained_run(tmp_path: Path, activation: object) -> Path:
    from stable_baselines3 import PPO

    model = PPO(
        "MlpPolicy", "Pendulum-v1", policy_kwargs={"net_arch": [16], "activation_fn": activation}, seed=1
    )
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.zip")
    meta = {"env_id": "Pendulum-v1", "algo": "ppo", "num_timesteps": 0, "normalize": False, "env_kwargs": {}}
    (run / "run.json").write_text(json.dumps(meta))
    return run


@pytest.mark.parametrize("activation", ["ELU", "LeakyReLU"])
def test_other_activations_export_exactly(activation: str, tmp_path: Path) -> None:
    import torch.nn as nn

    from robot_rl.deploy.verify import verify_bundle

    bundle = export_policy(
        _untrained_run(tmp_path, getattr(nn, activation)), tmp_path / "b", golden_rows=600, safe_action=[0.0]
    )
    report = verify_bundle(bundle, episodes=0, latency_calls=100)
    assert report.ok, report.format()
    assert report.figures["c_max_err"] <= 2e-5


def test_unsupported_layers_are_refused_with_the_accepted_list(tmp_path: Path) -> None:
    import torch.nn as nn

    with pytest.raises(ValueError, match=r"layer SiLU is not supported; accepted: .*'ReLU', 'Tanh'"):
        export_policy(_untrained_run(tmp_path, nn.SiLU), tmp_path / "b", safe_action=[0.0])
