"""Recorder and replay without a robot: a synthetic log of ticks, re-run with the nav bundle."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cyclonedds", reason="needs the ros2 extra (make install installs it)")

from robot_rl.cli import main
from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.qos import SENSOR_DATA
from robot_rl.deploy.ros2.recorder import TICK_TOPIC, Recorder, qos_yaml
from robot_rl.deploy.ros2.replay import read_ticks, replay
from robot_rl.deploy.runtime import PolicyRunner
from robot_rl.errors import InputError, MissingInputError
from tests.deploy.ros2.conftest import NAV_BUNDLE


def _write_log(path, manifest, n=20, outlier_at=12, tamper=0.0):
    """Ticks with observations near the training mean; entry 29 (waypoint_distance) far out at one tick."""
    runner = PolicyRunner(NAV_BUNDLE)
    mean = np.asarray(manifest["normalization"]["obs"]["mean"], np.float32)
    rec = Recorder(path, manifest, {"/scan": SENSOR_DATA}, manifest["safety"], bundle=NAV_BUNDLE)
    rng = np.random.default_rng(0)
    for i in range(n):
        obs = (mean + rng.normal(0, 0.05, mean.shape)).astype(np.float32)
        if i == outlier_at:
            obs[29] = 2.5  # trained: 0.90 +- 0.20 m (the waypoint sits about 1 m ahead): |z| = 8
        raw = np.asarray(runner.act(obs), np.float32) + np.float32(tamper)
        action = np.clip(raw, -0.5, 1).tolist()
        tick = m.DeployTick(
            m.Header(m.stamp_of(1000.0 + 0.01 * i)), i, True, obs.tolist(), True, raw.tolist(), action
        )
        rec.message(TICK_TOPIC, tick, log_time_ns=int((1000.0 + 0.01 * i) * 1e9))
        rec.message("/scan", m.LaserScan(ranges=[1.0] * 24), log_time_ns=int((1000.0 + 0.01 * i) * 1e9))
    rec.close()


def test_replay_reproduces_the_logged_actions_and_flags_out_of_distribution_entries(tmp_path, nav_manifest):
    log = tmp_path / "log.mcap"
    _write_log(log, nav_manifest)
    ticks = read_ticks(log)
    assert ticks.observation.shape == (20, 34) and ticks.raw_action.shape == (20, 2)
    assert ticks.metadata["env_id"] == "robot_rl/MobileNav-v0" and ticks.metadata["command_hz"] == "100.0"
    report = replay(log)  # the bundle recorded in the log
    assert report.policy_steps == 20 and report.max_action_diff <= 1e-6
    assert [f.name for f in report.ood] == ["waypoint_distance"]
    assert report.ood[0].ticks == 1 and report.ood[0].first_s == pytest.approx(0.12)
    assert report.ood[0].max_abs_z == pytest.approx((2.5 - 0.8972522647168863) / 0.1960811140349069, rel=1e-3)
    assert main(["replay", str(log), "zoo:nav_sac"]) == 0


def test_replay_reports_a_mismatch_and_refuses_bad_input(tmp_path, nav_manifest, capsys):
    log = tmp_path / "tampered.mcap"
    _write_log(log, nav_manifest, tamper=1e-3)
    assert replay(log).max_action_diff == pytest.approx(1e-3, rel=1e-2)
    assert main(["replay", str(log)]) == 1
    assert "MISMATCH" in capsys.readouterr().out
    with pytest.raises(MissingInputError, match="not found"):
        replay(tmp_path / "none.mcap")
    (tmp_path / "junk.mcap").write_bytes(b"not an mcap file")
    with pytest.raises(InputError, match="is not a readable MCAP log"):
        replay(tmp_path / "junk.mcap")
    other = {**nav_manifest, "created_utc": "another export"}
    _write_log(tmp_path / "other.mcap", other, n=2)
    with pytest.raises(InputError, match=r"is not the bundle .* was recorded with"):
        replay(tmp_path / "other.mcap")


def test_qos_metadata_is_rosbag2s_format():
    text = qos_yaml(SENSOR_DATA)
    assert text.startswith("- history: 1\n  depth: 5\n  reliability: 2\n  durability: 2\n")
    assert "avoid_ros_namespace_conventions: false" in text
