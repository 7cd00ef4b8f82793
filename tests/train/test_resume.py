"""Kill -9 mid-training, ``--resume``: counter, optimizer, VecNormalize and replay buffer continue.
Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and exits cleanly with status ``interrupted``."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from robot_rl.train.callbacks import latest_checkpoint
from tests.train.conftest import pendulum_config

ROOT = Path(__file__).resolve().parents[2]


def _default_sigint() -> None:
    # A runner started in the background by a non-interactive shell ignores SIGINT, and children
    # inherit that: Python would then never raise KeyboardInterrupt. Give the training process
    # the disposition of a foreground process on a terminal, which is what Ctrl-C reaches.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(config: Path, run: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "robot_rl", "train", str(config), "--run-dir", str(run), *extra]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=_default_sigint
    )


def wait_for_checkpoint(
    run: Path, proc: subprocess.Popen[bytes], min_steps: int, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pointer = run / "checkpoints" / "latest.json"
        if pointer.is_file() and json.loads(pointer.read_text())["num_timesteps"] >= min_steps:
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"training exited early: {proc.stdout.read().decode() if proc.stdout else ''}"
            )
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("no checkpoint in time")


def _finished_episodes(run: Path) -> int:
    """Episodes recorded in the run's monitor CSVs so far (two header lines per file)."""
    files = (run / "logs").rglob("*.monitor.csv") if (run / "logs").is_dir() else []
    return sum(max(len(f.read_text().splitlines()) - 2, 0) for f in files)


def checkpoint_figures(ckpt: Path) -> dict[str, Any]:
    """Timestep counter, Adam step count, VecNormalize count and replay-buffer position of a checkpoint."""
    from stable_baselines3 import SAC

    model = SAC.load(ckpt / "model.zip", device="cpu")
    with (ckpt / "vecnormalize.pkl").open("rb") as fh:
        vecnorm = pickle.load(fh)
    with (ckpt / "replay_buffer.pkl").open("rb") as fh:
        buffer = pickle.load(fh)
    adam = model.actor.optimizer.state_dict()["state"]
    return {
        "steps": model.num_timesteps,
        "adam_step": float(torch.as_tensor(adam[0]["step"])),
        "obs_count": float(vecnorm.obs_rms.count),
        "buffer_pos": int(buffer.pos),
        "buffer_first": buffer.observations[0].copy(),
    }


def test_sigkill_then_resume_continues_every_statistic(tmp_path: Path, write_config) -> None:
    raw = pendulum_config(total_timesteps=1_000_000, checkpoint_freq=300, eval_freq=0)
    config, run = write_config(raw), tmp_path / "run"
    proc = start(config, run)
    wait_for_checkpoint(run, proc, 600)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    ckpt = latest_checkpoint(run / "checkpoints")
    assert ckpt is not None
    before = checkpoint_figures(ckpt)
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    target = before["steps"] + 400
    resumed = subprocess.run(
        [sys.executable, "-m", "robot_rl", "train", "--resume", "--run-dir", str(run),
         "--set", f"train.total_timesteps={target}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["num_timesteps"] == target
    assert info["resumed_from"] == before["steps"]
    after = checkpoint_figures(latest_checkpoint(run / "checkpoints"))  # type: ignore[arg-type]
    assert after["steps"] == target
    assert after["obs_count"] == pytest.approx(before["obs_count"] + 400, abs=2)  # stats kept, not reset
    assert after["buffer_pos"] == before["buffer_pos"] + 200  # 2 envs: 200 vector steps appended
    assert (after["buffer_first"] == before["buffer_first"]).all()  # old transitions still there
    assert after["adam_step"] == before["adam_step"] + 200  # optimizer state continued (1 update / vec step)
    assert len((run / "command.txt").read_text().splitlines()) == 2
    assert (run / "logs" / f"resume_{before['steps']:010d}" / "progress.csv").is_file()


def test_resume_without_a_run_is_an_error(tmp_path: Path) -> None:
    from robot_rl.cli import main

    assert main(["train", "--resume", "--run-dir", str(tmp_path / "none")]) == 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_saves_a_checkpoint_and_exits_cleanly(sig: int, tmp_path: Path, write_config) -> None:
    raw = pendulum_config(total_timesteps=1_000_000, checkpoint_freq=10_000_000, eval_freq=0)
    raw["env"]["vec_env"] = "subproc"
    config, run = write_config(raw), tmp_path / "run"
    proc = start(config, run)
    deadline = time.monotonic() + 120
    while not _finished_episodes(run):  # learn() is running and has stepped: no wall-clock guess
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(sig)
    out = proc.communicate(timeout=60)[0].decode()  # a hang here: SubprocVecEnv.close(), trainer._close
    assert proc.returncode == 130, out
    assert "Traceback" not in out and "interrupted at" in out
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "interrupted" and info["num_timesteps"] > 0
    ckpt = latest_checkpoint(run / "checkpoints")
    assert ckpt is not None and ckpt.name == f"step_{info['num_timesteps']:010d}"
    assert (run / "model.zip").is_file() and (run / "vecnormalize.pkl").is_file()


def test_resuming_a_finished_run_trains_nothing_and_evaluates_it(tmp_path: Path) -> None:
    from robot_rl.train.config import config_from_dict
    from robot_rl.train.trainer import train

    cfg = config_from_dict(pendulum_config(total_timesteps=200, eval_freq=200))
    run = tmp_path / "run"
    train(cfg, run, "first")
    again = train(cfg, run, "again", resume=True)  # used to fail: the eval callback was never set up
    assert again.status == "finished" and again.num_timesteps == 200
    assert again.eval is not None and again.eval["num_timesteps"] == 200
    assert json.loads((run / "run.json").read_text())["resumed_from"] == 200
