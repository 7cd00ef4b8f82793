"""``robot-rl configs [NAME]``: list the shipped configs, or print one to copy and edit.

The configs ship inside the package (:mod:`robot_rl.resources`), so this works from any
directory. ``robot-rl configs grasp_ppo > my_grasp.yaml`` gives a file to edit and train with
``robot-rl train my_grasp.yaml``.
"""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  robot-rl configs                              every shipped config with a one-line description
  robot-rl configs grasp_ppo                    print one
  robot-rl configs grasp_ppo > my_grasp.yaml    copy it to edit; then: robot-rl train my_grasp.yaml
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl configs``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("name", nargs="?", help="a shipped config to print (default: list them all)")


def run(args: argparse.Namespace) -> int:
    """Print the list of shipped configs, or the text of the one named."""
    from robot_rl.resources import KINDS, launch_dir, shipped_config, shipped_configs

    if args.name is not None:
        text = shipped_config(args.name).path.read_text(encoding="utf-8")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    configs = shipped_configs()
    width = max(len(c.name) for c in configs)
    print(f"Shipped configs (in {launch_dir()}):")
    for kind, (what, usage) in KINDS.items():
        print(f"\n{what}s ({usage}):")
        for c in configs:
            if c.kind == kind:
                print(f"  {c.name:<{width}}  {c.description}")
    print(
        "\nA name stands for the shipped file wherever a config is taken; a path means your own file."
        "\nrobot-rl configs NAME prints one (robot-rl configs grasp_ppo > my.yaml to edit a copy)."
    )
    return 0
