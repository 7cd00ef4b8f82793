"""PolicyRunner: imports only numpy + onnxruntime, checks hashes, refuses unsafe ONNX files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

from robot_rl.deploy.golden import load_golden
from robot_rl.deploy.manifest import read_manifest, write_manifest
from robot_rl.deploy.onnx_scan import scan_onnx
from robot_rl.deploy.runtime import BundleError, PolicyRunner

BLOCKER = textwrap.dedent(
    """
    import sys
    BLOCKED = {"torch", "stable_baselines3", "sb3_contrib", "pybullet", "pybullet_data", "onnx"}

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked import of {name}")
            return None

    sys.meta_path.insert(0, Block())
    """
)


def _rehash(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    manifest.pop("files")
    write_manifest(bundle, manifest)


def test_runtime_runs_without_torch_sb3_pybullet(make_bundle: Callable[[str], Path]) -> None:
    bundle = make_bundle("her_goal_norm")
    script = BLOCKER + textwrap.dedent(
        f"""
        import json
        import numpy as np
        from robot_rl.deploy.runtime import PolicyRunner
        g = np.load({str(bundle / "golden.npz")!r}, allow_pickle=False)
        runner = PolicyRunner({str(bundle)!r})
        obs = {{n: g["obs__" + n][5] for n in runner.input_names}}
        action = runner.act(obs)
        flat = runner.act(g["obs_flat"][5])
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print(json.dumps({{"action": action.tolist(), "flat": flat.tolist(), "heavy": heavy}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    expected = load_golden(bundle / "golden.npz")["actions"][5]
    assert result["heavy"] == []
    assert np.allclose(result["action"], expected, atol=1e-5)
    assert np.allclose(result["flat"], expected, atol=1e-5)


def test_blocker_really_blocks() -> None:
    out = subprocess.run([sys.executable, "-c", BLOCKER + "import torch"], capture_output=True, text=True)
    assert out.returncode != 0 and "blocked import of torch" in out.stderr


def test_modified_file_is_refused(make_bundle: Callable[[str], Path], tmp_path: Path) -> None:
    bundle = shutil.copytree(make_bundle("ppo_norm"), tmp_path / "b")
    with (bundle / "golden.npz").open("ab") as fh:
        fh.write(b"x")
    with pytest.raises(BundleError, match=r"golden\.npz: SHA-256 differs"):
        PolicyRunner(bundle)
    (bundle / "extra.bin").write_bytes(b"1")
    with pytest.raises(BundleError, match=r"extra\.bin: not listed"):
        PolicyRunner(bundle)


def test_external_data_is_refused(make_bundle: Callable[[str], Path], tmp_path: Path) -> None:
    bundle = shutil.copytree(make_bundle("ppo_norm"), tmp_path / "b")
    model = onnx.load(str(bundle / "policy.onnx"))
    onnx.save_model(
        model,
        str(bundle / "policy.onnx"),
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )
    _rehash(bundle)  # hashes match: only the external-data check can refuse it
    assert scan_onnx((bundle / "policy.onnx").read_bytes()).external_tensors
    with pytest.raises(BundleError, match="external-data tensors"):
        PolicyRunner(bundle)


def test_custom_domain_is_refused(make_bundle: Callable[[str], Path], tmp_path: Path) -> None:
    bundle = shutil.copytree(make_bundle("td3"), tmp_path / "b")
    model = onnx.load(str(bundle / "policy.onnx"))
    model.opset_import.append(onnx.helper.make_opsetid("com.example.custom", 1))
    model.graph.node.append(
        onnx.helper.make_node("Evil", ["action"], ["unused"], domain="com.example.custom")
    )
    onnx.save_model(model, str(bundle / "policy.onnx"))
    _rehash(bundle)
    scan = scan_onnx((bundle / "policy.onnx").read_bytes())
    assert scan.custom_domains == {"com.example.custom"} and "Evil" in scan.op_types
    with pytest.raises(BundleError, match="custom operator domains"):
        PolicyRunner(bundle)


def test_session_uses_one_thread_each(make_bundle: Callable[[str], Path]) -> None:
    runner = PolicyRunner(make_bundle("ppo_norm"))
    options = runner.session.get_session_options()
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    assert runner.session.get_providers() == ["CPUExecutionProvider"]


def test_act_validates_and_returns_env_actions(make_bundle: Callable[[str], Path]) -> None:
    runner = PolicyRunner(make_bundle("dqn"))
    golden = load_golden(runner.bundle / "golden.npz")
    assert runner.discrete and runner.act(golden["obs_flat"][10]) == int(golden["actions"][10])
    with pytest.raises(ValueError, match="needs 4 entries, got 3"):
        runner.act(np.zeros(3, np.float32))
    goal = PolicyRunner(make_bundle("her_goal_norm"))
    with pytest.raises(ValueError, match="lacks input 'desired_goal'"):
        goal.act({"observation": np.zeros(4), "achieved_goal": np.zeros(2)})
    action = goal.act({n: np.zeros(s) for n, s in goal.input_specs})
    assert action.dtype == np.float32 and action.shape == (2,) and np.all(np.abs(action) <= 1)


def test_scan_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a valid ONNX"):
        scan_onnx(b"\xff\xff\xff")
