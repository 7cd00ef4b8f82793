"""The official ``.msg`` definitions shipped in ``msg/<pkg>/<Name>.msg``, as ROS 2 tools concatenate them.

An MCAP log (``ros2`` profile) carries, per channel, the message definition with every nested type
appended after a ``===`` line and ``MSG: pkg/Name``; rosbag2 writes it so, Foxglove and
``mcap-ros2-support`` read it so. :func:`definition` builds that text from the shipped files.
Standard library only.
"""

from __future__ import annotations

import re
from importlib import resources

BUILTIN = frozenset(
    [
        "bool",
        "byte",
        "char",
        "float32",
        "float64",
        "int8",
        "uint8",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "string",
        "wstring",
    ]
)
SEPARATOR = "=" * 80


def msg_text(ros_type: str) -> str:
    """The shipped ``.msg`` text of ``pkg/Name`` or ``pkg/msg/Name``.

    Raises:
        KeyError: no such shipped definition.
    """
    pkg, name = _split(ros_type)
    path = resources.files("robot_rl.deploy.ros2") / "msg" / pkg / f"{name}.msg"
    if not path.is_file():
        raise KeyError(f"no shipped .msg definition for {ros_type!r}")
    return path.read_text()


def _split(ros_type: str) -> tuple[str, str]:
    parts = ros_type.split("/")
    if len(parts) == 3 and parts[1] == "msg":
        return parts[0], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise KeyError(f"{ros_type!r} is not a ROS 2 message type name (pkg/msg/Name)")


def dependencies(ros_type: str) -> list[str]:
    """Nested message types (``pkg/Name``) of ``ros_type``, each once, depth-first in field order."""
    pkg, _ = _split(ros_type)
    out: list[str] = []
    for line in msg_text(ros_type).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        base = re.sub(r"\[.*\]$", "", line.split()[0])
        if base in BUILTIN:
            continue
        full = base if "/" in base else f"{pkg}/{base}"
        for dep in [full, *dependencies(full)]:
            if dep not in out:
                out.append(dep)
    return out


def definition(ros_type: str) -> str:
    """The concatenated definition of ``ros_type`` (its own text, then each nested type's)."""
    parts = [msg_text(ros_type).strip()]
    parts += [f"{SEPARATOR}\nMSG: {dep}\n{msg_text(dep).strip()}" for dep in dependencies(ros_type)]
    return "\n".join(parts) + "\n"
