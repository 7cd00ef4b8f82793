"""Ros2Hardware: the control loop's hardware interface on ROS 2 topics (DDS, no ROS installation).

Implements :class:`~robot_rl.deploy.interface.HardwareInterface` through an adapter per robot:
:class:`~robot_rl.deploy.ros2.nav.NavAdapter` (MobileNav: scan, odom, goal, plan -> ``/cmd_vel``)
or :class:`~robot_rl.deploy.ros2.arm.ArmAdapter` (PandaGrasp: joint states, poses, twists, contacts
-> a MoveIt Servo twist and a gripper command; :class:`~robot_rl.deploy.ros2.arm.DepthArmAdapter`
for a depth-camera bundle: the depth image and camera info instead of the object's pose), chosen
by the config's ``ros2.robot`` and the bundle:

* ``read_observation`` takes every new message of the inputs (polled, non-blocking), builds the
  observation with the adapter and stamps it with the age of its *oldest* sensor input (nav:
  scan, odom; arm: every input) on the loop's monotonic clock:
  ``stamp = now - age`` with ``age = wall clock - header.stamp`` (or the arrival time, per the
  config's ``stamp``). The safety filter's watchdog then judges it: a silent or delayed sensor
  gives the safe action and a latched stop; a NaN range gives the safe action. Goal and plan are
  set points: they are not aged, but a missing one is NaN in the observation.
* ``write_action`` publishes the adapter's command messages.
* ``safe_stop`` (after the loop wrote the safe action) waits for the command's delivery to the
  matched reliable readers, then closes the recorder.

Latency figures (seconds, fixed-size rings, read by ``robot-rl bench deploy --hardware ros2``),
for the adapter's ``phase_key`` input ("scan" for nav, "joint_states" for the arm):
``delivery`` = scan ``header.stamp`` -> the bridge took it (transport plus up to one tick of
polling); ``stamp_to_command`` = scan stamp -> the first command published after the bridge took
it (every tick re-screens the newest observation, so a stale or NaN scan changes the command
then); ``stamp_to_policy`` = scan stamp -> the command of the first policy step that used it
(includes the phase between the robot's sensor clock and the policy ticks: up to one policy
period when the two are not synchronised).

Start-up (:meth:`Ros2Hardware.wait_for_inputs`) waits for a first message on every input and
runs the adapter's checks (nav: a scan that does not cover the trained field of view, a goal/plan
outside the odometry frame; arm: frames, finger joints), naming the field; a topic without a
publisher is named with its type and QoS.

Robot side: imports numpy and cyclonedds, never torch, gymnasium or pybullet (import contract).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from robot_rl.deploy.loop import Ring
from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.config import Ros2ArmSettings, Ros2Settings, dds_topic
from robot_rl.deploy.ros2.node import Ros2Node, wait_until
from robot_rl.deploy.ros2.qos import QosProfile, profile
from robot_rl.errors import InputError


def make_adapter(manifest: dict[str, Any], settings: Ros2Settings | Ros2ArmSettings) -> Any:
    """The adapter for ``settings.robot`` (``nav`` or ``arm``); it checks that the bundle fits."""
    if isinstance(settings, Ros2ArmSettings):
        from robot_rl.deploy.ros2.arm import ArmAdapter, DepthArmAdapter

        if manifest["env"].get("kwargs", {}).get("obs_mode") == "depth":
            return DepthArmAdapter(manifest, settings)
        return ArmAdapter(manifest, settings)
    from robot_rl.deploy.ros2.nav import NavAdapter

    return NavAdapter(manifest, settings)


class Ros2Hardware:
    """:class:`HardwareInterface` on ROS 2 topics (see module docstring).

    Args:
        manifest: The bundle's manifest (layout, action semantics, safe action).
        settings: The ``ros2`` section of the deploy config.
        domain_id: DDS domain (default: ``settings.domain_id``).
        interface: Network interface to join (default: loopback only).
        clock: The loop's monotonic clock (s); ``wall_clock``: seconds since the epoch (header stamps).
        recorder: Optional :class:`~robot_rl.deploy.ros2.recorder.Recorder` (``--record``).
        safety: The loop's :class:`~robot_rl.deploy.safety.SafetyFilter`, whose latest record the
            recorder logs with each written action (raw action, flags).
        policy_every: Command ticks per policy step (to mark policy ticks in the log).
    """

    def __init__(
        self,
        manifest: dict[str, Any],
        settings: Ros2Settings | Ros2ArmSettings,
        domain_id: int | None = None,
        interface: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        recorder: Any = None,
        safety: Any = None,
        policy_every: int = 1,
    ) -> None:
        self.settings = settings
        self.adapter = make_adapter(manifest, settings)
        self.clock, self.wall_clock = clock, wall_clock
        self.recorder, self.safety, self.policy_every = recorder, safety, policy_every
        self.node = Ros2Node(settings.domain_id if domain_id is None else domain_id, interface)
        self.specs = self.adapter.inputs
        self.types = self.adapter.input_types
        self.readers = {
            k: self.node.reader(spec.topic, self.types[k], profile(spec.qos))
            for k, spec in self.specs.items()
        }
        self.latest: dict[str, Any] = dict.fromkeys(self.specs)
        self.stamps: dict[str, float] = dict.fromkeys(self.specs, -np.inf)
        self.out_topics = {key: topic for key, (_, topic, _) in self.adapter.outputs.items()}
        self.writers = {
            key: self.node.writer(topic, cls, profile(qos))
            for key, (cls, topic, qos) in self.adapter.outputs.items()
        }
        self._obs: Any = None
        self._ticks = 0
        self._seen_records = 0
        self._writes = 0
        self.delivery, self.stamp_to_command, self.stamp_to_policy = Ring(), Ring(), Ring()
        self._pending_command: float | None = None  # scan stamp (epoch s) not yet answered by a command
        self._pending_policy: float | None = None  # ... nor by a policy step
        self._arrival: float | None = None  # loop-clock time a phase_key message was taken, not yet reported
        self._wait_phase = self.node.waiter(self.readers[self.adapter.phase_key])

    # ------------------------------------------------------------------ start-up
    def describe(self, key: str) -> str:
        spec = self.specs[key]
        cls = self.types[key]
        return f"{spec.topic} ({m.ros_type_name(cls)}, DDS {dds_topic(spec.topic)}, QoS {spec.qos})"

    def wait_for_inputs(self, timeout_s: float | None = None) -> None:
        """Wait for a first message on every input, then check scan coverage and frames.

        Raises:
            InputError: an input without a message in time (named with its type, QoS, and
                whether a publisher matched at all), or a failed check (names the field).
        """
        timeout = self.settings.wait_for_inputs_s if timeout_s is None else timeout_s
        wait_until(lambda: self._poll() or all(v is not None for v in self.latest.values()), timeout)
        missing = [k for k, v in self.latest.items() if v is None]
        if missing:
            parts = []
            for k in missing:
                matched = len(self.readers[k].get_matched_publications())
                why = (
                    f"{matched} publisher(s) matched but sent nothing"
                    if matched
                    else "no publisher matched (none running, another domain/network, or incompatible QoS)"
                )
                parts.append(f"{self.describe(k)}: {why}")
            raise InputError(
                f"no message within {timeout:g} s on domain {self.node.domain_id} ({self.node.network}) from "
                + "; ".join(parts)
            )
        self.adapter.check_inputs(self.latest, {k: s.topic for k, s in self.specs.items()})

    def topic_qos(self) -> dict[str, QosProfile]:
        """ROS 2 topic -> QoS profile of every input and output (the recorder's channel metadata)."""
        out = {spec.topic: profile(spec.qos) for spec in self.specs.values()}
        out.update({topic: profile(qos) for _, topic, qos in self.adapter.outputs.values()})
        return out

    def wait_for_new(self, key: str, timeout_s: float, poll_s: float = 2e-4) -> bool:
        """Poll every ``poll_s`` until a new ``key`` message arrives (True) or ``timeout_s`` (False)."""
        self._poll()  # what is queued already is not new
        before = self.latest[key]
        return wait_until(
            lambda: self._poll() or self.latest[key] is not before, timeout_s, poll_s, self.clock
        )

    @property
    def sensor_paced(self) -> bool:
        """Whether the loop's policy ticks follow the ``phase_key`` stream (``ros2.phase_offset_s`` set)."""
        return self.settings.phase_offset_s is not None

    def wait_for_sensor(self, timeout_s: float) -> float | None:
        """Wait up to ``timeout_s`` for a fresh ``phase_key`` message (DDS WaitSet, no polling).

        The control loop calls this instead of sleeping between ticks (sensor pacing, see
        :class:`~robot_rl.deploy.loop.ControlLoop`). Returns the time on the loop's clock at
        which the next policy tick should run, ``arrival + ros2.phase_offset_s``, or ``None`` at
        the timeout. A message taken during a tick counts too (its arrival is then the tick's
        read time). Only used while :attr:`sensor_paced`.
        """
        offset = self.settings.phase_offset_s
        end = self.clock() + timeout_s
        while self._arrival is None:
            remaining = end - self.clock()
            if remaining <= 0 or not self._wait_phase(remaining):
                break
            self._poll()
        arrival, self._arrival = self._arrival, None
        return None if arrival is None else arrival + float(offset or 0.0)

    def wait_for_subscribers(self, timeout_s: float) -> bool:
        """Whether every command topic has a matched reader within ``timeout_s``."""
        return wait_until(
            lambda: all(w.get_matched_subscriptions() for w in self.writers.values()), timeout_s
        )

    # ------------------------------------------------------------------ HardwareInterface
    def _poll(self) -> bool:
        """Take every new message; returns False (so ``wait_until`` keeps polling)."""
        for key, reader in self.readers.items():
            msgs = self.node.take_all(reader, self.types[key])
            if not msgs:
                continue
            now = self.clock()
            msg = msgs[-1]
            self.adapter.on_message(key, self.latest[key], msg)
            self.latest[key] = msg
            if key == self.adapter.phase_key:
                stamp = m.seconds_of(msg.header.stamp)
                self.delivery.add(self.wall_clock() - stamp)
                self._pending_command = self._pending_policy = stamp
                self._arrival = now
            if self.specs[key].stamp == "header":
                age = max(self.wall_clock() - m.seconds_of(msg.header.stamp), 0.0)
                self.stamps[key] = now - age
            else:
                self.stamps[key] = now
            if self.recorder is not None:
                for one in msgs:
                    self.recorder.message(self.specs[key].topic, one)
        return False

    def read_observation(self) -> tuple[Any, float]:
        self._poll()
        self._obs = self.adapter.observe(self.latest)
        return self._obs, min(self.stamps[k] for k in self.adapter.sensors)

    def write_action(self, action: Any) -> None:
        msgs = self.adapter.commands(action, self.wall_clock())
        for key, msg in msgs.items():
            self.writers[key].write(msg)
        self._latency(self._policy_tick())
        self._writes += 1
        if self.recorder is not None:
            for key, msg in msgs.items():
                self.recorder.message(self.out_topics[key], msg)
            self._record_tick(action)

    def _policy_tick(self) -> bool:
        """Whether the action just written came from a policy step (the safety filter's record says;
        without a filter, every ``policy_every``-th write)."""
        if self.safety is not None and self.safety.records.count > self._seen_records:
            return bool(self.safety.records[-1].policy_step)
        return self._writes % self.policy_every == 0

    def _latency(self, policy_tick: bool) -> None:
        if self._pending_command is None and self._pending_policy is None:
            return
        now = self.wall_clock()
        if self._pending_command is not None:
            self.stamp_to_command.add(now - self._pending_command)
            self._pending_command = None
        if policy_tick and self._pending_policy is not None:
            self.stamp_to_policy.add(now - self._pending_policy)
            self._pending_policy = None

    def latency_us(self) -> dict[str, dict[str, float]]:
        """p50/p99/max in microseconds of the three latency figures (module docstring)."""
        return {
            "delivery": self.delivery.percentiles(),
            "stamp_to_command": self.stamp_to_command.percentiles(),
            "stamp_to_policy": self.stamp_to_policy.percentiles(),
        }

    def _record_tick(self, action: Any) -> None:
        """Log the tick (observation, raw and filtered action, flags) the safety filter just recorded.

        A write without a new filter record (the loop's shutdown write of the safe action) is
        logged on the command topic only.
        """
        if self.safety is None or self.safety.records.count == self._seen_records:
            return
        self._seen_records = self.safety.records.count
        rec = self.safety.records[-1]
        raw = rec.raw_action
        tick = m.DeployTick(
            m.Header(m.stamp_of(self.wall_clock()), "deploy"),
            self._ticks,
            rec.policy_step,
            [] if self._obs is None else self._flat(self._obs).tolist(),
            raw is not None,
            [] if raw is None else [float(v) for v in np.asarray(raw, np.float32).reshape(-1)],
            [float(v) for v in np.asarray(action, np.float32).reshape(-1)],
            int(rec.flags),
        )
        self._ticks += 1
        self.recorder.tick(tick)

    def _flat(self, obs: Any) -> Any:
        """The observation as one float32 vector (a dict's inputs in the manifest's order)."""
        if isinstance(obs, dict):
            return self.adapter.flat(obs)
        return np.asarray(obs, np.float32).reshape(-1)

    def safe_stop(self) -> None:
        from cyclonedds.util import duration

        try:
            for writer in self.writers.values():  # best-effort writers return at once
                writer.wait_for_acks(duration(seconds=1))
        finally:
            if self.recorder is not None:
                self.recorder.close()

    def close(self) -> None:
        self.node.close()
