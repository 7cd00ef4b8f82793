"""The deploy contract: the bundle alone decides the rate, the safe action and the limits.

Covers the env side (safe actions, command sub-steps), deploy from any directory, the stop
behaviour of discrete navigation and grasp bundles on SimHardware, thread-safe e-stop, bounded
statistics, and bundles that must be refused (paths, tampering, signatures, loosened limits).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import robot_rl  # noqa: F401  (registers the env ids)
from robot_rl.cli import main
from robot_rl.deploy.commands_deploy import deploy_sim, prepare
from robot_rl.deploy.export import export_policy
from robot_rl.deploy.hardware import SimFaults, SimHardware
from robot_rl.deploy.loop import ControlLoop, Ring
from robot_rl.deploy.manifest import read_manifest, write_manifest
from robot_rl.deploy.runtime import BundleError, PolicyRunner
from robot_rl.deploy.safety import Flag, SafetyConfig, SafetyFilter
from robot_rl.deploy.signing import generate_keypair, sign_bundle
from robot_rl.envs.nav_env import MOTION_PRIMITIVES
from tests.deploy.conftest import train_run


class FakeClock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


# ---------------------------------------------------------------------- env side
def test_envs_declare_their_safe_action() -> None:
    for env_id, expected in [
        ("robot_rl/MobileNav-v0", [0.0, 0.0]),
        ("robot_rl/PandaGrasp-v0", [0.0, 0.0, 0.0, 0.0, None]),
    ]:
        env = gym.make(env_id)
        assert env.unwrapped.safe_action() == expected
        env.close()
    env = gym.make("robot_rl/MobileNavDiscrete-v0")
    index = env.unwrapped.safe_action()
    assert np.all(MOTION_PRIMITIVES[index] == 0.0)  # the stop primitive, not index 0 (full speed)
    env.close()


def test_a_held_velocity_over_ten_command_ticks_is_the_control_step_bit_for_bit() -> None:
    """10 ticks at 100 Hz (2 or 3 physics steps each, 24 in all) = one 10 Hz step."""
    a, b = gym.make("robot_rl/MobileNav-v0"), gym.make("robot_rl/MobileNav-v0")
    a.reset(seed=4)
    b.reset(seed=4)
    hw = SimHardware(b, seed=4, command_hz=100.0)
    action = np.array([0.7, -0.3], np.float32)
    for _ in range(3):
        expected = a.step(action)[0]
        for k in range(10):
            assert b.unwrapped.elapsed_steps == len(hw.actions) // 10 and k == len(hw.actions) % 10
            hw.write_action(action)
        np.testing.assert_array_equal(hw.read_observation()[0], expected)
    a.close()
    b.close()


def test_displacements_are_spread_over_command_ticks() -> None:
    """A grasp displacement written at 2x the policy rate moves the target once, not twice."""
    a, b = gym.make("robot_rl/PandaGrasp-v0"), gym.make("robot_rl/PandaGrasp-v0")
    a.reset(seed=2)
    hw = SimHardware(b, seed=2, command_hz=40.0)
    action = np.array([0.5, -0.5, 0.25, 0.3, 1.0], np.float32)
    a.step(action)
    hw.write_action(action)
    hw.write_action(action)
    np.testing.assert_allclose(
        b.unwrapped.robot.target_position, a.unwrapped.robot.target_position, atol=1e-12
    )
    assert b.unwrapped.robot._yaw == pytest.approx(a.unwrapped.robot._yaw)
    a.close()
    b.close()


def test_command_rate_must_be_a_multiple_of_the_control_rate() -> None:
    env = gym.make("robot_rl/MobileNav-v0")
    with pytest.raises(ValueError, match="not an integer multiple of the env's control rate 10 Hz"):
        SimHardware(env, command_hz=25.0)
    env.close()
    with pytest.raises(ValueError, match="needs a robot_rl env"):
        SimHardware(gym.make("Pendulum-v1"), command_hz=40.0)


# ---------------------------------------------------------------------- bundles of robot_rl envs
@pytest.fixture(scope="module")
def nav_discrete_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DQN on MobileNavDiscrete-v0 whose evaluation never succeeded (NaN time-to-goal)."""
    run = train_run(tmp_path_factory.mktemp("nav_dqn"), "dqn", "robot_rl/MobileNavDiscrete-v0", False, 150)
    (run / "eval.json").write_text('{"success_rate": 0.0, "episodes": 2, "time_to_goal_mean": NaN}')
    return export_policy(
        run, tmp_path_factory.mktemp("nav_bundle") / "b", golden_rows=120, reference_episodes=0
    )


def test_a_run_without_successes_exports_strict_json(nav_discrete_bundle: Path) -> None:
    text = (nav_discrete_bundle / "manifest.json").read_text()
    manifest = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the manifest"))
    assert manifest["eval"]["time_to_goal_mean"] is None
    assert manifest["action"]["safe_action"] == 6 and manifest["safety"]["command_hz"] == 100.0


def test_discrete_nav_stops_on_stale_sensors_and_estop(nav_discrete_bundle: Path) -> None:
    runner, settings = prepare(nav_discrete_bundle)
    safety = SafetyFilter(SafetyConfig.from_manifest(runner.manifest, settings))
    clock = FakeClock()
    env = gym.make("robot_rl/MobileNavDiscrete-v0")
    hw = SimHardware(env, faults=SimFaults(stale_steps=set(range(20, 200))), clock=clock, command_hz=100.0)
    loop = ControlLoop(runner.act, safety, hw, 100.0, clock=clock, sleep=clock.sleep, policy_every=10)
    loop.run(max_steps=80)
    stopped = [r.step for r in safety.records if r.flags & Flag.WATCHDOG_STOP]
    assert stopped and 20 < stopped[0] <= 20 + 31  # 0.3 s watchdog = 30 ticks at 100 Hz
    assert all(list(hw.actions)[k] == 6 for k in stopped)
    safety.reset()
    safety.estop()
    hw2 = SimHardware(gym.make("robot_rl/MobileNavDiscrete-v0"), clock=clock, command_hz=100.0)
    ControlLoop(runner.act, safety, hw2, 100.0, clock=clock, sleep=clock.sleep, policy_every=10).run(
        max_steps=30
    )
    assert set(hw2.actions) == {6}
    env.close()
    hw2.close()


def test_deploy_from_another_directory_gives_the_same_safety(
    make_bundle: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = make_bundle("grasp_ppo_norm").resolve()
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    _, at_root = prepare(bundle)
    monkeypatch.chdir(tmp_path)
    _, elsewhere = prepare(bundle)
    assert at_root == elsewhere and elsewhere["source"] == "deploy_grasp.yaml"
    assert elsewhere["action_high"][:3] == [0.8, 0.8, 0.8] and elsewhere["command_hz"] == 20.0


def test_nav_policy_at_10_hz_with_a_100_hz_command_stream(nav_discrete_bundle: Path) -> None:
    clock = FakeClock()
    stats, summary, settings = deploy_sim(nav_discrete_bundle, 0.5, clock=clock, sleep=clock.sleep)
    assert settings["command_hz"] == 100.0 and stats.policy_every == 10
    assert stats.steps == 50 and stats.policy_steps == 5 and summary["steps"] == 51  # + shutdown write


def test_grasp_estop_keeps_a_lifted_object_lifted(make_bundle: Callable[[str], Path]) -> None:
    """The scripted grasp lifts the cube through the filter; an e-stop then holds the gripper closed."""
    from robot_rl.envs.scripted.grasp_controller import ScriptedGraspController

    manifest = read_manifest(make_bundle("grasp_ppo_norm"))
    safety = SafetyFilter(SafetyConfig.from_manifest(manifest))
    clock = FakeClock()
    env = gym.make("robot_rl/PandaGrasp-v0")
    hw = SimHardware(env, seed=0, clock=clock)
    task = env.unwrapped.task
    controller = ScriptedGraspController(env.unwrapped.obs_layout)
    loop = ControlLoop(controller, safety, hw, 20.0, clock=clock, sleep=clock.sleep)
    for _ in range(200):
        clock.t += 0.05
        loop.tick(clock())
        if task.grasped and task.lift > 0.05:
            break
    assert task.grasped and task.lift > 0.05, "the scripted grasp did not lift the cube"
    gripper = float(list(hw.actions)[-1][4])
    assert gripper < 0  # closing
    safety.estop()
    for _ in range(40):  # 2 s of e-stop
        clock.t += 0.05
        assert loop.tick(clock()) & Flag.ESTOP
    held = np.array(list(hw.actions)[-40:])
    assert np.allclose(held[:, :4], 0.0) and np.allclose(held[:, 4], gripper)
    assert task.grasped and task.lift > 0.05  # still lifted
    hw.close()


# ---------------------------------------------------------------------- e-stop from any thread
def test_no_estop_is_ever_lost_while_the_loop_runs() -> None:
    n = 2
    cfg = SafetyConfig(-np.ones(n), np.ones(n), np.zeros(n), np.full(n, np.inf), 10.0, 0.001)
    safety = SafetyFilter(cfg)
    writes: list[tuple[int, float]] = []

    class Hw:
        def read_observation(self) -> tuple[Any, float]:
            return np.zeros(3, np.float32), time.monotonic()

        def write_action(self, action: Any) -> None:
            writes.append((len(writes), float(np.asarray(action)[0])))

        def safe_stop(self) -> None:
            pass

    loop = ControlLoop(lambda obs: np.full(n, 0.5, np.float32), safety, Hw(), 1000.0)
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(stats=loop.run(duration_s=3.0)))
    thread.start()
    windows = []
    hammer = threading.Thread(target=lambda: [safety.estop() for _ in range(200_000)])
    while len(writes) < 20:
        time.sleep(0.001)
    hammer.start()  # a second thread pressing e-stop as fast as it can, concurrently
    for _ in range(30):
        safety.reset()
        time.sleep(0.002)
        safety.estop()
        pressed = len(writes)
        time.sleep(0.01)
        windows.append((pressed, len(writes)))
    hammer.join()
    loop.stop()
    thread.join()
    values = dict(writes)
    for pressed, later in windows:
        # every tick that started after estop() returned wrote the safe action
        assert all(values[k] == 0.0 for k in range(pressed + 1, later)), (pressed, later)
    assert result["stats"].steps > 100


def test_ring_keeps_a_bounded_window_and_the_all_time_max() -> None:
    ring = Ring(size=4)
    for v in [5e-6, 1e-6, 2e-6, 3e-6, 4e-6, 1e-6]:
        ring.add(v)
    assert len(ring.values) == 4 and ring.count == 6
    assert ring.percentiles()["max"] == pytest.approx(5.0)  # us; the 5 us value left the window
    assert ring.percentiles()["p50"] == pytest.approx(2.5)


# ---------------------------------------------------------------------- refused bundles
def _copy(bundle: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(bundle, out)
    return out


def _rewrite_manifest(bundle: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    edit(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("path", ["../outside.bin", "/etc/passwd", "policy_c/../../x"])
def test_manifest_paths_outside_the_bundle_are_refused(
    make_bundle: Callable[[str], Path], tmp_path: Path, path: str
) -> None:
    bundle = _copy(make_bundle("ppo_norm"), tmp_path)
    _rewrite_manifest(bundle, lambda m: m["files"].update({path: "0" * 64}))
    with pytest.raises(BundleError, match=r"absolute path|contains '\.\.'"):
        PolicyRunner(bundle)


def test_symlinks_missing_extra_and_modified_files_are_refused(
    make_bundle: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _copy(make_bundle("ppo_norm"), tmp_path)
    (bundle / "golden.npz").rename(tmp_path / "elsewhere.npz")
    (bundle / "golden.npz").symlink_to(tmp_path / "elsewhere.npz")
    (bundle / "notes.txt").write_text("extra")
    with (bundle / "policy.onnx").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(BundleError) as info:
        PolicyRunner(bundle)
    text = str(info.value)
    assert "golden.npz: is a symlink" in text and "notes.txt: not listed" in text
    assert "policy.onnx: SHA-256 differs" in text
    assert main(["deploy", str(bundle), "--duration", "0.1"]) == 2
    assert capsys.readouterr().err.startswith("robot-rl deploy: error: refusing bundle")


def test_signed_bundles_and_trust(make_bundle: Callable[[str], Path], tmp_path: Path) -> None:
    key, pub = generate_keypair(tmp_path / "key")
    _, other_pub = generate_keypair(tmp_path / "other")
    bundle = _copy(make_bundle("ppo_norm"), tmp_path)
    with pytest.raises(BundleError, match="unsigned bundle"):
        PolicyRunner(bundle, trusted_keys=[pub])
    sign_bundle(bundle, key)
    assert PolicyRunner(bundle, trusted_keys=[pub]).policy_hz == pytest.approx(20.0)
    with pytest.raises(BundleError, match="which is not trusted"):
        PolicyRunner(bundle, trusted_keys=[other_pub])
    # Re-hashing a modified file into the manifest does not help: the signature no longer matches.
    (bundle / "golden.npz").write_bytes(b"swapped")
    manifest = read_manifest(bundle)
    write_manifest(bundle, {k: v for k, v in manifest.items() if k != "files"})
    with pytest.raises(BundleError, match="modified after signing"):
        PolicyRunner(bundle, trusted_keys=[pub])
    assert main(["deploy", str(bundle), "--duration", "0.1", "--trust", str(pub)]) == 2


def test_export_sign_then_deploy_with_trust(
    make_run: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    out = tmp_path / "b"
    args = ["export", str(make_run("ppo_plain")), "--out", str(out), "--formats", "onnx"]
    assert (
        main([*args, "--safe-action", "[0]", "--sign", str(tmp_path / "k"), "--reference-episodes", "0"]) == 0
    )
    assert (out / "manifest.sig").is_file()
    assert main(["deploy", str(out), "--duration", "0.2", "--trust", str(tmp_path / "k.pub")]) == 0
    assert "policy 20 Hz, commands 20 Hz" in capsys.readouterr().out
    verify = [
        "verify",
        str(out),
        "--episodes",
        "0",
        "--latency-calls",
        "200",
        "--trust",
        str(tmp_path / "k.pub"),
    ]
    assert main(verify) == 0
    text = capsys.readouterr().out
    assert "[PASS] signature" in text and "[PASS] deploy contract" in text
    assert "policy 20 Hz, commands 20 Hz, safe action [0.0], watchdog 0.15 s" in text
    (out / "manifest.sig").unlink()
    assert main(verify) == 1
    assert "[FAIL] signature" in capsys.readouterr().out


def test_loose_config_and_wrong_rate_exit_2_before_driving(
    make_bundle: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = str(make_bundle("grasp_ppo_norm"))
    loose = tmp_path / "loose.yaml"
    loose.write_text("safety:\n  action_high: [1.0, 1.0, 1.0, 1.0, 1.0]\n")
    assert main(["deploy", bundle, "--config", str(loose)]) == 2
    err = capsys.readouterr()
    assert "loosens the bundle's safety limits: action_high[0] 1 > bundle 0.8" in err.err and not err.out
    rate = tmp_path / "rate.yaml"
    rate.write_text("policy_hz: 100\n")
    assert main(["deploy", bundle, "--config", str(rate)]) == 2
    assert "differs from the bundle's policy rate 20 Hz" in capsys.readouterr().err
    assert main(["deploy", bundle, "--command-hz", "30"]) == 2
    assert "not an integer multiple of the policy rate 20 Hz" in capsys.readouterr().err
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("safety:\n  slew: 1\n")
    assert main(["deploy", bundle, "--config", str(unknown)]) == 2
    assert "unknown key safety.'slew' (safety); accepted keys: action_low" in capsys.readouterr().err


def test_old_schema_bundles_are_refused_with_a_hint(
    make_bundle: Callable[[str], Path], tmp_path: Path
) -> None:
    bundle = _copy(make_bundle("ppo_norm"), tmp_path)
    _rewrite_manifest(bundle, lambda m: m.update(schema=1))
    with pytest.raises(ValueError, match=r"schema 1 is not supported; this runtime reads 2 .*re-export"):
        PolicyRunner(bundle)


def test_export_with_inconsistent_limits_writes_nothing(
    make_run: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("safety:\n  watchdog_timeout_s: 0.01\n")  # shorter than Pendulum's 50 ms period
    out = tmp_path / "bundle"
    args = ["export", str(make_run("ppo_plain")), "--out", str(out), "--safe-action", "[0]"]
    assert main([*args, "--deploy-config", str(bad)]) == 2
    assert "shorter than the observation period 0.05 s" in capsys.readouterr().err
    assert not out.exists()
    assert main([*args[:4], "--deploy-config", str(bad)]) == 2  # no safe action for Pendulum either
    assert not out.exists()


def test_a_failed_export_leaves_no_half_bundle_and_keeps_the_old_one(
    make_run: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    kwargs: dict[str, Any] = {"formats": ("onnx",), "safe_action": [0.0], "reference_episodes": 0}
    export_policy(make_run("ppo_plain"), out, **kwargs)
    before = (out / "manifest.json").read_bytes()
    not_a_key = tmp_path / "not_a_key.pem"
    not_a_key.write_text("hello")
    with pytest.raises(ValueError, match="not_a_key"):  # fails at the very end, while signing
        export_policy(make_run("ppo_plain"), out, sign=not_a_key, **kwargs)
    assert (out / "manifest.json").read_bytes() == before and PolicyRunner(out).policy_hz == 20.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "not_a_key.pem"]  # no leftovers
    export_policy(make_run("ppo_plain"), out, **{**kwargs, "formats": ("onnx", "c")})  # replaces it
    assert (out / "policy_c").is_dir() and sorted(p.name for p in tmp_path.iterdir())[0] == "bundle"
