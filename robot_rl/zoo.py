"""Pretrained policies shipped with the package (the model zoo), addressable as ``zoo:NAME``.

Each pretrained policy is a directory ``assets/policies/NAME/`` of the repository, installed as
``robot_rl._assets/policies/NAME/`` (:mod:`robot_rl.resources`). It holds:

* ``bundle/``: an exported, verified bundle exactly as ``robot-rl export`` wrote it (the manifest
  hashes every file, so nothing else may live inside it);
* ``zoo.json``: what the bundle is and how well it does: the training run it came from, how the
  model was selected, the evaluation measured with the bundle's own ONNX policy on episodes never
  used for selection, and the exact commands that train, export and evaluate it again.

``robot-rl evaluate``, ``robot-rl verify`` and ``robot-rl deploy`` accept ``zoo:NAME`` wherever
they take a bundle (:func:`resolve_bundle`); ``robot-rl zoo`` lists the policies with their
results. This module reads only JSON with the standard library (the robot side may use it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robot_rl.errors import InputError, MissingInputError
from robot_rl.resources import assets_dir

#: Prefix that marks a pretrained policy's name where a bundle directory is expected.
PREFIX = "zoo:"
#: Directory of the pretrained policies inside the installed assets.
POLICIES = "policies"
#: The bundle directory and the summary file inside a policy's directory.
BUNDLE_DIR = "bundle"
ZOO_JSON = "zoo.json"
ZOO_SCHEMA = 1


@dataclass(frozen=True)
class Pretrained:
    """One shipped pretrained policy.

    Attributes:
        name: What ``zoo:NAME`` names (the directory name).
        root: ``.../policies/NAME``.
        info: The content of ``zoo.json``.
    """

    name: str
    root: Path
    info: dict[str, Any]

    @property
    def bundle(self) -> Path:
        """The bundle directory (``manifest.json``, ``policy.onnx``, ...)."""
        return self.root / BUNDLE_DIR

    @property
    def evaluation(self) -> dict[str, Any]:
        """The measured evaluation summary (``zoo.json``'s ``evaluation``)."""
        return dict(self.info.get("evaluation", {}))

    @property
    def commands(self) -> dict[str, str]:
        """``{"train": ..., "export": ..., "evaluate": ...}``: the commands that reproduce it."""
        return dict(self.info.get("commands", {}))

    def summary_line(self) -> str:
        """``success 0.995 (95% CI 0.972-1.000, 200 test-split episodes), SPL 0.97``."""
        ev = self.evaluation
        if not ev:
            return "not evaluated"
        low, high = ev["success_ci95"]
        where = ev.get("held_out", "held-out")
        text = (
            f"success {ev['success_rate']:.3f} (95% CI {low:.3f}-{high:.3f}, "
            f"{ev['episodes']} {where} episodes)"
        )
        spl = ev.get("metrics", {}).get("spl")
        return text + (f", SPL {spl:.3f}" if spl is not None else "")


def policies_dir() -> Path:
    """Where the pretrained policies are installed."""
    return assets_dir() / POLICIES


def read_zoo_json(root: Path) -> dict[str, Any]:
    """Load ``root/zoo.json``.

    Raises:
        FileNotFoundError: no ``zoo.json``.
        ValueError: not a JSON object or another schema.
    """
    path = root / ZOO_JSON
    info = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(info, dict) or info.get("schema") != ZOO_SCHEMA:
        raise InputError(f"{path}: expected a JSON object with schema {ZOO_SCHEMA}")
    return info


def pretrained() -> list[Pretrained]:
    """Every shipped pretrained policy, sorted by name."""
    root = policies_dir()
    if not root.is_dir():
        return []
    return [
        Pretrained(d.name, d, read_zoo_json(d))
        for d in sorted(root.iterdir())
        if d.is_dir() and (d / ZOO_JSON).is_file()
    ]


def names() -> list[str]:
    """Names of the shipped pretrained policies."""
    return [p.name for p in pretrained()]


def get(name: str) -> Pretrained:
    """The pretrained policy called ``name`` (with or without the ``zoo:`` prefix).

    Raises:
        FileNotFoundError: no such policy; the message lists the names that exist.
    """
    bare = name.removeprefix(PREFIX)
    for p in pretrained():
        if p.name == bare:
            return p
    listed = ", ".join(PREFIX + n for n in names()) or "none"
    raise MissingInputError(
        f"no pretrained policy is called {bare!r}; pretrained policies: {listed} (robot-rl zoo lists them)"
    )


def zoo_bundle(name: str) -> Path:
    """The bundle directory of the pretrained policy ``name`` (``nav_sac`` or ``zoo:nav_sac``)."""
    return get(name).bundle


def is_zoo_name(arg: str | Path) -> bool:
    """Whether a command-line argument names a pretrained policy (``zoo:NAME``)."""
    return str(arg).startswith(PREFIX)


def resolve_bundle(arg: str | Path) -> Path:
    """A bundle argument: ``zoo:NAME`` -> the shipped bundle, anything else -> that path."""
    return zoo_bundle(str(arg)) if is_zoo_name(arg) else Path(arg)
