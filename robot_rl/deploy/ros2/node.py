"""A DDS participant that speaks ROS 2 topics: readers and writers by ROS 2 name and QoS profile.

ROS 2 topic ``/scan`` is DDS topic ``rt/scan``; the DDS type is the one of
:mod:`robot_rl.deploy.ros2.types`. The domain is created with the network scope of
:func:`robot_rl.deploy.ros2.qos.network_config` (loopback only unless an interface is named or the
user set ``CYCLONEDDS_URI``). Readers are polled (:meth:`Ros2Node.take_all`) or waited on
(:meth:`Ros2Node.waiter`), no threads of ours.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from robot_rl.deploy.ros2 import require
from robot_rl.deploy.ros2.config import dds_topic
from robot_rl.deploy.ros2.qos import QosProfile, check_domain_id, network_config

#: Domains created in this process: cyclonedds allows one ``Domain`` object per id and config.
_DOMAINS: dict[tuple[int, str | None], Any] = {}


class Ros2Node:
    """One DDS participant on ``domain_id`` (see module docstring).

    Args:
        domain_id: DDS domain (ROS_DOMAIN_ID), 0..232.
        interface: Network interface to join; ``None``: loopback only (or ``CYCLONEDDS_URI``).
    """

    def __init__(self, domain_id: int, interface: str | None = None) -> None:
        require()
        from cyclonedds.domain import Domain, DomainParticipant

        self.domain_id = check_domain_id(domain_id)
        xml, self.network = network_config(interface)
        key = (domain_id, xml)
        if xml is not None and key not in _DOMAINS:
            _DOMAINS[key] = Domain(domain_id, xml)
        self.participant: Any = DomainParticipant(domain_id)
        self._topics: dict[str, Any] = {}
        self._endpoints: list[Any] = []

    def _topic(self, ros_topic: str, msg_type: type) -> Any:
        from cyclonedds.topic import Topic

        name = dds_topic(ros_topic)
        if name not in self._topics:
            self._topics[name] = Topic(self.participant, name, msg_type)
        return self._topics[name]

    def reader(self, ros_topic: str, msg_type: type, qos: QosProfile) -> Any:
        from cyclonedds.sub import DataReader

        reader = DataReader(self.participant, self._topic(ros_topic, msg_type), qos=qos.to_dds())
        self._endpoints.append(reader)
        return reader

    def writer(self, ros_topic: str, msg_type: type, qos: QosProfile) -> Any:
        from cyclonedds.pub import DataWriter

        writer = DataWriter(self.participant, self._topic(ros_topic, msg_type), qos=qos.to_dds())
        self._endpoints.append(writer)
        return writer

    def waiter(self, reader: Any) -> Callable[[float], bool]:
        """``wait(timeout_s) -> bool``: block (in C, no polling) until ``reader`` holds an unread sample.

        A DDS ``WaitSet`` with a ``ReadCondition`` on the reader; True when data is there, False
        at the timeout.
        """
        from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState, WaitSet

        waitset = WaitSet(self.participant)
        condition = ReadCondition(reader, SampleState.NotRead | ViewState.Any | InstanceState.Any)
        waitset.attach(condition)
        self._endpoints[:0] = [waitset, condition]  # deleted before the readers they refer to

        def wait(timeout_s: float) -> bool:
            return waitset.wait(max(int(timeout_s * 1e9), 0)) > 0

        return wait

    @staticmethod
    def take_all(reader: Any, msg_type: type) -> list[Any]:
        """Every new valid sample of ``reader`` (oldest first), without blocking."""
        out = []
        while True:
            batch = reader.take(N=64)
            out += [s for s in batch if isinstance(s, msg_type)]
            if len(batch) < 64:
                return out

    def close(self) -> None:
        """Delete the readers, writers, topics and the participant (peers see them leave).

        cyclonedds keeps every entity in a class-level registry until its ``__del__`` runs, so
        dropping the Python references is not enough; ``__del__`` is its deletion call.
        """
        if self.participant is None:
            return
        for entity in [*self._endpoints, *self._topics.values(), self.participant]:
            entity.__del__()
        self._endpoints.clear()
        self._topics.clear()
        self.participant = None


def wait_until(
    condition: Callable[[], bool],
    timeout_s: float,
    poll_s: float = 0.01,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout_s`` passed (False)."""
    end = clock() + timeout_s
    while True:
        if condition():
            return True
        if clock() >= end:
            return False
        sleep(poll_s)
