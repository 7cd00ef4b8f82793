"""Compile and run the generated C package (``policy_c/``) with the system C compiler.

:class:`CHarness` copies the sources into a temporary directory (the bundle is never modified:
its files are hashed), builds ``cc -std=c99 -O2 -Wall -Werror policy.c harness.c -lm`` and runs
the harness on float32 observation rows, or times it. ``$CC`` overrides the compiler.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from robot_rl.deploy.c_codegen import CFLAGS


class CBuildError(RuntimeError):
    """The C code did not compile or the harness failed; the message has the compiler output."""


def _action_dim(header: str) -> int:
    for line in header.splitlines():
        if line.startswith("#define POLICY_ACTION_DIM"):
            return int(line.split()[2])
    raise CBuildError("policy.h lacks POLICY_ACTION_DIM")


class CHarness:
    """Build the harness of ``c_dir`` in a temporary directory (use as a context manager)."""

    def __init__(self, c_dir: Path) -> None:
        self.c_dir = Path(c_dir)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.exe = Path()
        self.action_dim = _action_dim((self.c_dir / "policy.h").read_text())

    def __enter__(self) -> CHarness:
        self._tmp = tempfile.TemporaryDirectory(prefix="robot_rl_c_")
        work = Path(self._tmp.name)
        for name in ("policy.h", "policy.c", "harness.c"):
            shutil.copy(self.c_dir / name, work / name)
        self.exe = work / "harness"
        cmd = [os.environ.get("CC", "cc"), *CFLAGS, "policy.c", "harness.c", "-lm", "-o", str(self.exe)]
        try:
            out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=300)
        except FileNotFoundError as exc:
            raise CBuildError(f"no C compiler: {cmd[0]} not found (set $CC)") from exc
        if out.returncode != 0:
            raise CBuildError(f"{' '.join(cmd)} failed:\n{out.stderr.strip()[:2000]}")
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def _write_obs(self, obs_flat: NDArray[np.float32]) -> Path:
        path = self.exe.parent / "obs.bin"
        np.ascontiguousarray(obs_flat, dtype="<f4").tofile(path)
        return path

    def run(self, obs_flat: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Actions ``(n, action_dim)`` and ``policy_act`` return codes ``(n,)`` for ``(n, obs_dim)`` rows."""
        obs_path = self._write_obs(obs_flat)
        out_path = self.exe.parent / "actions.bin"
        res = subprocess.run(
            [str(self.exe), str(obs_path), str(out_path)], capture_output=True, text=True, timeout=120
        )
        if res.returncode != 0:
            raise CBuildError(f"harness failed ({res.returncode}): {res.stderr.strip()}")
        data = np.fromfile(out_path, dtype="<f4").reshape(len(obs_flat), self.action_dim + 1)
        return data[:, :-1], data[:, -1]

    def bench(self, obs_flat: NDArray[np.float32], calls: int) -> tuple[int, int, int]:
        """(p50, p99, max) nanoseconds of ``policy_act`` over ``calls`` calls cycling over the rows."""
        obs_path = self._write_obs(obs_flat)
        res = subprocess.run(
            [str(self.exe), str(obs_path), "--bench", str(int(calls))],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if res.returncode != 0:
            raise CBuildError(f"harness --bench failed ({res.returncode}): {res.stderr.strip()}")
        p50, p99, pmax = (int(x) for x in res.stdout.split())
        return p50, p99, pmax
