"""``robot-rl deploy DIR --hardware sim [--duration S] [--config launch/deploy_*.yaml]``.

Runs the exported ONNX policy through the safety filter in the fixed-rate control loop against
the simulated robot and prints the achieved rate, overruns, faults and the task outcome.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

FAULT_KINDS = ("stale", "nan", "slow")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="bundle directory written by robot-rl export")
    parser.add_argument(
        "--hardware", choices=["sim"], default="sim", help="robot interface (sim: the PyBullet env)"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of wall time to run (default 10)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="deploy YAML: rate and safety limits (default: launch/deploy_<env>.yaml if present)",
    )
    parser.add_argument("--rate", type=float, help="loop rate in Hz (overrides the config)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first simulated episode")
    parser.add_argument(
        "--realtime", type=int, metavar="PRIO", help="run the loop under SCHED_FIFO at this priority (1..99)"
    )
    parser.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="KIND@STEP[:N]",
        help=f"inject a fault at a tick for N ticks (kinds: {', '.join(FAULT_KINDS)}); repeatable",
    )


def parse_faults(specs: list[str], slow_s: float) -> Any:
    """``["nan@100", "stale@200:10"]`` -> :class:`SimFaults`."""
    from robot_rl.deploy.hardware import SimFaults

    faults = SimFaults(slow_s=slow_s)
    for spec in specs:
        try:
            kind, rest = spec.split("@")
            start, _, count = rest.partition(":")
            steps = set(range(int(start), int(start) + int(count or 1)))
        except ValueError:
            raise ValueError(
                f"--inject {spec!r} is not KIND@STEP[:N], e.g. nan@100 or stale@200:10"
            ) from None
        if kind not in FAULT_KINDS:
            raise ValueError(f"--inject kind {kind!r} is not accepted; choose one of {list(FAULT_KINDS)}")
        getattr(faults, f"{kind}_steps").update(steps)
    return faults


def deploy_sim(
    bundle: Path,
    duration_s: float,
    config_path: Path | None,
    rate: float | None,
    seed: int = 0,
    faults: Any = None,
    realtime: int | None = None,
) -> tuple[Any, dict[str, Any], float]:
    """Run the bundle on SimHardware; returns (LoopStats, task summary, rate in Hz)."""
    from robot_rl.deploy.deploy_config import default_config_for, load_deploy_config
    from robot_rl.deploy.export import _make_env
    from robot_rl.deploy.hardware import SimHardware
    from robot_rl.deploy.loop import ControlLoop
    from robot_rl.deploy.runtime import PolicyRunner
    from robot_rl.deploy.safety import SafetyConfig, SafetyFilter

    runner = PolicyRunner(bundle)
    config = load_deploy_config(config_path or default_config_for(runner.manifest["env"]["id"]))
    config.check_env(runner.manifest)
    if rate is not None:
        config.control_hz = rate
    hz = config.rate_for(runner.manifest)
    safety = SafetyFilter(SafetyConfig.from_manifest(runner.manifest, config.safety))
    hardware = SimHardware(
        _make_env(runner.manifest["env"]["id"], runner.manifest["env"]["kwargs"]), seed, faults
    )
    try:
        runner.act(hardware.read_observation()[0])  # warm-up: ONNX Runtime's first run allocates
        stats = ControlLoop(runner.act, safety, hardware, hz, realtime=realtime).run(duration_s=duration_s)
    finally:
        hardware.close()
    return stats, hardware.summary(), hz


def format_stats(stats: Any, summary: dict[str, Any]) -> str:
    """The deploy report: rate, overruns, compute time, faults, task outcome."""
    c, late = stats.compute_us, stats.start_lateness_us
    rate = stats.achieved_hz
    lines = [
        f"loop: {stats.steps} ticks in {stats.duration_s:.2f} s = {rate:.2f} Hz "
        f"(target {stats.rate_hz:g} Hz, {rate / stats.rate_hz:.1%}), overruns {stats.overruns}, "
        f"stop: {stats.stop_reason}",
        f"compute per tick (read+policy+safety+write): p50 {c.get('p50', 0):.0f} us, "
        f"p99 {c.get('p99', 0):.0f} us, max {c.get('max', 0):.0f} us; period {1e6 / stats.rate_hz:.0f} us; "
        f"tick start lateness p99 {late.get('p99', 0):.0f} us, max {late.get('max', 0):.0f} us",
        f"safety: {stats.faults or 'no interventions'}; latched: {stats.latched or 'none'}",
    ]
    if summary["success_rate"] is not None:
        done = f"{summary['successes']}/{summary['episodes']}"
        lines.append(
            f"task: {done} episodes succeeded ({summary['success_rate']:.0%}), "
            f"mean return {summary['return_mean']:.2f}"
        )
    else:
        lines.append(f"task: {summary['episodes']} episodes, mean return {summary['return_mean']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if not args.duration > 0:
        raise ValueError(f"--duration must be > 0 seconds, got {args.duration}")
    faults = parse_faults(args.inject, slow_s=0.05)
    stats, summary, _ = deploy_sim(
        args.bundle, args.duration, args.config, args.rate, args.seed, faults, args.realtime
    )
    print(format_stats(stats, summary))
    return 0
