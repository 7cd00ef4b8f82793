"""``robot-rl zoo [NAME]``: the pretrained policies shipped with the package, with their results.

Each is an exported, verified bundle (:mod:`robot_rl.zoo`); ``zoo:NAME`` names it wherever
``robot-rl evaluate``, ``robot-rl verify`` and ``robot-rl deploy`` take a bundle.
"""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  robot-rl zoo                                          every pretrained policy, its result and command
  robot-rl zoo nav_sac                                  one in full: where it is, how it was made and measured
  robot-rl evaluate zoo:nav_sac --episodes 200 --split test
  robot-rl verify zoo:grasp_ppo
  robot-rl deploy zoo:nav_sac --duration 30
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl zoo``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("name", nargs="?", help="a pretrained policy to show in full (default: list them)")


def run(args: argparse.Namespace) -> int:
    """List the pretrained policies, or show one."""
    from robot_rl.zoo import PREFIX, get, policies_dir, pretrained

    if args.name is not None:
        p = get(args.name)
        info = p.info
        print(f"{PREFIX}{p.name}: {info.get('description', '')}")
        print(f"  bundle:     {p.bundle}")
        print(f"  env:        {info.get('env_id')} (config {info.get('config')}, {info.get('algo')})")
        print(f"  result:     {p.summary_line()}")
        for key, value in p.evaluation.get("metrics", {}).items():
            print(f"    {key:<22} {value:.4g}")
        selection = info.get("selection", {})
        if selection:
            print(f"  selection:  {selection.get('detail', '')}")
        for what, command in p.commands.items():
            print(f"  {what + ':':<11} {command}")
        for note in info.get("notes", []):
            print(f"  note:       {note}")
        return 0
    policies = pretrained()
    if not policies:
        print(f"no pretrained policies are installed (looked in {policies_dir()})")
        return 0
    width = max(len(PREFIX + p.name) for p in policies)
    print(f"Pretrained policies (in {policies_dir()}):")
    for p in policies:
        print(f"  {PREFIX + p.name:<{width}}  {p.info.get('task', '')}: {p.summary_line()}")
        print(f"  {'':<{width}}  measured with: {p.commands.get('evaluate', '')}")
    print(
        "\nzoo:NAME works wherever robot-rl evaluate, verify and deploy take a bundle;"
        "\nrobot-rl zoo NAME shows how one was trained, exported and measured."
    )
    return 0
