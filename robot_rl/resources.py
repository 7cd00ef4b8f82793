"""Files shipped inside the package: robot models and the training, sweep and deploy configs.

The repository keeps them in its top-level ``assets/`` and ``launch/`` directories. pyproject.toml
installs those directories as the data packages ``robot_rl._assets`` and ``robot_rl._launch``, so
a wheel carries them and an editable install reads the checkout's files in place. This module
finds them with :mod:`importlib.resources`: nothing here depends on the working directory or on
where the package sits relative to a checkout.

Shipped configs are addressable by name, the file name without ``.yaml`` (``grasp_ppo``,
``sweep_nav_ppo_lr``, ``deploy_nav``). The prefix says what a file is: ``sweep_*`` are sweeps,
``deploy_*`` deploy limits, everything else training configs. The first line of each file is a
comment that describes it in one line (what ``robot-rl configs`` shows).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from robot_rl.errors import MissingInputError

ASSETS_PACKAGE = "robot_rl._assets"
LAUNCH_PACKAGE = "robot_rl._launch"

ConfigKind = Literal["train", "sweep", "deploy"]

#: What each kind is called in messages, and the commands that take it by name.
KINDS: dict[ConfigKind, tuple[str, str]] = {
    "train": ("training config", "robot-rl train NAME"),
    "sweep": ("sweep", "robot-rl sweep NAME"),
    "deploy": (
        "deploy config",
        "robot-rl export RUN --deploy-config NAME, robot-rl deploy BUNDLE --config NAME",
    ),
}

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ShippedConfig:
    """One YAML file of the package's ``launch`` directory.

    Attributes:
        name: The file name without ``.yaml``; what commands accept in place of a path.
        kind: ``train``, ``sweep`` or ``deploy`` (from the name's prefix).
        path: The installed file.
        description: The file's first comment line, without ``#``.
    """

    name: str
    kind: ConfigKind
    path: Path
    description: str


def _package_dir(package: str) -> Path:
    """The directory of an installed data package, as a real path (PyBullet needs files)."""
    root = importlib.resources.files(package)
    if not isinstance(root, Path):
        raise RuntimeError(
            f"{package} is not a directory on disk ({root!r}); install robot_rl unzipped (pip install)"
        )
    return root


def assets_dir() -> Path:
    """The installed robot models (the repository's ``assets/``)."""
    return _package_dir(ASSETS_PACKAGE)


def launch_dir() -> Path:
    """The installed shipped configs (the repository's ``launch/``)."""
    return _package_dir(LAUNCH_PACKAGE)


def asset_path(relative: str) -> Path:
    """A file under the installed assets, e.g. ``asset_path("diff_drive/diff_drive.urdf")``.

    Raises:
        FileNotFoundError: The package holds no such file (a broken install).
    """
    path = assets_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(f"robot_rl asset {relative!r} is missing from the installed package ({path})")
    return path


def config_kind(name: str) -> ConfigKind:
    """The kind of a shipped config from its name: ``sweep_*``, ``deploy_*``, else ``train``."""
    if name.startswith("sweep_"):
        return "sweep"
    if name.startswith("deploy_"):
        return "deploy"
    return "train"


def first_comment_line(path: Path) -> str:
    """The text of the first line of ``path`` if it is a ``#`` comment, else ``""``."""
    with path.open(encoding="utf-8") as f:
        line = f.readline().strip()
    return line.lstrip("#").strip() if line.startswith("#") else ""


def shipped_configs(kind: ConfigKind | None = None) -> list[ShippedConfig]:
    """The shipped configs (all, or those of one ``kind``), sorted by name."""
    out = []
    for path in sorted(launch_dir().glob("*.yaml")):
        k = config_kind(path.stem)
        if kind is None or k == kind:
            out.append(ShippedConfig(path.stem, k, path, first_comment_line(path)))
    return out


def shipped_config(name: str) -> ShippedConfig:
    """The shipped config called ``name`` (any kind).

    Raises:
        FileNotFoundError: No shipped config has that name (the message lists the names).
    """
    for cfg in shipped_configs():
        if cfg.name == name:
            return cfg
    names = ", ".join(c.name for c in shipped_configs())
    raise MissingInputError(f"no shipped config is called {name!r}; shipped configs: {names}")


def looks_like_path(arg: str | Path) -> bool:
    """Whether a config argument is meant as a file: it ends in .yaml/.yml or names a directory."""
    text = str(arg)
    return text.lower().endswith(YAML_SUFFIXES) or "/" in text or "\\" in text


def resolve_config(arg: str | Path, kind: ConfigKind) -> Path:
    """The file a config argument means: an existing file, a path, or a shipped config's name.

    An existing file always wins, so a local ``grasp_ppo`` file shadows the shipped config.
    An argument ending in ``.yaml``/``.yml`` or containing a ``/`` is a path even if it does not
    exist (the loader then reports the missing file). Anything else must be the name of a shipped
    config of ``kind``.

    Args:
        arg: What the user gave (``grasp_ppo``, ``my.yaml``, ``runs/x/config.yaml``).
        kind: What the command expects: ``train``, ``sweep`` or ``deploy``.

    Returns:
        The path to read.

    Raises:
        FileNotFoundError: A path that does not exist (naming the shipped config of the same
            name if there is one), or a name that is no shipped config of ``kind`` (listing
            the names that are, and the command that takes the name if it is of another kind).
    """
    path = Path(arg)
    if path.is_file():
        return path
    what, _ = KINDS[kind]
    names = [c.name for c in shipped_configs(kind)]
    if looks_like_path(arg):
        if path.is_dir():
            raise MissingInputError(f"{what} {str(arg)!r} is a directory, not a YAML file")
        stem = path.stem
        hint = (
            f"; for the shipped {what} of that name give the name alone: {stem}"
            if stem in names
            else f"; shipped {what}s: {', '.join(names)} (robot-rl configs lists them)"
        )
        raise MissingInputError(f"{what} file {str(arg)!r} not found{hint}")
    name = str(arg)
    if name in names:
        return launch_dir() / f"{name}.yaml"
    other = [c for c in shipped_configs() if c.name == name]
    if other:
        other_what, usage = KINDS[other[0].kind]
        raise MissingInputError(
            f"{name!r} is a shipped {other_what}, not a {what} (use it with {usage}); "
            f"shipped {what}s: {', '.join(names)}"
        )
    raise MissingInputError(
        f"{what} {name!r} is neither a file nor a shipped {what}; shipped {what}s: {', '.join(names)} "
        "(robot-rl configs lists them), or give a path to a YAML file"
    )


def config_arg(path: Path) -> str:
    """How to name ``path`` on a command line: a shipped config's name, else the path itself.

    Commands recorded for reproduction (a sweep trial's ``robot-rl train ...``) then work on any
    installation instead of pointing into one site-packages directory.
    """
    try:
        resolved = path.resolve()
        if resolved.parent == launch_dir().resolve() and resolved.suffix == ".yaml":
            return resolved.stem
    except OSError:
        pass
    return str(path)


def source_checkout() -> Path | None:
    """The git checkout robot_rl runs from (an editable install), or ``None`` (an installed wheel).

    Used only to record the commit a run was made with. A wheel installed into a virtual
    environment that happens to sit inside some other git repository must not report that
    repository's commit, hence the check for ``pyproject.toml`` next to the package.
    """
    package = Path(__file__).resolve().parent
    root = package.parent
    if (root / ".git").exists() and (root / "pyproject.toml").is_file():
        return root
    return None
