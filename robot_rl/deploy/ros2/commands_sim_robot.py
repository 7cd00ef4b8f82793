"""``robot-rl sim-robot ENV_ID --ros2 [--seed S] [--episodes N] [--inject F] [--domain-id D] [--set-env KV]``.

A PyBullet MobileNav or PandaGrasp robot speaking ROS 2 in real time
(:mod:`robot_rl.deploy.ros2.sim_robot`): the rehearsal partner of ``robot-rl deploy BUNDLE
--hardware ros2``. Loopback only unless ``--interface`` names a network interface. Prints one line
per finished episode and a summary. ``--set-env obs_mode=depth`` gives the arm its hand camera
(``/camera/depth/image_rect_raw`` and ``camera_info``) for a depth-camera bundle; a
``MobileNavDiscrete-v0`` bundle drives ``robot_rl/MobileNav-v0`` (the robot takes twists).
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("env_id", help="environment id: robot_rl/MobileNav-v0 or robot_rl/PandaGrasp-v0")
    parser.add_argument(
        "--ros2", action="store_true", required=True, help="speak ROS 2 topics (the only transport so far)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (then +1, ...)")
    parser.add_argument("--episodes", type=int, default=1, help="episodes to run, then exit (default 1)")
    parser.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="FAULTS",
        help="sensor stream faults: drop=P, delay=S, stop@T, nan@T (T s after the start; NaN ranges, or the "
        "arm's object pose), comma-separated",
    )
    parser.add_argument("--domain-id", type=int, default=0, help="DDS domain (ROS_DOMAIN_ID), 0..232")
    parser.add_argument(
        "--interface",
        help="network interface to join (default: this host only: loopback, no multicast)",
    )
    parser.add_argument(
        "--command-hz", type=float, default=100.0, help="motor controller rate in Hz (default 100)"
    )
    parser.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for the first /cmd_vel (default 60)"
    )
    parser.add_argument(
        "--set-env",
        dest="env_sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env kwarg (value parsed as YAML), e.g. --set-env obs_mode=depth for the arm's hand camera",
    )
    parser.add_argument("--json", action="store_true", help="print episode outcomes as JSON lines")


def run(args: argparse.Namespace) -> int:
    from robot_rl.configfile import apply_overrides
    from robot_rl.deploy.export import _make_env
    from robot_rl.deploy.ros2 import require
    from robot_rl.deploy.ros2.sim_robot import SimRobot, TransportFaults

    require()
    faults = TransportFaults.parse(args.inject)
    env_kwargs = apply_overrides({}, args.env_sets, flag="--set-env")

    def report(e) -> None:
        if args.json:
            print(
                json.dumps({"seed": e.seed, "steps": e.steps, "return": e.ret, "success": e.success}),
                flush=True,
            )
        else:
            print(f"episode seed {e.seed}: {'success' if e.success else 'failure'} after {e.steps} steps, "
                  f"return {e.ret:.2f}", flush=True)  # fmt: skip

    robot = SimRobot(
        _make_env(args.env_id, env_kwargs), args.seed, args.episodes, faults, args.domain_id, args.interface,
        args.command_hz, report=report,
    )  # fmt: skip
    print(
        f"sim-robot {args.env_id}: domain {args.domain_id}, {robot.node.network}; waiting for a command",
        flush=True,
    )
    try:
        done = robot.run(max_wait_s=args.wait)
    finally:
        robot.close()
    ok = sum(bool(e.success) for e in done)
    if not args.json:
        print(f"sim-robot: {ok}/{len(done)} episodes succeeded")
    return 0
