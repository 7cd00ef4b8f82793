"""``verify_bundle``: prove that an exported bundle behaves like the policy that was evaluated.

Checks (each one a line in the report; any failure makes ``report.ok`` false):

1. manifest: schema, every file's SHA-256, no pickle in the bundle;
2. ONNX: ``onnx.checker`` (full check), opset >= 17, one file without external data, standard
   domains only, no random ops, graph inputs/outputs equal the manifest's names and sizes;
3. parity on ``golden.npz`` against SB3's own ``predict(deterministic=True)``: ONNX Runtime and
   TorchScript within 1e-5 absolute, the C code compiled with ``cc -std=c99 -O2 -Wall -Werror``
   within 2e-5 (discrete actions: identical indices);
4. closed loop: the bundle's ONNX policy through :class:`PolicyRunner` re-runs, in the simulated
   env, the seeded episodes recorded with SB3 at export time in ``closed_loop.json`` (a file of
   the bundle, covered by the manifest's SHA-256); the success counts must agree within
   ``success_tolerance`` episodes (envs without ``is_success``: mean returns within 1% + 1e-3).
   A bundle exported without a reference fails this check;
5. latency p50/p99/max over 10,000 single-observation calls, ONNX Runtime and C, against the
   control period.

Verification is self-contained: only the bundle's files are read (plus the simulator for the
closed loop); nothing is unpickled and no SB3 model is loaded, so a copied bundle verifies on a
machine without the training run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.deploy import c_build
from robot_rl.deploy.closed_loop import (
    CLOSED_LOOP_SEED,
    REFERENCE_FILE,
    compare_with_reference,
    load_reference,
)
from robot_rl.deploy.golden import load_golden
from robot_rl.deploy.manifest import check_hashes, read_manifest
from robot_rl.deploy.runtime import PolicyRunner, check_onnx_bytes
from robot_rl.errors import InputError

ONNX_TOL = 1e-5
TORCHSCRIPT_TOL = 1e-5
C_TOL = 2e-5
LATENCY_CALLS = 10_000
CLOSED_LOOP_CHECK = "closed loop ONNX vs SB3 reference"
__all__ = ["CLOSED_LOOP_SEED", "Check", "VerifyReport", "verify_bundle"]


@dataclass
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    """Result of :func:`verify_bundle`: checks and measured figures."""

    bundle: Path
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every check passed (and there was at least one)."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, bool(ok), detail))
        return bool(ok)

    def format(self) -> str:
        """Human-readable report, one line per check, verdict last."""
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [f"verify {self.bundle}"]
        lines += [f"  [{'PASS' if c.ok else 'FAIL'}] {c.name:<{width}}  {c.detail}" for c in self.checks]
        lines.append("OK: bundle verified" if self.ok else "FAILED: see the FAIL lines above")
        return "\n".join(lines)


def verify_bundle(
    bundle_dir: str | Path,
    episodes: int | None = None,
    latency_calls: int = LATENCY_CALLS,
    success_tolerance: int = 1,
    trusted_keys: Sequence[Any] | None = None,
) -> VerifyReport:
    """Run every check of the module docstring on ``bundle_dir``.

    Args:
        bundle_dir: Exported bundle directory.
        episodes: Closed-loop episodes re-run with ONNX: None = all those recorded in
            ``closed_loop.json``, fewer compares the first ones, more than recorded is a FAIL
            line; 0 skips the closed loop.
        latency_calls: Calls timed per latency figure.
        success_tolerance: Episodes by which the ONNX success count may differ from the SB3
            reference's (trajectories of a contact-rich sim may diverge after 1e-6 action
            differences).
        trusted_keys: Ed25519 public keys; when given, the bundle must be signed by one of them.

    Raises:
        FileNotFoundError: no manifest in ``bundle_dir``.
    """
    if episodes is not None and episodes < 0:
        raise InputError(f"episodes={episodes} is not accepted; expected None or an int >= 0")
    bundle = Path(bundle_dir)
    report = VerifyReport(bundle)
    manifest = read_manifest(bundle)
    problems = check_hashes(bundle, manifest)
    report.add(
        "manifest sha256", not problems, "; ".join(problems) or f"{len(manifest['files'])} files match"
    )
    _check_signature(report, bundle, trusted_keys)
    _check_contract(report, manifest)
    pickles = [p.name for p in bundle.rglob("*") if p.suffix in (".pkl", ".pickle", ".zip")]
    report.add("no pickle", not pickles, f"found {pickles}" if pickles else "bundle holds no pickle/zip")
    golden = load_golden(bundle / "golden.npz")
    if "onnx" in manifest["formats"]:
        _check_onnx(report, bundle, manifest)
        runner = _parity_onnx(report, bundle, golden)
        if runner is not None:
            _closed_loop(report, runner, bundle, manifest, episodes, success_tolerance)
            _latency_onnx(report, runner, golden, latency_calls)
    if "torchscript" in manifest["formats"]:
        _parity_torchscript(report, bundle, manifest, golden)
    if "c" in manifest["formats"]:
        _check_c(report, bundle, manifest, golden, latency_calls)
    return report


def _check_signature(report: VerifyReport, bundle: Path, trusted_keys: Sequence[Any] | None) -> None:
    from robot_rl.deploy.signing import SIGNATURE, check_signature

    if trusted_keys is not None:
        problems = check_signature(bundle, trusted_keys)
        report.add("signature", not problems, "; ".join(problems) or "Ed25519 signature by a trusted key")
    elif (bundle / SIGNATURE).exists():
        report.add("signature", True, "manifest.sig present; not checked (pass --trust KEY.pub to check it)")


def _check_contract(report: VerifyReport, manifest: dict[str, Any]) -> None:
    """The deploy contract: a policy rate, the env's safe action, consistent limits."""
    from robot_rl.deploy.deploy_config import check_settings

    try:
        period = float(manifest["env"]["control_period_s"])
        check_settings(manifest["safety"], manifest["action"], period)
        safety = manifest["safety"]
        detail = (
            f"policy {1 / period:g} Hz, commands {safety['command_hz']:g} Hz, safe action "
            f"{json.dumps(manifest['action']['safe_action'])}, watchdog {safety['watchdog_timeout_s']:g} s "
            f"(limits from {safety.get('source') or 'the action space'})"
        )
        report.add("deploy contract", True, detail)
    except (KeyError, TypeError, ValueError) as exc:
        report.add("deploy contract", False, f"{type(exc).__name__}: {exc}")


def _input_names(manifest: dict[str, Any]) -> list[str]:
    return [i["name"] for i in manifest["observation"]["inputs"]]


def _max_err(actual: NDArray[Any], expected: NDArray[Any], discrete: bool) -> tuple[bool, float, str]:
    actual = np.asarray(actual).reshape(expected.shape)
    if discrete:
        bad = int(np.sum(actual.astype(np.int64) != expected))
        return bad == 0, float(bad), f"{bad}/{len(expected)} indices differ"
    err = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))
    return np.isfinite(err), err, f"max |diff| {err:.2e}"


def _check_onnx(report: VerifyReport, bundle: Path, manifest: dict[str, Any]) -> None:
    import onnx

    path = bundle / "policy.onnx"
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, OSError, ...: report, do not crash
        report.add("onnx.checker", False, f"cannot load policy.onnx: {type(exc).__name__}: {exc}")
        return
    try:
        onnx.checker.check_model(model, full_check=True)
        report.add("onnx.checker", True, f"ir {model.ir_version}, producer {model.producer_name}")
    except onnx.checker.ValidationError as exc:
        report.add("onnx.checker", False, str(exc).splitlines()[0])
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    problems = check_onnx_bytes(path.read_bytes())
    report.add("onnx self-contained", opset >= 17 and not problems, "; ".join(problems) or f"opset {opset}")
    dims = {
        i.name: [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim] for i in model.graph.input
    }
    want = {i["name"]: ["batch", int(i["size"])] for i in manifest["observation"]["inputs"]}
    outputs = [o.name for o in model.graph.output]
    ok = dims == want and outputs == ["action"]
    report.add(
        "graph io = manifest", ok, f"inputs {dims}, outputs {outputs}" + ("" if ok else f"; manifest {want}")
    )


def _parity_onnx(report: VerifyReport, bundle: Path, golden: dict[str, NDArray[Any]]) -> PolicyRunner | None:
    try:
        runner = PolicyRunner(bundle)
    except (ValueError, FileNotFoundError) as exc:
        report.add("onnxruntime vs SB3", False, f"PolicyRunner refused the bundle: {exc}")
        return None
    inputs = {n: golden[f"obs__{n}"] for n in runner.input_names}
    ok, err, text = _max_err(runner.act_batch(inputs), golden["actions"], runner.discrete)
    report.figures["onnx_max_err"] = err
    report.add(
        "onnxruntime vs SB3",
        ok and err <= ONNX_TOL,
        f"{text} on {len(golden['actions'])} golden obs (tol {ONNX_TOL})",
    )
    return runner


def _parity_torchscript(
    report: VerifyReport, bundle: Path, manifest: dict[str, Any], golden: dict[str, NDArray[Any]]
) -> None:
    import torch

    from robot_rl.deploy.export import load_torchscript

    module = load_torchscript(bundle / "policy.pt")
    with torch.no_grad():
        out = module(*(torch.from_numpy(golden[f"obs__{n}"]) for n in _input_names(manifest))).numpy()
    discrete = manifest["action"]["type"] == "discrete"
    ok, err, text = _max_err(out, golden["actions"], discrete)
    report.figures["torchscript_max_err"] = err
    report.add("torchscript vs SB3", ok and err <= TORCHSCRIPT_TOL, f"{text} (tol {TORCHSCRIPT_TOL})")


def _check_c(
    report: VerifyReport, bundle: Path, manifest: dict[str, Any], golden: dict[str, NDArray[Any]], calls: int
) -> None:
    try:
        with c_build.CHarness(bundle / "policy_c") as harness:
            actions, status = harness.run(golden["obs_flat"])
            discrete = manifest["action"]["type"] == "discrete"
            ok, err, text = _max_err(actions[:, 0] if discrete else actions, golden["actions"], discrete)
            ok = ok and not status.any()
            report.figures["c_max_err"] = err
            report.add(
                "C (cc -std=c99 -O2 -Wall -Werror) vs SB3", ok and err <= C_TOL, f"{text} (tol {C_TOL})"
            )
            nan_obs = golden["obs_flat"][:1].copy()
            nan_obs[0, 0] = np.nan
            _, nan_status = harness.run(nan_obs)
            report.add(
                "C rejects NaN obs", bool(nan_status[0] != 0), f"policy_act returned {int(nan_status[0])}"
            )
            p50, p99, pmax = harness.bench(golden["obs_flat"], calls)
    except c_build.CBuildError as exc:
        report.add("C (cc -std=c99 -O2 -Wall -Werror) vs SB3", False, str(exc))
        return
    _latency_figures(report, "c", np.array([p50, p99, pmax]) / 1e3, manifest, calls)


def _latency_figures(
    report: VerifyReport, name: str, us: NDArray[Any], manifest: dict[str, Any], calls: int
) -> None:
    p50, p99, pmax = (float(x) for x in us)
    report.figures[f"{name}_latency_us"] = {"p50": p50, "p99": p99, "max": pmax, "calls": calls}
    period = manifest["env"].get("control_period_s")
    share = f", p99 = {p99 / (period * 1e6):.2%} of the {period * 1e3:g} ms period" if period else ""
    ok = period is None or p99 < period * 1e6
    report.add(
        f"{name} latency",
        ok,
        f"p50 {p50:.1f} us, p99 {p99:.1f} us, max {pmax:.1f} us over {calls} calls{share}",
    )


def _latency_onnx(
    report: VerifyReport, runner: PolicyRunner, golden: dict[str, NDArray[Any]], calls: int
) -> None:
    rows = [
        {n: golden[f"obs__{n}"][k] for n in runner.input_names} for k in range(min(256, len(golden["kind"])))
    ]
    for k in range(200):  # warm-up
        runner.act(rows[k % len(rows)])
    lat = np.empty(calls)
    clock = time.perf_counter_ns
    for k in range(calls):
        t0 = clock()
        runner.act(rows[k % len(rows)])
        lat[k] = clock() - t0
    us = np.array([np.percentile(lat, 50), np.percentile(lat, 99), lat.max()]) / 1e3
    _latency_figures(report, "onnxruntime", us, runner.manifest, calls)


def _closed_loop(
    report: VerifyReport,
    runner: PolicyRunner,
    bundle: Path,
    manifest: dict[str, Any],
    episodes: int | None,
    tol: int,
) -> None:
    """Re-run the recorded reference episodes with the ONNX policy; one report line."""
    if episodes == 0:
        return
    path = bundle / REFERENCE_FILE
    if not path.exists():
        report.add(
            CLOSED_LOOP_CHECK,
            False,
            f"no {REFERENCE_FILE} in the bundle (exported without a closed-loop reference); "
            "re-export it with robot-rl export (reference_episodes > 0) to record one",
        )
        return
    if REFERENCE_FILE not in manifest["files"]:
        report.add(CLOSED_LOOP_CHECK, False, f"{REFERENCE_FILE} is not covered by the manifest's SHA-256")
        return
    try:
        reference = load_reference(path)
        result = compare_with_reference(
            runner, manifest["env"]["id"], manifest["env"]["kwargs"], reference, episodes, tol
        )
    except ValueError as exc:
        report.add(CLOSED_LOOP_CHECK, False, f"could not run: {exc}")
        return
    report.figures["closed_loop"] = result
    report.add(CLOSED_LOOP_CHECK, result["ok"], result["detail"])
