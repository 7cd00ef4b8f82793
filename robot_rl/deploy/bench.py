"""``robot-rl bench deploy [BUNDLE]``: policy latency and control-loop timing, printed as figures.

Measures, for the bundle (default ``exports/demo``, what ``robot-rl demo`` writes):

* ONNX Runtime through :class:`PolicyRunner` (1 intra-op / 1 inter-op thread): p50/p99/max
  over ``--calls`` single-observation calls;
* the generated C code (``cc -std=c99 -O2``), timed inside C with ``clock_gettime``;
* the control loop on SimHardware at ``--rate`` Hz for ``--loop-seconds`` s: achieved rate,
  overruns, compute time per tick.

Every figure is printed with its ratio to the control period. Targets (grasp policy, 2-core
machine): ONNX p99 <= 100 us, C p99 <= 10 us, 100 Hz for 60 s without overruns. Figures
measured while other processes load the CPU are noisy; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ONNX_P99_TARGET_US = 100.0
C_P99_TARGET_US = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bundle", nargs="?", type=Path, default=Path("exports/demo"), help="default exports/demo"
    )
    parser.add_argument("--calls", type=int, default=10_000, help="policy calls timed per runtime")
    parser.add_argument("--rate", type=float, default=100.0, help="control-loop rate in Hz (default 100)")
    parser.add_argument("--loop-seconds", type=float, default=60.0, help="control-loop duration (0 skips)")
    parser.add_argument(
        "--config", type=Path, help="deploy YAML (default: the shipped one for the env, if any)"
    )
    parser.add_argument(
        "--realtime", type=int, metavar="PRIO", help="run the loop under SCHED_FIFO at this priority (1..99)"
    )


def _line(name: str, lat: dict[str, float], period_s: float, target_us: float) -> str:
    p99 = lat["p99"]
    verdict = "meets" if p99 <= target_us else "MISSES"
    return (
        f"  {name:<12} p50 {lat['p50']:8.2f} us  p99 {p99:8.2f} us  max {lat['max']:9.2f} us  "
        f"p99/period {p99 / (period_s * 1e6):.4%}  ({verdict} the p99 <= {target_us:g} us target)"
    )


def bench_latency(bundle: Path, calls: int) -> dict[str, dict[str, float]]:
    """ONNX Runtime and C latency figures in microseconds (uses verify's measurement code)."""
    from robot_rl.deploy.golden import load_golden
    from robot_rl.deploy.verify import VerifyReport, _check_c, _latency_onnx, _parity_onnx

    report = VerifyReport(bundle)
    golden = load_golden(bundle / "golden.npz")
    runner = _parity_onnx(report, bundle, golden)
    if runner is None:
        raise ValueError(report.format())
    _latency_onnx(report, runner, golden, calls)
    _check_c(report, bundle, runner.manifest, golden, calls)
    failed = [c for c in report.checks if not c.ok and "latency" not in c.name]
    if failed:
        raise ValueError(
            "bundle failed parity checks:\n" + "\n".join(f"{c.name}: {c.detail}" for c in failed)
        )
    return {k.removesuffix("_latency_us"): v for k, v in report.figures.items() if k.endswith("_latency_us")}


def run(args: argparse.Namespace) -> int:
    from robot_rl.deploy.commands_deploy import deploy_sim, format_stats
    from robot_rl.deploy.deploy_config import default_config_for
    from robot_rl.deploy.loop import realtime_priority
    from robot_rl.deploy.manifest import read_manifest

    if args.calls < 100 or args.rate <= 0 or args.loop_seconds < 0:
        raise ValueError("--calls must be >= 100, --rate > 0 Hz and --loop-seconds >= 0")
    manifest = read_manifest(args.bundle)
    env_id = manifest["env"]["id"]
    period = 1.0 / args.rate
    load = os.getloadavg()[0]
    print(
        f"bench deploy {args.bundle} ({manifest['algo']} on {env_id}); "
        f"load average {load:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"policy latency over {args.calls} calls, against the {period * 1e3:g} ms loop period:")
    with realtime_priority(args.realtime):  # the C harness inherits the scheduling policy
        lat = bench_latency(args.bundle, args.calls)
    print(_line("onnxruntime", lat["onnxruntime"], period, ONNX_P99_TARGET_US))
    if "c" in lat:
        print(_line("C", lat["c"], period, C_P99_TARGET_US))
    if args.loop_seconds > 0:
        config = args.config or default_config_for(env_id)
        sched = "normal scheduling" if args.realtime is None else f"SCHED_FIFO priority {args.realtime}"
        print(f"control loop at {args.rate:g} Hz for {args.loop_seconds:g} s on SimHardware, {sched}")
        print(f"  deploy config: {config}")
        stats, summary, _ = deploy_sim(
            args.bundle, args.loop_seconds, config, args.rate, realtime=args.realtime
        )
        print("  " + format_stats(stats, summary).replace("\n", "\n  "))
        verdict = (
            "holds" if stats.overruns == 0 and stats.achieved_hz >= 0.99 * args.rate else "does NOT hold"
        )
        print(f"  -> the loop {verdict} {args.rate:g} Hz ({stats.overruns} overruns)")
    return 0
