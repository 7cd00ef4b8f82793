"""``robot-rl bench``: benchmarks that print figures (never timed tests).

Targets:
    ``env ID``     env steps/s and simulated-time/wall-time factor of ``env.step`` with random
                   actions, against a bare PyBullet loop (the same motor commands, then
                   ``stepSimulation`` x substeps, nothing else) over the *same scene* measured in
                   the same run, and their ratio; then the
                   resident-memory growth over N resets. For the grasp envs, if panda-gym is
                   installed (extra ``bench``), PandaPickAndPlace-v3 is measured in the same run.
    ``train ...``  dispatched to :mod:`robot_rl.train.bench`.
    ``deploy ...`` dispatched to :mod:`robot_rl.deploy.bench`.
    ``sweep ...``  dispatched to :mod:`robot_rl.sweep.bench` (seeds on Ray vs. one after another).
    ``fidelity ...`` dispatched to :mod:`robot_rl.benchmark.fidelity` (a physics setting against
                   the baseline on the fidelity guards, and its speed-up).

Rounds alternate env and bare loop so that both see the same machine load; the median of the
rounds is reported. The bare loop replays the motor commands the env sent (recorded in an untimed
pass with the same seed and actions), so both loops simulate the same motion: an arm at rest is
cheaper to simulate than a moving one, which would flatter the bare loop.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from robot_rl.errors import InputError
from robot_rl.jsonio import dumps_strict

DISPATCH = {
    "train": "robot_rl.train.bench",
    "deploy": "robot_rl.deploy.bench",
    "sweep": "robot_rl.sweep.bench",
    "fidelity": "robot_rl.benchmark.fidelity",
}


@dataclass
class SpeedFigures:
    """Median figures of one benchmarked loop."""

    name: str
    steps_per_s: float
    realtime_factor: float
    dt: float
    substeps: int


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux ``/proc``)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


#: Session functions through which robots send motor commands; recorded and replayed.
MOTOR_CALLS = ("setJointMotorControlArray", "setJointMotorControl2", "setJointMotorControlMultiDofArray")

Recording = list[list[tuple[str, tuple[Any, ...], dict[str, Any]]]]


def _record_motor_commands(env: Any, steps: int, seed: int) -> Recording:
    """Run ``steps`` env steps (untimed) and record the motor commands sent in each one."""
    sim = env.unwrapped.sim
    per_step: Recording = []
    current: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        original = getattr(sim, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            current.append((name, args, kwargs))
            return original(*args, **kwargs)

        return call

    for name in MOTOR_CALLS:
        sim.__dict__[name] = recorder(name)
    try:
        env.reset(seed=seed)
        actions = [env.action_space.sample() for _ in range(min(steps, 512))]
        for i in range(steps):
            current = []
            _, _, terminated, truncated, _ = env.step(actions[i % len(actions)])
            per_step.append(current)
            if terminated or truncated:
                env.reset()
    finally:
        for name in MOTOR_CALLS:
            sim.__dict__.pop(name, None)  # the session re-binds the plain function on next use
    return per_step


def _time_bare(sim: Any, substeps: int, recording: Recording) -> float:
    """Seconds for the recorded motor commands + ``stepSimulation`` x substeps, nothing else.

    Replaying the env's own motor commands makes the bare loop do the same physics work as the
    env (an arm at rest is cheaper to simulate than a moving one); it never resets, so at episode
    boundaries the motors drive the arm to the next episode's targets instead.
    """
    calls = [[(getattr(sim, n), a, k) for n, a, k in step] for step in recording]
    step = sim.stepSimulation
    start = time.perf_counter()
    for commands in calls:
        for fn, args, kwargs in commands:
            fn(*args, **kwargs)
        for _ in range(substeps):
            step()
    return time.perf_counter() - start


def bench_env(
    env_id: str, steps: int, rounds: int, seed: int = 0, warm_resets: int = 0, **kwargs: Any
) -> list[SpeedFigures]:
    """Measure a robot_rl env against the bare PyBullet loop over its own scene.

    ``warm_resets`` resets (seeds from 10,000) come first, untimed: the env as a training run
    leaves it after that many episodes (with ``random_train``, up to that many objects loaded).

    Returns:
        ``[env figures, bare-loop figures]``.
    """
    from robot_rl.envs.make import make_env

    env = make_env(env_id, disable_env_checker=True, **kwargs)
    u: Any = env.unwrapped
    for i in range(warm_resets):
        env.reset(seed=10_000 + i)
    env.action_space.seed(seed)
    recording = _record_motor_commands(env, steps, seed)
    from robot_rl.envs.speed import time_env

    env_times, bare_times = [], []
    for _ in range(rounds):
        env.action_space.seed(seed)
        env.reset(seed=seed)
        env_times.append(time_env(env, steps))
        env.reset(seed=seed)
        bare_times.append(_time_bare(u.sim, u.timing.substeps, recording))
    env.close()
    dt, sub = u.timing.dt, u.timing.substeps
    out = []
    for name, times in ((env_id, env_times), ("bare PyBullet loop, same scene", bare_times)):
        sps = steps / statistics.median(times)
        out.append(SpeedFigures(name, sps, sps * dt, dt, sub))
    return out


def bench_panda_gym(steps: int, rounds: int) -> SpeedFigures | None:
    """PandaPickAndPlace-v3 figures if panda-gym is importable, else ``None``."""
    try:
        import gymnasium as gym
        import panda_gym  # noqa: F401
    except ImportError:
        return None
    from robot_rl.sim.session import suppress_c_output

    with suppress_c_output():  # panda-gym prints its GUI options and PyBullet's banner
        env = gym.make("PandaPickAndPlace-v3", disable_env_checker=True)
    from robot_rl.envs.speed import time_env

    env.reset(seed=0)
    times = []
    for _ in range(rounds):
        env.reset(seed=0)
        times.append(time_env(env, steps))
    u: Any = env.unwrapped
    dt = float(getattr(u, "dt", None) or u.sim.dt)
    sub = int(getattr(u.sim, "n_substeps", 0))
    env.close()
    sps = steps / statistics.median(times)
    return SpeedFigures("PandaPickAndPlace-v3 (panda-gym)", sps, sps * dt, dt, sub)


def bench_resets(env_id: str, resets: int, seed: int = 0, **kwargs: Any) -> tuple[float, float]:
    """RSS before and after ``resets`` resets (MiB); 50 warm-up resets are not counted."""
    from robot_rl.envs.make import make_env

    env = make_env(env_id, disable_env_checker=True, **kwargs)
    for i in range(50):
        env.reset(seed=seed + i)
    before = rss_mb()
    for i in range(resets):
        env.reset(seed=seed + 50 + i)
        if i % 10 == 0:
            env.step(env.action_space.sample())
    after = rss_mb()
    env.close()
    return before, after


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl bench``."""
    parser.add_argument("target", choices=["env", *DISPATCH], help="what to benchmark")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="arguments of the target")


def _env_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="robot-rl bench env", description=__doc__.split("\n")[0])
    p.add_argument("env_id", help="e.g. robot_rl/PandaGrasp-v0")
    p.add_argument("--steps", type=int, default=2000, help="control steps per round (default 2000)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; median reported")
    p.add_argument("--resets", type=int, default=5000, help="resets for the memory figure (0: skip)")
    p.add_argument(
        "--warm-resets", type=int, default=0,
        help="untimed resets before the timing, as after that many training episodes (default 0)",
    )  # fmt: skip
    p.add_argument("--kwargs", default="{}", help='env kwargs as JSON, e.g. \'{"object_set": "cube"}\'')
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return p


def run_env(argv: list[str]) -> int:
    """``robot-rl bench env``: print the speed table and the memory figure."""
    args = _env_parser().parse_args(argv)
    if args.steps < 10 or args.rounds < 1 or args.resets < 0 or args.warm_resets < 0:
        raise InputError("--steps must be >= 10, --rounds >= 1, --resets and --warm-resets >= 0")
    kwargs = json.loads(args.kwargs)
    env_fig, bare_fig = bench_env(
        args.env_id, args.steps, args.rounds, warm_resets=args.warm_resets, **kwargs
    )
    rows = [env_fig, bare_fig]
    # panda-gym is the reference for the arm task only.
    pg = bench_panda_gym(args.steps, args.rounds) if "Grasp" in args.env_id else None
    if pg is not None:
        rows.append(pg)
    print(f"{'loop':<36} {'steps/s':>9} {'sim/wall':>9} {'dt [s]':>7} {'substeps':>8}")
    for r in rows:
        print(f"{r.name:<36} {r.steps_per_s:>9.1f} {r.realtime_factor:>9.1f} {r.dt:>7.3f} {r.substeps:>8d}")
    ratio = env_fig.steps_per_s / bare_fig.steps_per_s
    print(f"env / bare-loop ratio: {ratio:.3f} (target >= 0.8)")
    if pg is not None:
        fidelity = f"{env_fig.substeps / env_fig.dt:.0f} Hz vs {pg.substeps / pg.dt:.0f} Hz physics"
        speedup = env_fig.realtime_factor / pg.realtime_factor
        print(f"real-time factor vs panda-gym: {speedup:.2f}x ({fidelity})")
    result: dict[str, Any] = {"rows": [asdict(r) for r in rows], "ratio": ratio}
    if args.resets:
        before, after = bench_resets(args.env_id, args.resets, **kwargs)
        print(f"RSS over {args.resets} resets: {before:.1f} -> {after:.1f} MiB (+{after - before:.1f} MiB)")
        result["rss_mb"] = {"resets": args.resets, "before": before, "after": after}
    if args.json:
        args.json.write_text(dumps_strict(result, indent=2))
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch ``robot-rl bench TARGET ...``."""
    if args.target == "env":
        return run_env(args.rest)
    module = importlib.import_module(DISPATCH[args.target])
    parser = argparse.ArgumentParser(prog=f"robot-rl bench {args.target}")
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args.rest)) or 0)
