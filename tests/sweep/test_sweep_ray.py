"""Tiny sweeps on a local Ray with 2 CPUs: trial run directories, the summary, early stopping,
a trial whose process is killed (retried from its checkpoint), a driver killed (``--resume``).

All Ray tests share one xdist group so that two local Ray clusters never compete for the 2 cores.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from robot_rl.runs import load_run
from robot_rl.train.config import load_config
from tests.sweep.conftest import base_config, write_sweep

pytestmark = pytest.mark.xdist_group("ray")
ROOT = Path(__file__).resolve().parents[2]


def sweep_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "robot_rl", "sweep", *args, "--cpus", "2"]


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(sweep_cmd(*args), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def trials(out: Path) -> dict[str, dict]:
    """trial id -> run.json + sweep_trial.json of every trial directory."""
    found = {}
    for run in sorted((out / "trials").iterdir()):
        info = json.loads((run / "run.json").read_text())
        info["trial"] = json.loads((run / "sweep_trial.json").read_text())
        found[run.name] = info
    return found


def log_of(out: Path, trial_id: str) -> str:
    return (out / "logs" / f"{trial_id}.log").read_text()


def test_grid_sweep_trials_are_ordinary_runs_with_a_summary(tmp_path: Path) -> None:
    sweep = write_sweep(
        tmp_path,
        {"params": {"algo.kwargs.learning_rate": [3e-4, 3e-3]}, "seeds": 2, "metric": "return_mean"},
        base_config(total=512),
    )
    out = tmp_path / "out"
    r = run_cli(str(sweep), "--out", str(out))
    assert "2 configuration(s) x 2 seed(s) = 4 trials" in r.stdout and "[4/4]" in r.stdout
    found = trials(out)
    assert len(found) == 4
    combos = sorted((t["trial"]["params"]["algo.kwargs.learning_rate"], t["seed"]) for t in found.values())
    assert combos == [(3e-4, 0), (3e-4, 1), (3e-3, 0), (3e-3, 1)]
    for trial_id, info in found.items():
        run = out / "trials" / trial_id
        assert info["status"] == "finished" and info["num_timesteps"] == 512, info
        for name in (
            "config.yaml",
            "command.txt",
            "model.zip",
            "best_model.zip",
            "eval.json",
            "versions.json",
        ):
            assert (run / name).is_file(), name
        rows = (run / "logs" / "evaluations.csv").read_text().splitlines()
        assert len(rows) == 1 + 2  # header + evaluations at 256 and 512 steps
        cfg = load_config(run / "config.yaml")
        assert cfg.algo.kwargs["learning_rate"] == info["trial"]["params"]["algo.kwargs.learning_rate"]
        assert cfg.train.seed == info["seed"] == info["trial"]["seed"]
    # every existing command works on a trial directory
    some = next(iter(found))
    loaded = load_run(out / "trials" / some, which="final")
    assert loaded.num_timesteps == 512
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and summary["trials"] == 4 and summary["statuses"] == {"finished": 4}
    best = summary["best"]
    means = [c["mean"] for c in summary["configs"]]
    assert best["mean"] == max(means) and best["seeds"] == 2 and len(summary["configs"]) == 2
    best_cfg = load_config(out / "best.yaml")
    assert best_cfg.algo.kwargs["learning_rate"] == best["params"]["algo.kwargs.learning_rate"]
    table = (out / "trials.md").read_text()
    assert table.count("| finished |") == 4 and "algo.kwargs.learning_rate" in table
    assert (out / "sweep.png").stat().st_size > 10_000 and (out / "trials.csv").read_text().count("\n") == 5
    # the recorded train command reproduces the trial without Ray, to the last digit
    info = found[some]
    words = info["trial"]["train_command"].split()[1:]
    replay = tmp_path / "replay"
    subprocess.run([sys.executable, "-m", "robot_rl", *words, "--run-dir", str(replay)], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    assert json.loads((replay / "eval.json").read_text())["return_mean"] == pytest.approx(
        json.loads((out / "trials" / some / "eval.json").read_text())["return_mean"], abs=1e-9
    )
    # the report is rebuilt from the trial directories alone
    (out / "trials.md").unlink()
    from robot_rl.cli import main

    assert main(["sweep", "--report", "--out", str(out)]) == 0
    assert (out / "trials.md").read_text() == table
    # an existing sweep directory is never overwritten by accident
    again = subprocess.run(sweep_cmd(str(sweep), "--out", str(out)), cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 2 and "already exists; pass --resume" in again.stderr
    again = subprocess.run(sweep_cmd("--resume", "--out", str(out)), cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 2 and "is complete: nothing to resume" in again.stderr


def test_asha_stops_bad_trials_early_and_their_run_dirs_stay_usable(tmp_path: Path) -> None:
    # one trial at a time: the trials are deterministic, so which ones ASHA stops is too
    sweep = write_sweep(
        tmp_path,
        {
            "params": {"algo.kwargs.learning_rate": {"loguniform": [1e-5, 1e-2]}},
            "search": "random",
            "samples": 4,
            "metric": "return_mean",
            "scheduler": {"type": "asha", "grace_period": 256, "reduction_factor": 2},
            "max_concurrent": 1,
        },
        base_config(total=1024),
    )
    out = tmp_path / "out"
    r = run_cli(str(sweep), "--out", str(out))
    found = trials(out)
    statuses = sorted(t["status"] for t in found.values())
    assert "stopped_early" in statuses and "finished" in statuses, statuses
    assert "stopped early at 256 steps" in r.stdout or "stopped early at 512 steps" in r.stdout
    for trial_id, info in found.items():
        run = out / "trials" / trial_id
        if info["status"] == "stopped_early":
            assert info["num_timesteps"] < 1024
            assert (
                load_run(run, which="final").num_timesteps == info["num_timesteps"]
            )  # model.zip = checkpoint
        else:
            assert info["num_timesteps"] == 1024


def _wait(condition, proc: subprocess.Popen[str], what: str, timeout: float = 180) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"sweep exited before {what}: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"timed out waiting for {what}")


def _freeze_when(condition, proc: subprocess.Popen[str], what: str, timeout: float = 180) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``condition`` holds with the sweep's whole process group stopped (SIGSTOP), so
    that what the test then sees cannot change before the kill (no race with a trial finishing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _wait(condition, proc, what, max(deadline - time.monotonic(), 1.0))
        os.killpg(proc.pid, signal.SIGSTOP)
        if condition():
            return
        os.killpg(proc.pid, signal.SIGCONT)  # it changed before the stop: wait again
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"timed out waiting for {what}")


def _checkpointed(out: Path) -> list[str]:
    """Trials that have a checkpoint but have not finished."""
    ids = []
    for run in (out / "trials").glob("*"):
        try:
            info = json.loads((run / "run.json").read_text())
        except (OSError, ValueError):
            continue
        if info.get("status") == "running" and (run / "checkpoints" / "latest.json").is_file():
            ids.append(run.name)
    return ids


def _finished(out: Path) -> list[str]:
    ids = []
    for run in (out / "trials").glob("*"):
        try:
            if json.loads((run / "run.json").read_text()).get("status") == "finished":
                ids.append(run.name)
        except (OSError, ValueError):
            continue
    return ids


def test_a_killed_trial_process_is_retried_from_its_checkpoint(tmp_path: Path) -> None:
    sweep = write_sweep(
        tmp_path, {"seeds": 2, "metric": "return_mean"}, base_config(total=4096, eval_freq=512)
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(sweep_cmd(str(sweep), "--out", str(out)), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    try:
        _wait(lambda: (out / "trials").is_dir() and _checkpointed(out), proc, "a checkpoint")
        victim = _checkpointed(out)[0]
        pid = int(re.search(r"pid (\d+)", log_of(out, victim)).group(1))  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)  # the trial's Ray worker process dies, as with a lost node
        stdout, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, stdout[-3000:]
    assert f"trial {victim}" in stdout and "retrying from its last checkpoint" in stdout
    info = trials(out)[victim]
    assert info["status"] == "finished" and info["num_timesteps"] == 4096
    assert info["resumed_from"] >= 512 and info["trial"]["retries"] == 1  # continued, not started over
    log = log_of(out, victim)
    assert log.count(": starting") == 1 and log.count(": resuming") == 1
    assert (out / "trials" / victim / "command.txt").read_text().count("robot-rl train") == 2
    assert sorted(t["status"] for t in trials(out).values()) == ["finished", "finished"]


def test_a_killed_driver_is_resumed_without_retraining_finished_trials(tmp_path: Path) -> None:
    sweep = write_sweep(
        tmp_path,
        {"seeds": 4, "metric": "return_mean", "max_concurrent": 2},
        base_config(total=8192, eval_freq=512),
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(sweep_cmd(str(sweep), "--out", str(out)), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    try:
        _freeze_when(lambda: (out / "trials").is_dir() and _finished(out) and _checkpointed(out), proc,
                     "a finished trial and a checkpointed one")  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and everything it started, at once
        proc.wait(timeout=30)
    done_before, midway = _finished(out), _checkpointed(out)  # as the kill left them
    assert done_before and midway
    r = run_cli("--resume", "--out", str(out))
    assert "[sweep] done" in r.stdout
    found = trials(out)
    assert len(found) == 4 and all(
        t["status"] == "finished" and t["num_timesteps"] == 8192 for t in found.values()
    )
    for trial_id in done_before:  # finished before the kill: not trained again
        assert log_of(out, trial_id).count(": starting") == 1 and ": resuming" not in log_of(out, trial_id)
    for trial_id in midway:  # killed mid-way: continued from its checkpoint
        assert ": resuming" in log_of(out, trial_id) and found[trial_id]["resumed_from"] >= 512
    assert json.loads((out / "summary.json").read_text())["complete"] is True
    assert (out / "command.txt").read_text().count("--resume") == 1


def test_ctrl_c_leaves_a_resumable_sweep_and_says_how(tmp_path: Path) -> None:
    sweep = write_sweep(
        tmp_path, {"seeds": 2, "metric": "return_mean"}, base_config(total=8192, eval_freq=512)
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(sweep_cmd(str(sweep), "--out", str(out)), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        _wait(lambda: (out / "trials").is_dir() and _checkpointed(out), proc, "a checkpoint")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the driver and the Ray processes it started
        stdout, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stdout[-3000:]
    assert "partial results" in stdout and f"continue with: robot-rl sweep --resume --out {out}" in stdout
    interrupted = json.loads((out / "summary.json").read_text())
    assert interrupted["complete"] is False and "finished" not in interrupted["statuses"]
    run_cli("--resume", "--out", str(out))
    found = trials(out)
    assert len(found) == 2 and all(
        t["status"] == "finished" and t["num_timesteps"] == 8192 for t in found.values()
    )
    assert any(t["resumed_from"] > 0 for t in found.values())


def test_joins_a_running_cluster_given_its_address(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_bin = Path(sys.executable).parent / "ray"
    head_log = tmp_path / "head.log"
    # Ray 2.60 clusters may require an auth token that clients must share (Ray's token-auth docs);
    # this test is about joining by address, so both sides run without it.
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    # its own temp dir: `ray start` records the cluster's address there, not in /tmp/ray for everyone
    temp_dir = tempfile.mkdtemp(prefix="rr_")  # short: Ray's socket paths must fit in 107 bytes
    with head_log.open("w") as log:  # a one-node "cluster", as `ray start --head` makes on a head node
        cmd = [str(ray_bin), "start", "--head", f"--port={port}", "--num-cpus=2", "--block",
               "--disable-usage-stats", "--include-dashboard=false", f"--temp-dir={temp_dir}"]  # fmt: skip
        head = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in head_log.read_text():
            assert head.poll() is None and time.monotonic() < deadline, head_log.read_text()[-2000:]
            time.sleep(0.2)
        sweep = write_sweep(tmp_path, {"seeds": 2, "metric": "return_mean"}, base_config(total=512))
        out = tmp_path / "out"
        r = subprocess.run([sys.executable, "-m", "robot_rl", "sweep", str(sweep), "--out", str(out),
                            "--address", f"127.0.0.1:{port}"], cwd=ROOT, capture_output=True, text=True,
                           timeout=240, env=env)  # fmt: skip
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert sorted(t["status"] for t in trials(out).values()) == ["finished", "finished"]
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_the_time_budget_ends_the_sweep_cleanly(tmp_path: Path) -> None:
    sweep = write_sweep(
        tmp_path,
        {"seeds": 4, "metric": "return_mean", "max_concurrent": 1, "time_budget_min": 0.2},
        base_config(total=16384, eval_freq=512),
    )
    out = tmp_path / "out"
    r = run_cli(str(sweep), "--out", str(out))  # exit status 0: the budget is a planned end
    assert "time budget of 0.2 min spent" in r.stdout and "never ran" in r.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ended_by"] == "time_budget" and summary["complete"] is False
    started = [run for run in (out / "trials").iterdir() if (run / "run.json").is_file()]
    # one trial at a time, ~10 s each: the budget cuts the sweep short. How many started depends on
    # the machine (on a loaded one Ray may spend the 12 s starting up), so only the cut is asserted.
    assert len(started) < 4
    for run in started:
        info = json.loads((run / "run.json").read_text())
        assert info["status"] in ("finished", "stopped_early"), info
        if info["status"] == "stopped_early":  # stopped wherever it was: its newest checkpoint is model.zip
            assert load_run(run, which="final").num_timesteps == info["num_timesteps"]
    # a trial stopped while its process was still starting has a row, and says so
    table = (out / "trials.md").read_text()
    assert table.count("| not started |") == len(list((out / "trials").iterdir())) - len(started)


def test_optuna_trains_each_proposal_with_every_seed(tmp_path: Path) -> None:
    sweep = write_sweep(
        tmp_path,
        {
            "params": {"algo.kwargs.learning_rate": {"loguniform": [1e-4, 1e-2]}},
            "search": "optuna",
            "samples": 2,
            "seeds": 2,
            "metric": "return_mean",
            "mode": "min",  # any direction works; min checks that it reaches Tune and the ranking
        },
        base_config(total=512),
    )
    out = tmp_path / "out"
    run_cli(str(sweep), "--out", str(out))
    found = trials(out)
    by_config: dict[float, list[int]] = {}
    for info in found.values():
        by_config.setdefault(info["trial"]["params"]["algo.kwargs.learning_rate"], []).append(info["seed"])
    assert len(by_config) == 2 and all(sorted(seeds) == [0, 1] for seeds in by_config.values())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "min" and summary["best"]["mean"] == min(c["mean"] for c in summary["configs"])
    assert summary["best"]["seeds"] == 2


def test_bench_sweep_times_both_ways_and_checks_the_results_agree(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, {"seeds": 2, "metric": "return_mean"}, base_config(total=512))
    cmd = [sys.executable, "-m", "robot_rl", "bench", "sweep", str(sweep), "--seeds", "2",
           "--timesteps", "512", "--cpus", "2", "--runs-dir", str(tmp_path / "runs"),
           "--out", str(tmp_path / "results")]  # fmt: skip
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "same final return_mean per seed both ways: yes" in r.stdout and "speed-up" in r.stdout
    data = json.loads((tmp_path / "results" / "sweep_bench.json").read_text())
    assert data["same_results"] is True and len(data["per_seed"]) == 2
    assert data["speedup"] == pytest.approx(data["sequential_s"] / data["ray_s"], rel=0.01)
    assert [row["metric"] for row in data["per_seed"]] == [row["ray_metric"] for row in data["per_seed"]]
