"""Split a py-spy profile of ``robot-rl train`` (or of an env loop) into where the time goes.

Record the stacks with py-spy's raw (collapsed) format, then split them::

    py-spy record -r 100 -f raw -o prof.txt -- robot-rl train nav_sac --set train.total_timesteps=6000
    python tools/profile_split.py prof.txt --rate 100

Every sample is put in one bucket, by the first rule its stack matches:

* ``evaluation``: inside the training run's held-out evaluation (``SuccessEvalCallback.evaluate``);
* ``checkpoints``: writing checkpoints and models;
* ``warm start``: scripted demonstrations and behaviour cloning (``robot_rl/train/demos.py``);
* ``gradient steps``: the learner's ``train()`` (SB3 / sb3-contrib);
* while collecting rollouts (``collect_rollouts``, or any env step outside the above):
  ``physics`` (``PyBulletSession.step``: ``stepSimulation`` x substeps), ``rendering`` (camera
  images), ``lidar`` (``rayTestBatch``), ``env resets`` (new layout, re-posing), ``env Python``
  (observation packing, reward, IK, action checks: the rest of ``robot_rl/envs``) and ``SB3
  rollout overhead`` (policy forward pass, buffers, VecNormalize, vec env, callbacks);
* ``start-up and other``: imports, building the envs and the model, everything else.

Samples of other threads than the main one (``Thread._bootstrap`` at the root: TensorBoard's
writer thread waiting on its queue, which py-spy does not always see as idle) are counted apart
and left out of the shares: the main thread's samples add up to the wall time.
"""

from __future__ import annotations

import argparse
import collections
from collections.abc import Iterable
from pathlib import Path

BUCKETS = (
    "physics (stepSimulation)",
    "rendering (camera images)",
    "lidar (rayTestBatch)",
    "env resets",
    "env Python (obs packing, reward, IK, checks)",
    "SB3 rollout overhead (policy forward, buffers, VecNormalize)",
    "gradient steps",
    "evaluation",
    "checkpoints",
    "warm start (demos, BC)",
    "start-up and other",
)
#: Samples of threads other than the main thread (left out of the shares).
OTHER_THREADS = "other threads (left out)"


def _frame(text: str) -> tuple[str, str]:
    """``(function, file)`` of one py-spy frame ``"function (file:line)"``."""
    name, _, rest = text.partition(" (")
    return name.strip(), rest.rpartition(":")[0]


def bucket(stack: Iterable[str]) -> str:
    """The bucket of one sampled stack (frames root first, py-spy's ``function (file:line)``)."""
    frames = [_frame(f) for f in stack]
    if frames and frames[0][0] == "Thread._bootstrap":
        return OTHER_THREADS
    names = [n for n, _ in frames]
    files = [f for _, f in frames]
    if any(n.startswith("SuccessEvalCallback.") and n.endswith("evaluate") for n in names):
        return "evaluation"
    if any(n.startswith("CheckpointCallback.") or n in ("save_final", "save_checkpoint") for n in names):
        return "checkpoints"
    if any(f.endswith("robot_rl/train/demos.py") for f in files):
        return "warm start (demos, BC)"
    learner = ("stable_baselines3/", "sb3_contrib/")
    if any(n.endswith(".train") and any(x in f for x in learner) for n, f in frames):
        return "gradient steps"
    in_env = any("robot_rl/envs/" in f for f in files)
    if any(n.endswith("collect_rollouts") for n in names) or in_env:
        if "PyBulletSession.step" in names or "stepSimulation" in names:
            return "physics (stepSimulation)"
        if any("getCameraImage" in n or n.endswith("._grab") for n in names):
            return "rendering (camera images)"
        if any(n.endswith("._cast") for n in names):
            return "lidar (rayTestBatch)"
        if any(n.endswith(".reset") and "robot_rl/envs/" in f for n, f in frames):
            return "env resets"
        if in_env:
            return "env Python (obs packing, reward, IK, checks)"
        return "SB3 rollout overhead (policy forward, buffers, VecNormalize)"
    return "start-up and other"


def split(lines: Iterable[str]) -> collections.Counter[str]:
    """Samples per bucket of py-spy raw output (``frame;frame;... count`` per line)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            counts[bucket(stack.split(";"))] += int(count)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", type=Path, help="py-spy record -f raw output")
    parser.add_argument("--rate", type=float, default=100.0, help="py-spy's sampling rate (-r), Hz")
    args = parser.parse_args(argv)
    with args.profile.open() as fh:
        counts = split(fh)
    total = sum(counts[name] for name in BUCKETS)
    if not total:
        raise SystemExit(f"{args.profile}: no samples")
    for name in BUCKETS:
        if counts[name]:
            print(f"{name:62s} {100 * counts[name] / total:5.1f} %  {counts[name] / args.rate:8.1f} s")
    print(f"{'total (main thread)':62s} 100.0 %  {total / args.rate:8.1f} s ({total} samples)")
    if counts[OTHER_THREADS]:
        print(f"{OTHER_THREADS:62s}          {counts[OTHER_THREADS] / args.rate:8.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
