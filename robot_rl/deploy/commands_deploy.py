"""``robot-rl deploy DIR|zoo:NAME --hardware sim|ros2 [--duration S] [--config YAML] [--trust KEY.pub]``.

Runs the exported ONNX policy at the bundle's policy rate, through the safety filter with the
bundle's limits (a ``--config`` may only tighten them), in the fixed-rate control loop against the
simulated robot (``sim``) or a ROS 2 robot's topics (``ros2``: :mod:`robot_rl.deploy.ros2.deploy`,
with the config's ``ros2`` section, by default the shipped ``deploy_nav_ros2``), and prints the
achieved rate, overruns, faults and the task outcome. Nothing is read from the working directory:
the bundle carries its rate, safe action and limits.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.errors import InputError

FAULT_KINDS = ("stale", "nan", "slow")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bundle",
        help="bundle directory written by robot-rl export, or a pretrained policy zoo:NAME (robot-rl zoo)",
    )
    parser.add_argument(
        "--hardware",
        choices=["sim", "ros2"],
        default="sim",
        help="robot interface (sim: the PyBullet env in this process; ros2: ROS 2 topics over DDS, "
        "needs robot_rl[ros2])",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of wall time to run (default 10)"
    )
    parser.add_argument(
        "--config",
        help="deploy YAML (or a shipped deploy config's name, e.g. deploy_nav) that tightens the bundle's "
        "limits or sets command_hz (default: the bundle's own)",
    )
    parser.add_argument(
        "--command-hz",
        type=float,
        help="command stream rate in Hz, an integer multiple of the policy rate (default: the bundle's)",
    )
    parser.add_argument(
        "--trust",
        type=Path,
        action="append",
        metavar="KEY.pub",
        help="only run a bundle signed by this Ed25519 public key (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first simulated episode")
    parser.add_argument(
        "--realtime", type=int, metavar="PRIO", help="run the loop under SCHED_FIFO at this priority (1..99)"
    )
    parser.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="KIND@STEP[:N]",
        help=f"inject a fault at a tick for N ticks (kinds: {', '.join(FAULT_KINDS)}); repeatable "
        "(--hardware sim; with ros2 inject faults in robot-rl sim-robot)",
    )
    ros2 = parser.add_argument_group("--hardware ros2")
    ros2.add_argument("--domain-id", type=int, help="DDS domain (ROS_DOMAIN_ID; default: the config's)")
    ros2.add_argument(
        "--interface",
        help="network interface to join (default: this host only: loopback, no multicast; "
        "or the network of a CYCLONEDDS_URI you set)",
    )
    ros2.add_argument("--record", type=Path, metavar="LOG.mcap", help="record every tick to an MCAP file")


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
            raise InputError(
                f"--inject {spec!r} is not KIND@STEP[:N], e.g. nan@100 or stale@200:10"
            ) from None
        if kind not in FAULT_KINDS:
            raise InputError(f"--inject kind {kind!r} is not accepted; choose one of {list(FAULT_KINDS)}")
        getattr(faults, f"{kind}_steps").update(steps)
    return faults


def prepare(
    bundle: Path,
    config_path: str | Path | None = None,
    command_hz: float | None = None,
    trusted_keys: list[Path] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Open and check the bundle, and the effective settings; nothing is driven yet.

    Args:
        bundle: The bundle directory.
        config_path: A deploy YAML or a shipped deploy config's name (``deploy_nav``) that
            tightens the bundle's limits; ``None``: the bundle's own.
        command_hz: Command stream rate (an integer multiple of the policy rate).
        trusted_keys: Ed25519 public keys of which one must have signed the bundle.

    Returns:
        ``(PolicyRunner, settings)`` where settings are the bundle's safety limits tightened by
        the config (see :func:`robot_rl.deploy.deploy_config.effective_settings`).

    Raises:
        BundleError / ValueError: a bundle that fails its checks (hashes, paths, signature), a
            config that loosens a limit or names another rate, a bad command rate.
    """
    from robot_rl.deploy.deploy_config import effective_settings, load_deploy_config
    from robot_rl.deploy.runtime import PolicyRunner

    runner = PolicyRunner(bundle, trusted_keys=trusted_keys)
    config = load_deploy_config(config_path)
    if command_hz is not None:
        config = config.model_copy(update={"command_hz": float(command_hz)})
    return runner, effective_settings(runner.manifest, config)


def deploy_sim(
    bundle: Path,
    duration_s: float,
    config_path: str | Path | None = None,
    command_hz: float | None = None,
    seed: int = 0,
    faults: Any = None,
    realtime: int | None = None,
    trusted_keys: list[Path] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    prepared: tuple[Any, dict[str, Any]] | None = None,
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Run the bundle on SimHardware; returns (LoopStats, task summary, effective settings).

    ``clock`` and ``sleep`` drive both the loop and the simulated robot (inject them in tests).
    ``prepared`` is what :func:`prepare` returned for the same arguments, if the caller already
    opened and checked the bundle (then it is not hashed and loaded a second time).
    """
    from robot_rl.deploy.export import _make_env
    from robot_rl.deploy.hardware import SimHardware
    from robot_rl.deploy.loop import ControlLoop
    from robot_rl.deploy.safety import SafetyConfig, SafetyFilter

    runner, settings = prepared or prepare(bundle, config_path, command_hz, trusted_keys)
    hz = float(settings["command_hz"])
    every = round(hz / runner.policy_hz)
    safety = SafetyFilter(SafetyConfig.from_manifest(runner.manifest, settings))
    env = runner.manifest["env"]
    hardware = SimHardware(
        _make_env(env["id"], env["kwargs"]), seed, faults, clock=clock, command_hz=hz, sleep=sleep
    )
    try:
        runner.act(hardware.read_observation()[0])  # warm-up: ONNX Runtime's first run allocates
        loop = ControlLoop(
            runner.act, safety, hardware, hz, clock=clock, sleep=sleep, realtime=realtime, policy_every=every
        )
        stats = loop.run(duration_s=duration_s)
    finally:
        hardware.close()
    return stats, hardware.summary(), settings


def format_settings(runner_hz: float, settings: dict[str, Any]) -> str:
    """One line: rates, watchdog, fault limit and where the limits came from."""
    return (
        f"policy {runner_hz:g} Hz, commands {settings['command_hz']:g} Hz, watchdog "
        f"{settings['watchdog_timeout_s']:g} s, fault stop after {settings['max_consecutive_faults']} "
        f"policy steps, limits: bundle ({settings.get('source') or 'action space'})"
    )


def format_stats(stats: Any, summary: dict[str, Any]) -> str:
    """The deploy report: rate, overruns, compute time, faults, task outcome."""
    c, late = stats.compute_us, stats.start_lateness_us
    rate = stats.achieved_hz
    lines = [
        f"loop: {stats.steps} ticks in {stats.duration_s:.2f} s = {rate:.2f} Hz "
        f"(target {stats.rate_hz:g} Hz, {rate / stats.rate_hz:.1%}), {stats.policy_steps} policy steps "
        f"(1 per {stats.policy_every} ticks), overruns {stats.overruns}, stop: {stats.stop_reason}",
        f"compute per tick (read+policy+safety+write): p50 {c.get('p50', 0):.0f} us, "
        f"p99 {c.get('p99', 0):.0f} us, max {c.get('max', 0):.0f} us; period {1e6 / stats.rate_hz:.0f} us; "
        f"tick start lateness p99 {late.get('p99', 0):.0f} us, max {late.get('max', 0):.0f} us",
        f"safety: {stats.faults or 'no interventions'}; latched: {stats.latched or 'none'}",
    ]
    resets = summary.get("reset_ms") or []
    if resets:
        outside = overruns_outside_resets(stats, summary)
        lines.append(
            f"sim resets: {len(resets)} episode resets inside ticks (simulation work a robot does not "
            f"have), p50 {float(np.median(resets)):.1f} ms, max {max(resets):.1f} ms; overruns outside "
            f"reset ticks: {outside}"
        )
    if summary.get("episodes") is None:  # a real robot: the task outcome is not known here
        return "\n".join(lines)
    if summary["success_rate"] is not None:
        done = f"{summary['successes']}/{summary['episodes']}"
        lines.append(
            f"task: {done} episodes succeeded ({summary['success_rate']:.0%}), "
            f"mean return {summary['return_mean']:.2f}"
        )
    else:
        lines.append(f"task: {summary['episodes']} episodes, mean return {summary['return_mean']}")
    return "\n".join(lines)


def overruns_outside_resets(stats: Any, summary: dict[str, Any]) -> int:
    """Overruns in ticks that did not reset the simulated world (all overruns if not recorded)."""
    resets = set(summary.get("reset_ticks") or [])
    if len(stats.overrun_ticks) < stats.overruns:
        return int(stats.overruns)
    return sum(1 for tick in stats.overrun_ticks if tick not in resets)


def run(args: argparse.Namespace) -> int:
    from robot_rl.zoo import resolve_bundle

    if not args.duration > 0:
        raise InputError(f"--duration must be > 0 seconds, got {args.duration}")
    if args.hardware == "ros2":
        return run_ros2(args)
    if args.record or args.domain_id is not None or args.interface:
        raise InputError("--record, --domain-id and --interface apply to --hardware ros2")
    faults = parse_faults(args.inject, slow_s=0.05)
    bundle = resolve_bundle(args.bundle)
    prepared = prepare(bundle, args.config, args.command_hz, args.trust)  # refuse before driving
    print(format_settings(prepared[0].policy_hz, prepared[1]), flush=True)
    stats, summary, _ = deploy_sim(
        bundle, args.duration, seed=args.seed, faults=faults, realtime=args.realtime, prepared=prepared
    )
    print(format_stats(stats, summary))
    return 0


def run_ros2(args: argparse.Namespace) -> int:
    """``--hardware ros2``: the config's ``ros2`` section (default: the shipped one for the env)."""
    from robot_rl.deploy.ros2 import require

    require()
    from robot_rl.deploy.deploy_config import load_deploy_config
    from robot_rl.deploy.ros2.deploy import default_config, deploy_ros2
    from robot_rl.errors import InputError
    from robot_rl.zoo import resolve_bundle

    if not args.duration > 0:
        raise InputError(f"--duration must be > 0 seconds, got {args.duration}")
    if args.inject:
        raise InputError(
            "--inject is for --hardware sim; inject transport faults with robot-rl sim-robot --inject"
        )
    bundle = resolve_bundle(args.bundle)
    from robot_rl.deploy.manifest import read_manifest

    config = args.config or default_config(str(read_manifest(bundle)["env"]["id"]))
    settings = load_deploy_config(config).ros2
    if settings is None:
        raise InputError(
            f"deploy config {config} has no ros2 section (topics, QoS); start from deploy_nav_ros2"
        )
    prepared = prepare(bundle, config, args.command_hz, args.trust)
    print(format_settings(prepared[0].policy_hz, prepared[1]), flush=True)
    try:
        stats, summary = deploy_ros2(
            prepared, settings, args.duration, args.domain_id, args.interface, args.record, args.realtime,
            on_ready=lambda line: print(line, flush=True),
        )  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM before the loop started: no command was sent
        print("robot-rl deploy: interrupted while waiting for the ROS 2 inputs; no command was sent")
        return 130
    print(format_stats(stats, {"success_rate": None, "episodes": None}))
    if summary["record"]:
        print(f"recorded {summary['messages']} messages to {summary['record']}")
    return 0
