"""The shipped launch/deploy_*.yaml files and their validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robot_rl.deploy.deploy_config import default_config_for, load_deploy_config
from robot_rl.deploy.safety import SafetyConfig

ROOT = Path(__file__).resolve().parents[2]


def _manifest(env_id: str, action: dict[str, Any], period: float = 0.05) -> dict[str, Any]:
    return {"env": {"id": env_id, "control_period_s": period}, "action": action}


def test_grasp_config_fits_the_grasp_action_layout() -> None:
    from robot_rl.envs.robots.panda import PandaRobot

    n = PandaRobot.action_layout.size
    manifest = _manifest(
        "robot_rl/PandaGrasp-v0", {"type": "box", "size": n, "low": [-1.0] * n, "high": [1.0] * n}
    )
    config = load_deploy_config(ROOT / "launch/deploy_grasp.yaml")
    config.check_env(manifest)
    config.check_env(_manifest("robot_rl/PandaGraspGoal-v0", manifest["action"]))
    safety = SafetyConfig.from_manifest(manifest, config.safety)
    assert config.rate_for(manifest) == 100.0
    assert np.isnan(safety.safe_action[-1])  # hold the gripper
    assert np.all(safety.action_high[:3] == 0.8)


def test_nav_configs_fit_the_nav_env() -> None:
    from robot_rl.envs.nav_env import MOTION_PRIMITIVES

    box = {"type": "box", "size": 2, "low": [-1.0, -1.0], "high": [1.0, 1.0]}
    config = load_deploy_config(ROOT / "launch/deploy_nav.yaml")
    config.check_env(_manifest("robot_rl/MobileNav-v0", box, 0.1))
    assert np.all(
        SafetyConfig.from_manifest(_manifest("robot_rl/MobileNav-v0", box), config.safety).safe_action == 0
    )
    discrete = {"type": "discrete", "n": len(MOTION_PRIMITIVES)}
    config = load_deploy_config(ROOT / "launch/deploy_nav_discrete.yaml")
    safety = SafetyConfig.from_manifest(_manifest("robot_rl/MobileNavDiscrete-v0", discrete), config.safety)
    assert np.all(MOTION_PRIMITIVES[int(safety.safe_action[0])] == 0)  # the stop primitive


def test_default_config_is_picked_by_env_id() -> None:
    assert default_config_for("robot_rl/PandaGraspGoal-v0", ROOT) == ROOT / "launch/deploy_grasp.yaml"
    assert default_config_for("robot_rl/MobileNav-v0", ROOT) == ROOT / "launch/deploy_nav.yaml"
    assert (
        default_config_for("robot_rl/MobileNavDiscrete-v0", ROOT) == ROOT / "launch/deploy_nav_discrete.yaml"
    )
    assert default_config_for("Pendulum-v1", ROOT) is None


def test_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("control_hz: 100\nsafty: {}\n")
    with pytest.raises(ValueError, match=r"unknown keys \['safty'\]"):
        load_deploy_config(bad)
    bad.write_text("control_hz: -5\n")
    with pytest.raises(ValueError, match="control_hz must be a number > 0"):
        load_deploy_config(bad)
    with pytest.raises(FileNotFoundError):
        load_deploy_config(tmp_path / "missing.yaml")
    config = load_deploy_config(ROOT / "launch/deploy_grasp.yaml")
    with pytest.raises(ValueError, match="bundle's env is 'robot_rl/MobileNav-v0'"):
        config.check_env(_manifest("robot_rl/MobileNav-v0", {}))
    config.control_hz = 20.0
    with pytest.raises(ValueError, match="shorter than two loop periods"):
        config.rate_for(_manifest("robot_rl/PandaGrasp-v0", {}))
    assert load_deploy_config(None).rate_for(_manifest("x", {}, period=0.04)) == pytest.approx(25.0)
