"""tools/profile_split.py puts each sampled stack of a training run in the right bucket."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "profile_split.py"
spec = importlib.util.spec_from_file_location("profile_split", TOOL)
assert spec is not None and spec.loader is not None
profile_split = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_split)

LEARN = "<module> (robot-rl:8);main (robot_rl/cli.py:90);SAC.learn (stable_baselines3/sac/sac.py:300)"
ROLLOUT = LEARN + ";SAC.collect_rollouts (stable_baselines3/common/off_policy_algorithm.py:540)"
STEP = ROLLOUT + ";RobotTaskEnv.step (robot_rl/envs/core.py:343)"


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        (STEP + ";PyBulletSession.step (robot_rl/sim/session.py:157)", "physics (stepSimulation)"),
        (STEP + ";NavigateTask.evaluate (robot_rl/envs/tasks/navigate.py:200);"
         "DiffDriveRobot._cast (robot_rl/envs/robots/diff_drive.py:230)", "lidar (rayTestBatch)"),
        (STEP + ";RobotTaskEnv._observation (robot_rl/envs/core.py:450);"
         "VectorLayout.pack (robot_rl/envs/layout.py:110)", "env Python (obs packing, reward, IK, checks)"),
        (ROLLOUT + ";MobileNavEnv.reset (robot_rl/envs/nav_env.py:170);"
         "relax (robot_rl/envs/nav_layout.py:280)", "env resets"),
        (ROLLOUT + ";SAC.predict (stable_baselines3/common/base_class.py:550)",
         "SB3 rollout overhead (policy forward, buffers, VecNormalize)"),
        (LEARN + ";SAC.train (stable_baselines3/sac/sac.py:210);backward (torch/_tensor.py:600)",
         "gradient steps"),
        (ROLLOUT + ";CallbackList._on_step (stable_baselines3/common/callbacks.py:230);"
         "SuccessEvalCallback.evaluate (robot_rl/train/callbacks.py:212);"
         "PyBulletSession.step (robot_rl/sim/session.py:157)", "evaluation"),
        (ROLLOUT + ";CheckpointCallback._on_step (robot_rl/train/callbacks.py:151)", "checkpoints"),
        ("<module> (robot-rl:8);collect_demos (robot_rl/train/demos.py:80);"
         "PyBulletSession.step (robot_rl/sim/session.py:157)", "warm start (demos, BC)"),
        (STEP + ";PandaGraspEnv._grab (robot_rl/envs/grasp_env.py:223)", "rendering (camera images)"),
        ("<module> (robot-rl:8);_find_and_load (<frozen importlib._bootstrap>:1176)", "start-up and other"),
    ],
)  # fmt: skip
def test_each_stack_lands_in_its_bucket(stack, expected):
    assert profile_split.bucket(stack.split(";")) == expected
    assert expected in profile_split.BUCKETS


def test_split_sums_counts_and_the_command_prints_shares(tmp_path, capsys):
    raw = tmp_path / "prof.txt"
    raw.write_text(
        f"{STEP};PyBulletSession.step (robot_rl/sim/session.py:157) 300\n"
        f"{LEARN};SAC.train (stable_baselines3/sac/sac.py:210) 100\n"
        "Thread._bootstrap (threading.py:1002);_AsyncWriterThread.run (tensorboard/writer.py:9) 50\n"
        "malformed line without a count\n"
    )
    with raw.open() as fh:
        counts = profile_split.split(fh)
    assert counts == {
        "physics (stepSimulation)": 300,
        "gradient steps": 100,
        profile_split.OTHER_THREADS: 50,
    }
    assert profile_split.main([str(raw), "--rate", "100"]) == 0
    out = capsys.readouterr().out
    assert "physics (stepSimulation)" in out and "75.0 %" in out and "3.0 s" in out
    assert "total (main thread)" in out and "4.0 s (400 samples)" in out  # other threads apart
    assert "other threads (left out)" in out and "0.5 s" in out
