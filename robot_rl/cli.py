"""``robot-rl <verb>``: a thin command line; each verb lives in its own module.

A verb module exposes ``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported
only for the verb being run, so ``robot-rl --help`` answers without importing torch.

Errors: a :class:`robot_rl.errors.InputError` (bad input: a config key, an argument, a file that
does not exist) prints one line and exits 2; any other exception is a bug and prints its
traceback with a request to report it, exit code 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from robot_rl.errors import InputError

#: verb -> (module, one-line summary)
VERBS: dict[str, tuple[str, str]] = {
    "demo": (
        "robot_rl.commands_demo",
        "the main job: train, evaluate, export and verify a grasping policy",
    ),
    "envs": ("robot_rl.envs.commands", "list the registered environments with their spaces and dt"),
    "bench": (
        "robot_rl.bench",
        "benchmarks: env speed vs. a bare PyBullet loop, training, deploy, sweep, physics fidelity",
    ),
    "configs": ("robot_rl.commands_configs", "list the shipped configs, or print one to copy and edit"),
    "train": (
        "robot_rl.train.commands_train",
        "train a policy from a shipped config (by name) or a YAML file",
    ),
    "sweep": (
        "robot_rl.sweep.commands_sweep",
        "seeds and hyperparameter sweeps on Ray Tune + Optuna (needs robot_rl[ray])",
    ),
    "evaluate": (
        "robot_rl.commands_evaluate",
        "evaluate a run, model or bundle (zoo:NAME) on fresh seeded episodes",
    ),
    "plot": ("robot_rl.train.commands_plot", "plot learning curves of one or more runs"),
    "export": ("robot_rl.deploy.commands_export", "export a trained policy (ONNX, TorchScript, C)"),
    "verify": ("robot_rl.deploy.commands_verify", "verify an exported bundle against SB3"),
    "deploy": ("robot_rl.deploy.commands_deploy", "run an exported policy in the safe control loop"),
    "sim-robot": (
        "robot_rl.deploy.ros2.commands_sim_robot",
        "a PyBullet robot speaking ROS 2 in real time, to rehearse deploy --hardware ros2",
    ),
    "replay": (
        "robot_rl.deploy.ros2.commands_replay",
        "re-run a recorded deployment (deploy --record) offline: action diff, out-of-distribution inputs",
    ),
    "zoo": ("robot_rl.commands_zoo", "list the pretrained policies (zoo:NAME) with their measured results"),
    "keygen": ("robot_rl.deploy.commands_keygen", "make an Ed25519 key pair to sign and trust bundles"),
    "episodes": (
        "robot_rl.envs.commands_episodes",
        "freeze navigation episodes (procedural layouts or a ROS map) into a replayable episode set",
    ),
    "benchmark": (
        "robot_rl.benchmark.commands",
        "benchmark navigation agents on a frozen episode set: paired statistics, trajectory maps",
    ),
}


def _top_parser() -> argparse.ArgumentParser:
    width = max(len(v) for v in VERBS)
    verbs = "\n".join(f"  {verb:<{width}}  {summary}" for verb, (_, summary) in VERBS.items())
    parser = argparse.ArgumentParser(
        prog="robot-rl",
        description="Train, evaluate and export robot policies in PyBullet.",
        epilog=f"verbs:\n{verbs}\n\nRun 'robot-rl VERB --help' for a verb's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("verb", nargs="?", choices=list(VERBS), metavar="VERB", help="what to do")
    return parser


def build_verb_parser(verb: str) -> tuple[argparse.ArgumentParser, object]:
    """Parser of one verb, and its module (imported now)."""
    module_name, summary = VERBS[verb]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"robot-rl {verb}", description=summary)
    module.add_arguments(parser)
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``robot-rl`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0 if argv else 2
    if argv[0] == "--version":
        from robot_rl import __version__

        print(f"robot-rl {__version__}")
        return 0
    if argv[0] not in VERBS:
        top.error(f"unknown verb {argv[0]!r}; choose one of {', '.join(VERBS)}")
    parser, module = build_verb_parser(argv[0])
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)  # type: ignore[attr-defined]
    except InputError as exc:
        # bad input: one clear line, no traceback (ROBOT_RL_DEBUG=1 shows it)
        if os.environ.get("ROBOT_RL_DEBUG") == "1":
            raise
        print(f"robot-rl {argv[0]}: error: {exc}", file=sys.stderr)
        return 2
    except Exception:
        # anything else is a bug in robot-rl: the whole traceback, and how to report it
        traceback.print_exc()
        print(
            f"robot-rl {argv[0]}: internal error (a bug, not your input). Please report it with the "
            "command line and the traceback above.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
