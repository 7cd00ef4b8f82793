"""``robot-rl benchmark nav --address HOST:PORT``: the episodes run as actors on a Ray cluster (a
one-node cluster started with ``ray start --head`` on loopback, as in the sweep tests) and the
results are byte-identical to one local worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from robot_rl.cli import main

pytestmark = pytest.mark.xdist_group("ray")  # never two Ray clusters on the 2 cores at once
ROOT = Path(__file__).resolve().parents[2]
# Ray 2.60 clusters may require an auth token that clients must share; these tests are about
# joining by address, so both sides run without it (as in tests/sweep/test_sweep_ray.py).
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def head_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A one-node Ray "cluster" with 2 CPUs on 127.0.0.1, as `ray start --head` makes on a head node."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_bin = Path(sys.executable).parent / "ray"
    head_log = tmp_path_factory.mktemp("ray_head") / "head.log"
    # its own temp dir: `ray start` records the cluster's address there, not in /tmp/ray for everyone
    temp_dir = tempfile.mkdtemp(prefix="rr_")  # short: Ray's socket paths must fit in 107 bytes
    with head_log.open("w") as log:
        cmd = [str(ray_bin), "start", "--head", f"--port={port}", "--num-cpus=2", "--block",
               "--node-ip-address=127.0.0.1", "--disable-usage-stats", "--include-dashboard=false",
               f"--temp-dir={temp_dir}"]  # fmt: skip
        head = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=RAY_ENV, cwd=ROOT
        )
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in head_log.read_text():
            assert head.poll() is None and time.monotonic() < deadline, head_log.read_text()[-2000:]
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _bench(*args: str, status: int = 0) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "robot_rl", "benchmark", "nav", *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, env=RAY_ENV)  # fmt: skip
    assert r.returncode == status, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_episodes_on_a_ray_cluster_give_the_results_of_one_worker(head_address: str, tmp_path: Path) -> None:
    agents = ["planner", "robot_rl.benchmark.examples:GoalSeeker"]
    args = ["--episodes", "test", "--agents", *agents, "--limit", "5"]
    assert main(["benchmark", "nav", *args, "--out", str(tmp_path / "local")]) == 0
    r = _bench(*args, "--out", str(tmp_path / "ray"), "--address", head_address)
    assert "10 agent-episodes in" in r.stdout and f"with 2 Ray actor(s) on {head_address}" in r.stdout
    for name in ("episodes.csv", "summary.json", "leaderboard.md"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name
    timing = json.loads((tmp_path / "ray" / "timing.json").read_text())
    assert timing["address"] == head_address and timing["workers"] == 2 and timing["agent_episodes"] == 10
    rows = (tmp_path / "ray" / "episodes.csv").read_text().splitlines()
    assert len(rows) == 11 and rows[1].startswith("planner,test-0000,2000000,")


def test_more_actors_than_the_cluster_has_cpus_is_refused(head_address: str, tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = ["--episodes", "test", "--agents", "planner", "--limit", "2", "--out", str(out)]
    r = _bench(*args, "--address", head_address, "--workers", "3", status=2)
    assert f"--workers 3 asks for more actors than the Ray cluster at {head_address} has CPUs (2)" in r.stderr
    assert not out.exists()
