"""``robot-rl deploy BUNDLE --hardware ros2``: the bundle's policy on ROS 2 topics.

Opens the bundle (hashes, signature) and the deploy config, connects to the DDS domain (loopback
only unless an interface is named), waits for the inputs (:meth:`Ros2Hardware.wait_for_inputs`),
then runs the control loop at the command rate through the safety filter until the duration,
Ctrl-C or SIGTERM; on every exit path the safe action is published before the process ends.
Robot side: no torch, gymnasium or pybullet.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from robot_rl.deploy.ros2.config import Ros2ArmSettings, Ros2Settings
from robot_rl.errors import InputError

#: env id prefix -> the shipped ``ros2`` deploy config used when ``--config`` is not given.
DEFAULT_ROS2_CONFIGS = {
    "robot_rl/MobileNav-": "deploy_nav_ros2",
    "robot_rl/MobileNavDiscrete-": "deploy_nav_ros2",
    "robot_rl/PandaGrasp-": "deploy_grasp_ros2",
}


def default_config(env_id: str) -> str:
    """The shipped ROS 2 deploy config's name for ``env_id``.

    Raises:
        InputError: no ROS 2 adapter for that env (the supported ones are named).
    """
    for prefix, name in DEFAULT_ROS2_CONFIGS.items():
        if env_id.startswith(prefix):
            return name
    raise InputError(
        f"--hardware ros2 has no adapter for {env_id!r} yet; supported: {', '.join(DEFAULT_ROS2_CONFIGS)}*"
    )


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread (the loop then exits through its safe action)."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def deploy_ros2(
    prepared: tuple[Any, dict[str, Any]],
    settings: Ros2Settings | Ros2ArmSettings,
    duration_s: float,
    domain_id: int | None = None,
    interface: str | None = None,
    record: Path | None = None,
    realtime: int | None = None,
    on_ready: Callable[[str], None] = lambda line: None,  # status lines (start-up)
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Any, dict[str, Any]]:
    """Run ``prepared`` (what :func:`~robot_rl.deploy.commands_deploy.prepare` returned) on ROS 2.

    Returns:
        ``(LoopStats, summary)`` with the topics used and, with ``record``, the log path.

    Raises:
        InputError: the ros2 extra is missing, an input has no publisher, a scan or frame check fails.
    """
    from robot_rl.deploy.loop import ControlLoop
    from robot_rl.deploy.ros2 import require
    from robot_rl.deploy.ros2.bridge import Ros2Hardware
    from robot_rl.deploy.safety import SafetyConfig, SafetyFilter

    require()
    runner, eff = prepared
    hz = float(eff["command_hz"])
    every = round(hz / runner.policy_hz)
    safety = SafetyFilter(SafetyConfig.from_manifest(runner.manifest, eff))
    hardware = Ros2Hardware(
        runner.manifest, settings, domain_id, interface, clock=clock, safety=safety, policy_every=every
    )
    recorder = None
    if record is not None:
        from robot_rl.deploy.ros2.recorder import Recorder

        try:
            recorder = Recorder(record, runner.manifest, hardware.topic_qos(), eff, bundle=runner.bundle)
        except Exception:
            hardware.close()
            raise
        hardware.recorder = recorder
    try:
        with sigterm_as_interrupt():
            on_ready(
                f"ros2: domain {hardware.node.domain_id}, {hardware.node.network}; waiting up to "
                f"{settings.wait_for_inputs_s:g} s for "
                + ", ".join(hardware.describe(k) for k in hardware.specs)
            )
            hardware.wait_for_inputs()
            on_ready(
                f"ros2: all inputs received; running, commands on {', '.join(hardware.out_topics.values())}"
            )
            runner.act(hardware.read_observation()[0])  # warm-up: ONNX Runtime's first run allocates
            loop = ControlLoop(
                runner.act, safety, hardware, hz, clock=clock, realtime=realtime, policy_every=every
            )
            # with ros2.phase_offset_s set, the loop's policy ticks follow the sensor stream
            # (Ros2Hardware.wait_for_sensor): no start-up alignment here
            stats = loop.run(duration_s=duration_s)
    finally:
        if recorder is not None:
            recorder.close()
        hardware.close()
    summary = {
        "record": str(record) if record else None,
        "messages": recorder.count if recorder else 0,
        "latency_us": hardware.latency_us(),
        "latency_topic": hardware.specs[hardware.adapter.phase_key].topic,
        "phase_shifts": loop.phase_shifts if hardware.sensor_paced else None,
    }
    return stats, summary
