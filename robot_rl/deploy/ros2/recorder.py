"""``deploy --record LOG.mcap``: every tick of a ROS 2 deployment in an MCAP file (ROS 2 encoding).

Written as rosbag2 writes MCAP (``ros2`` profile): one schema per message type with the
concatenated ``.msg`` definition (``ros2msg`` encoding), one channel per topic with
``message_encoding: cdr`` and the ``offered_qos_profiles`` metadata rosbag2 stores (YAML), and
each message's CDR bytes exactly as they travel on the wire (our DDS types' serialization, which
``tests/deploy/ros2/test_ros2_wire.py`` proves equal to ROS 2's). So the file opens in Foxglove
and ``ros2 bag play`` replays the standard topics.

Topics: every received input message (nav: ``/scan``, ``/odom``, ``/goal_pose``, ``/plan``), every
command sent (nav: ``/cmd_vel``), and ``/robot_rl/deploy_tick`` (``robot_rl_msgs/msg/DeployTick``: the
observation vector, the raw and the filtered action and the safety flags of every tick).
Metadata ``robot_rl`` holds the bundle path, its manifest's SHA-256, the rates and the
observation layout; the manifest itself is attached (``manifest.json``) for ``robot-rl replay``.

Uncompressed chunks: compressing a chunk inside a 10 ms tick could overrun it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from robot_rl.deploy.ros2 import types as m
from robot_rl.deploy.ros2.msgdefs import definition
from robot_rl.deploy.ros2.qos import QosProfile

TICK_TOPIC = "/robot_rl/deploy_tick"
TICK_QOS = QosProfile(reliable=True, depth=10)
_INFINITE = "\n    sec: 2147483647\n    nsec: 4294967295"


def qos_yaml(qos: QosProfile) -> str:
    """rosbag2's ``offered_qos_profiles`` YAML for one publisher with ``qos``."""
    return (
        f"- history: 1\n  depth: {qos.depth}\n  reliability: {1 if qos.reliable else 2}\n"
        f"  durability: {1 if qos.transient_local else 2}\n  deadline:{_INFINITE}\n  lifespan:{_INFINITE}\n"
        f"  liveliness: 1\n  liveliness_lease_duration:{_INFINITE}\n  avoid_ros_namespace_conventions: false"
    )


class Recorder:
    """Writes the MCAP log of one deployment (see module docstring).

    Args:
        path: The ``.mcap`` file to write (its directory must exist).
        manifest: The bundle's manifest; ``qos``: ROS 2 topic -> QoS profile of every input and
            output (``Ros2Hardware.topic_qos()``); ``effective``: the effective safety settings
            (rates, limits) of the run.
        bundle: The bundle directory (recorded so ``robot-rl replay LOG`` finds it).
    """

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        qos: dict[str, QosProfile],
        effective: dict[str, Any],
        bundle: Path | None = None,
    ) -> None:
        from mcap.well_known import MessageEncoding, Profile, SchemaEncoding
        from mcap.writer import CompressionType, Writer

        path = Path(path)
        if not path.parent.is_dir():
            from robot_rl.errors import MissingInputError

            raise MissingInputError(f"--record {path}: directory {path.parent} does not exist")
        self._fh = path.open("wb")
        self._writer = Writer(self._fh, compression=CompressionType.NONE)
        self._writer.start(profile=Profile.ROS2, library="robot_rl")
        self._schema_encoding, self._message_encoding = SchemaEncoding.ROS2, MessageEncoding.CDR
        self._schemas: dict[type, int] = {}
        self._channels: dict[str, int] = {}
        self._qos = dict(qos)
        self._qos[TICK_TOPIC] = TICK_QOS
        self._seq: dict[str, int] = {}
        self.count = 0
        self.closed = False
        text = json.dumps(manifest, sort_keys=True)
        layout = manifest["observation"]["inputs"][0].get("layout", [])
        self._writer.add_metadata(
            "robot_rl",
            {
                "bundle": str(Path(bundle).resolve()) if bundle else "",
                "manifest_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "env_id": str(manifest["env"]["id"]),
                "policy_hz": str(manifest["env"]["policy_hz"]),
                "command_hz": str(effective["command_hz"]),
                "watchdog_timeout_s": str(effective["watchdog_timeout_s"]),
                "observation_layout": json.dumps([[f["name"], f["start"], f["stop"]] for f in layout]),
            },
        )
        now = time.time_ns()
        self._writer.add_attachment(now, now, "manifest.json", "application/json", text.encode())

    def _channel(self, topic: str, cls: type) -> int:
        if topic not in self._channels:
            if cls not in self._schemas:
                name = m.ros_type_name(cls)
                self._schemas[cls] = self._writer.register_schema(
                    name, self._schema_encoding, definition(name).encode()
                )
            qos = self._qos.get(topic, TICK_QOS)
            self._channels[topic] = self._writer.register_channel(
                topic, self._message_encoding, self._schemas[cls], {"offered_qos_profiles": qos_yaml(qos)}
            )
        return self._channels[topic]

    def message(self, topic: str, msg: Any, log_time_ns: int | None = None) -> None:
        """Log one message (its CDR bytes) on ``topic`` at ``log_time_ns`` (default: now)."""
        if self.closed:
            return
        channel = self._channel(topic, type(msg))
        t = time.time_ns() if log_time_ns is None else log_time_ns
        seq = self._seq.get(topic, 0)
        self._seq[topic] = seq + 1
        self._writer.add_message(channel, log_time=t, data=msg.serialize(), publish_time=t, sequence=seq)
        self.count += 1

    def tick(self, tick: m.DeployTick) -> None:
        """Log one control-loop tick."""
        self.message(TICK_TOPIC, tick)

    def close(self) -> None:
        """Finish the file (summary, index); idempotent."""
        if not self.closed:
            self.closed = True
            self._writer.finish()
            self._fh.close()
