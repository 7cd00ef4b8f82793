"""The shipped launch/deploy_*.yaml files, their resolution at export and tightening at deploy."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robot_rl.deploy.deploy_config import (
    DeployConfig,
    effective_settings,
    launch_dir,
    load_deploy_config,
    resolve_safety,
    shipped_config_for,
)
from robot_rl.deploy.safety import SafetyConfig

ROOT = Path(__file__).resolve().parents[2]
BOX5 = {"type": "box", "size": 5, "low": [-1.0] * 5, "high": [1.0] * 5, "safe_action": [0, 0, 0, 0, None]}


def _manifest(env_id: str, action: dict[str, Any], period: float, config: DeployConfig) -> dict[str, Any]:
    safety = resolve_safety(action, period, config, "test.yaml")
    return {"env": {"id": env_id, "control_period_s": period}, "action": action, "safety": safety}


def test_shipped_configs_are_found_from_the_package_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert launch_dir() == ROOT / "launch"
    assert shipped_config_for("robot_rl/PandaGraspGoal-v0") == ROOT / "launch/deploy_grasp.yaml"
    assert shipped_config_for("robot_rl/MobileNav-v0") == ROOT / "launch/deploy_nav.yaml"
    assert shipped_config_for("robot_rl/MobileNavDiscrete-v0") == ROOT / "launch/deploy_nav_discrete.yaml"
    assert shipped_config_for("Pendulum-v1") is None


def test_grasp_config_resolves_to_per_second_limits_at_the_policy_rate() -> None:
    config = load_deploy_config(ROOT / "launch/deploy_grasp.yaml")
    safety = resolve_safety(BOX5, 0.05, config, "deploy_grasp.yaml")
    assert safety["command_hz"] == 20.0  # the policy's own rate, not 100 Hz
    assert safety["watchdog_timeout_s"] == pytest.approx(0.15)
    assert safety["action_high"][:3] == [0.8, 0.8, 0.8]
    assert safety["max_rate_per_s"] == [10.0, 10.0, 10.0, 10.0, 40.0]
    cfg = SafetyConfig.from_manifest({"action": BOX5, "safety": safety})
    assert np.allclose(cfg.max_delta, [0.5, 0.5, 0.5, 0.5, 2.0])  # per 50 ms tick
    assert np.isnan(cfg.safe_action[-1])  # hold the gripper


def test_nav_config_has_a_100_hz_command_stream_for_the_10_hz_policy() -> None:
    box = {"type": "box", "size": 2, "low": [-1.0] * 2, "high": [1.0] * 2, "safe_action": [0.0, 0.0]}
    safety = resolve_safety(box, 0.1, load_deploy_config(ROOT / "launch/deploy_nav.yaml"), "x")
    cfg = SafetyConfig.from_manifest({"action": box, "safety": safety})
    assert safety["command_hz"] == 100.0 and cfg.tick_s == pytest.approx(0.01)
    assert np.allclose(cfg.max_delta, [0.05, 0.1])
    discrete = {"type": "discrete", "n": 7, "safe_action": 6}
    safety = resolve_safety(discrete, 0.1, load_deploy_config(ROOT / "launch/deploy_nav_discrete.yaml"), "x")
    assert "action_low" not in safety and safety["watchdog_timeout_s"] == pytest.approx(0.3)


def test_defaults_without_a_config() -> None:
    box = {"type": "box", "size": 1, "low": [-2.0], "high": [2.0], "safe_action": [0.0]}
    safety = resolve_safety(box, 0.05, DeployConfig(), None)
    assert safety == {
        "watchdog_timeout_s": pytest.approx(0.15),
        "max_consecutive_faults": 5,
        "command_hz": pytest.approx(20.0),
        "source": None,
        "action_low": [-2.0],
        "action_high": [2.0],
        "max_rate_per_s": [None],
    }


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("control_hz: 100\n", r"unknown key 'control_hz' \(top level\); accepted keys: env_id, policy_hz"),
        ("safety: {slew: 1}\n", r"unknown key safety.'slew' \(safety\); accepted keys: action_low"),
        ("command_hz: -5\n", r"command_hz=-5 is not accepted; expected a number > 0"),
        (
            "safety: {watchdog_timeout_s: '0.1'}\n",
            r"safety.watchdog_timeout_s='0.1' is not accepted; expected a number",
        ),
        (
            "safety: {max_rate_per_s: fast}\n",
            r"safety.max_rate_per_s='fast' is not accepted; expected a number or a list$",
        ),
        ("- 1\n- 2\n", r"expected a mapping"),
    ],
)
def test_config_errors_name_the_key_and_what_is_accepted(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml_text)
    with pytest.raises(ValueError, match=message):
        load_deploy_config(bad)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"deploy config file '\S*missing\.yaml' not found"):
        load_deploy_config(tmp_path / "missing.yaml")


def test_export_side_refuses_inconsistent_limits() -> None:
    with pytest.raises(ValueError, match=r"shorter than the observation period 0\.05 s"):
        resolve_safety(
            BOX5, 0.05, DeployConfig.model_validate({"safety": {"watchdog_timeout_s": 0.02}}), None
        )
    with pytest.raises(ValueError, match="not an integer multiple of the policy rate 20 Hz"):
        resolve_safety(BOX5, 0.05, DeployConfig(command_hz=50.0), None)
    with pytest.raises(ValueError, match=r"safe action .* lies outside"):
        resolve_safety(BOX5, 0.05, DeployConfig.model_validate({"safety": {"action_low": [0.1] * 5}}), None)


def _grasp_manifest() -> dict[str, Any]:
    return _manifest(
        "robot_rl/PandaGrasp-v0", BOX5, 0.05, load_deploy_config(ROOT / "launch/deploy_grasp.yaml")
    )


def test_deploy_config_may_tighten() -> None:
    manifest = _grasp_manifest()
    tighter = DeployConfig.model_validate(
        {
            "command_hz": 100,
            "safety": {"action_high": [0.5] * 5, "max_rate_per_s": 5.0, "watchdog_timeout_s": 0.1},
        }
    )
    out = effective_settings(manifest, tighter)
    assert out["action_high"] == [0.5] * 5 and out["max_rate_per_s"] == [5.0] * 5
    assert out["watchdog_timeout_s"] == 0.1 and out["command_hz"] == 100
    assert out["action_low"] == manifest["safety"]["action_low"]  # untouched entries keep the bundle's


@pytest.mark.parametrize(
    ("safety", "named"),
    [
        ({"action_high": [0.9, 0.8, 0.8, 1.0, 1.0]}, r"action_high\[0\] 0.9 > bundle 0.8"),
        ({"action_low": [-1.0, -0.8, -0.8, -1.0, -1.0]}, r"action_low\[0\] -1 < bundle -0.8"),
        ({"max_rate_per_s": [10.0, 10.0, 10.0, 10.0, None]}, r"max_rate_per_s\[4\] inf > bundle 40"),
        ({"watchdog_timeout_s": 1.0}, r"watchdog_timeout_s 1 > bundle 0.15"),
        ({"max_consecutive_faults": 10}, r"max_consecutive_faults 10 > bundle 3"),
    ],
)
def test_deploy_config_that_loosens_is_refused(safety: dict[str, Any], named: str) -> None:
    manifest = _grasp_manifest()
    before = copy.deepcopy(manifest)
    with pytest.raises(ValueError, match=f"loosens the bundle's safety limits: {named}"):
        effective_settings(manifest, DeployConfig.model_validate({"safety": safety}))
    assert manifest == before  # nothing changed


def test_a_different_policy_rate_is_refused_with_the_reason() -> None:
    with pytest.raises(
        ValueError, match="policy_hz=100 differs from the bundle's policy rate 20 Hz: the policy"
    ):
        effective_settings(_grasp_manifest(), DeployConfig(policy_hz=100.0))
    assert effective_settings(_grasp_manifest(), DeployConfig(policy_hz=20.0))["command_hz"] == 20.0


def test_deploy_checks_env_and_watchdog_against_the_observation_period() -> None:
    with pytest.raises(ValueError, match="bundle's env is 'robot_rl/PandaGrasp-v0'"):
        effective_settings(_grasp_manifest(), DeployConfig(env_id="robot_rl/MobileNav-"))
    with pytest.raises(ValueError, match="shorter than the observation period"):
        effective_settings(
            _grasp_manifest(), DeployConfig.model_validate({"safety": {"watchdog_timeout_s": 0.01}})
        )
    with pytest.raises(ValueError, match="not an integer multiple"):
        effective_settings(_grasp_manifest(), DeployConfig(command_hz=30.0))
