"""ROS 2 QoS profiles as DDS QoS, and the network scope of a DDS domain (loopback by default).

Profiles (rmw's ``rmw_qos_profile_sensor_data`` and ``rmw_qos_profile_default``):

* ``sensor_data``: BEST_EFFORT, VOLATILE, KEEP_LAST 5 (``/scan``, images: a late sample is
  worthless, a lost one is replaced by the next);
* ``default``: RELIABLE, VOLATILE, KEEP_LAST 10 (commands, odometry, goals, plans).

A RELIABLE reader never matches a BEST_EFFORT writer, so each topic's profile in a deploy YAML
must be what the robot's nodes use (``ros2 topic info -v TOPIC`` shows it).

Network scope (:func:`network_config`): unless the user asks for an interface, every participant
this package creates stays on the loopback interface: ``lo`` only, multicast off, the one unicast
peer 127.0.0.1, and participant indices so unicast discovery finds every local participant of the
domain (Cyclone DDS then sends SPDP to the ports of indices 0..MaxAutoParticipantIndex on
127.0.0.1). ``--interface NAME`` joins that interface's network with multicast discovery, as a
ROS 2 node does; a ``CYCLONEDDS_URI`` set by the user is used as it is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from robot_rl.errors import InputError

PROFILES = ("sensor_data", "default")
#: Local participants a loopback domain can hold (unicast discovery probes this many ports).
MAX_LOCAL_PARTICIPANTS = 20


@dataclass(frozen=True)
class QosProfile:
    """One ROS 2 QoS profile (reliability, durability, history depth)."""

    reliable: bool
    depth: int
    transient_local: bool = False

    def to_dds(self):  # -> cyclonedds.qos.Qos (imported lazily: the extra may be absent)
        from cyclonedds.qos import Policy, Qos
        from cyclonedds.util import duration

        reliability = (
            Policy.Reliability.Reliable(duration(milliseconds=100))
            if self.reliable
            else Policy.Reliability.BestEffort
        )
        durability = Policy.Durability.TransientLocal if self.transient_local else Policy.Durability.Volatile
        return Qos(reliability, durability, Policy.History.KeepLast(self.depth))


SENSOR_DATA = QosProfile(reliable=False, depth=5)
DEFAULT = QosProfile(reliable=True, depth=10)


def profile(name: str) -> QosProfile:
    """The profile of a name in :data:`PROFILES`.

    Raises:
        InputError: an unknown name (the accepted ones are listed).
    """
    if name == "sensor_data":
        return SENSOR_DATA
    if name == "default":
        return DEFAULT
    raise InputError(f"QoS profile {name!r} is not accepted; choose one of {list(PROFILES)}")


def loopback_config() -> str:
    """Cyclone DDS XML that keeps a domain on this host (see module docstring)."""
    return (
        '<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="lo"/></Interfaces>'
        "<AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>"
        f"<MaxAutoParticipantIndex>{MAX_LOCAL_PARTICIPANTS}</MaxAutoParticipantIndex>"
        '<Peers><Peer address="127.0.0.1"/></Peers></Discovery></Domain></CycloneDDS>'
    )


def interface_config(name: str) -> str:
    """Cyclone DDS XML that joins the network of interface ``name`` (multicast discovery, as ROS 2)."""
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", name):
        raise InputError(f"--interface {name!r} is not an interface name (letters, digits, _ . : -)")
    return (
        f'<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="{name}"/>'
        "</Interfaces></General></Domain></CycloneDDS>"
    )


def network_config(interface: str | None) -> tuple[str | None, str]:
    """The XML to create the domain with (``None``: the user's ``CYCLONEDDS_URI``) and a description.

    Args:
        interface: ``None`` for this host only (loopback), else the interface to join.
    """
    if interface is not None:
        return interface_config(interface), f"interface {interface} (multicast discovery)"
    if os.environ.get("CYCLONEDDS_URI"):
        return None, "the network configured by CYCLONEDDS_URI"
    return loopback_config(), "loopback only (lo, no multicast, peer 127.0.0.1)"


def check_domain_id(domain_id: int) -> int:
    """``domain_id`` if it is a valid ROS 2 / DDS domain id (0..232), else :class:`InputError`."""
    if not isinstance(domain_id, int) or not 0 <= domain_id <= 232:
        raise InputError(f"DDS domain id {domain_id!r} is not accepted; expected an int in 0..232")
    return domain_id
