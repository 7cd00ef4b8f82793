"""robot-rl export / verify / deploy / bench deploy, through the real command line."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from robot_rl.cli import main
from robot_rl.deploy.commands_deploy import parse_faults


def test_export_then_verify(
    make_run: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle"
    assert (
        main(
            [
                "export",
                str(make_run("ppo_plain")),
                "--out",
                str(out),
                "--formats",
                "onnx,c",
                "--safe-action",
                "[0]",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "exported ppo policy for Pendulum-v1" in text and "policy_c/policy.c" in text
    assert not (out / "policy.pt").exists()
    report = tmp_path / "report.json"
    code = main(["verify", str(out), "--episodes", "2", "--latency-calls", "300", "--json", str(report)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "OK: bundle verified" in text and "torchscript" not in text
    data = json.loads(report.read_text())
    assert data["ok"] and data["figures"]["c_latency_us"]["calls"] == 300


def test_verify_exits_nonzero_on_failure(
    make_bundle: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = shutil.copytree(make_bundle("td3"), tmp_path / "b")
    (bundle / "golden.npz").write_bytes((bundle / "golden.npz").read_bytes()[:-1] + b"\x01")
    assert main(["verify", str(bundle), "--episodes", "0", "--latency-calls", "200"]) == 1
    assert "[FAIL] manifest sha256" in capsys.readouterr().out


def test_input_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("robot-rl verify: error:") and "not an exported bundle" in err
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_deploy_sim_prints_rate_overruns_faults_outcome(
    make_bundle: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["deploy", str(make_bundle("ppo_norm")), "--hardware", "sim", "--duration", "0.5"]
    assert main([*args, "--inject", "nan@3:2"]) == 0
    text = capsys.readouterr().out
    assert "policy 20 Hz, commands 20 Hz, watchdog 0.15 s" in text  # Pendulum's dt = 0.05 s
    assert "target 20 Hz" in text and "overruns" in text
    assert "'NONFINITE_OBS': 2" in text and "task:" in text


def test_bench_deploy_prints_figures(
    make_bundle: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = str(make_bundle("ppo_norm"))
    assert main(["bench", "deploy", bundle, "--calls", "500", "--loop-seconds", "0.3"]) == 0
    text = capsys.readouterr().out
    for needle in (
        "onnxruntime  p50",
        "C            p50",
        "p99/period",
        "policy 20 Hz, commands 20 Hz",
        "memory (RSS",
        "the loop ",
    ):
        assert needle in text


def test_parse_faults() -> None:
    faults = parse_faults(["nan@3", "stale@10:3", "slow@7"], slow_s=0.02)
    assert faults.nan_steps == {3} and faults.stale_steps == {10, 11, 12} and faults.slow_steps == {7}
    with pytest.raises(ValueError, match="KIND@STEP"):
        parse_faults(["nan"], 0.0)
    with pytest.raises(ValueError, match="choose one of"):
        parse_faults(["fire@1"], 0.0)


def test_bench_deploy_takes_a_pretrained_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "deploy", "zoo:grasp_ppo", "--calls", "200", "--loop-seconds", "0"]) == 0
    text = capsys.readouterr().out
    assert "policies/grasp_ppo/bundle (ppo on robot_rl/PandaGrasp-v0)" in text and "onnxruntime  p50" in text
    assert main(["bench", "deploy", "zoo:nope", "--loop-seconds", "0"]) == 2
    assert (
        "no pretrained policy is called 'nope'; pretrained policies: zoo:grasp_ppo" in capsys.readouterr().err
    )
