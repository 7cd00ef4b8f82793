"""ROS 2 on the wire without a ROS installation: DDS types, QoS, the nav adapter and the bridge.

``robot-rl deploy BUNDLE --hardware ros2`` runs a policy against ROS 2 topics through
:class:`robot_rl.deploy.ros2.bridge.Ros2Hardware`; ``robot-rl sim-robot ENV_ID --ros2`` is a
PyBullet robot speaking the same topics; ``--record LOG.mcap`` and ``robot-rl replay`` log and
re-run a deployment. The transport is the PyPI ``cyclonedds`` package (it ships the Cyclone DDS
C library), which interoperates with ROS 2 nodes on rmw_cyclonedds and rmw_fastrtps at the DDS
level; logs use ``mcap`` and ``mcap-ros2-support``. They come with the ``ros2`` extra.

Modules: :mod:`.types` (messages), :mod:`.msgdefs` (the ``.msg`` texts), :mod:`.qos` (profiles and
the loopback-only network config), :mod:`.config` (the ``ros2`` section of a deploy YAML),
:mod:`.nav` (messages <-> the navigation observation and command), :mod:`.bridge` (the hardware
interface), :mod:`.recorder` / :mod:`.replay` (MCAP), :mod:`.sim_robot` (the rehearsal robot).
"""

from __future__ import annotations

from robot_rl.errors import InputError

INSTALL_HINT = (
    "ROS 2 support needs the ros2 extra: pip install 'robot_rl[ros2]' "
    "(cyclonedds, mcap, mcap-ros2-support; no ROS installation needed)"
)


def require() -> None:
    """Raise :class:`~robot_rl.errors.InputError` saying how to install the extra if it is missing."""
    import importlib.util

    missing = [m for m in ("cyclonedds", "mcap", "mcap_ros2") if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"{INSTALL_HINT}; missing: {', '.join(missing)}")
