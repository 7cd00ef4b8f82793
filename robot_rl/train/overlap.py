"""Collect while the learner trains: off-policy gradient steps overlap the env step (both cores).

SB3's off-policy loop is strictly sequential: pick actions, step the envs, store the transition,
then run the gradient steps, while the env worker processes of a ``SubprocVecEnv`` sit idle.
With ``train.collect_while_training`` the gradient steps the loop asks for are deferred and run
*while* the envs step: :class:`OverlapVecEnv` sends the actions (``step_async``), runs the pending
gradient steps in this process, then collects the results (``step_wait``). The learner computes on
one core and the env workers on the other.

What changes, exactly: the action of step ``t`` comes from the policy after the gradient steps of
step ``t - 2`` instead of ``t - 1`` (one update older); every gradient step still sees the same
replay buffer contents as in SB3's order (the transitions up to the step that scheduled it), every
callback (evaluation, checkpoint) sees the same parameters as in SB3's order, and the number of
gradient steps is the same (the last pending one runs when training ends, :func:`flush`). A run is
as reproducible from its seed as before: the schedule is fixed, nothing depends on timing.
"""

from __future__ import annotations

import time
from typing import Any

from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from robot_rl.errors import InputError

#: Learners whose loop this applies to (SB3's ``OffPolicyAlgorithm``).
OFF_POLICY = ("sac", "td3", "tqc", "dqn")


class CollectWhileTraining:
    """Mixin before an SB3 off-policy class: ``train()`` is deferred to the next env step."""

    _pending_train: tuple[int, int] | None = None
    #: Wall seconds spent in gradient steps (they run inside the env step, so the trainer's timing
    #: reads them here to split rollout and gradient time).
    overlapped_train_s: float = 0.0

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        """Schedule the gradient steps; they run during the next env step (:meth:`run_pending_train`)."""
        self.run_pending_train()  # a loop that trains twice in a row keeps both, in order
        self._pending_train = (int(gradient_steps), int(batch_size))

    def run_pending_train(self) -> None:
        """Run the scheduled gradient steps now (if any)."""
        pending, self._pending_train = self._pending_train, None
        if pending is not None:
            started = time.monotonic()
            super().train(gradient_steps=pending[0], batch_size=pending[1])  # type: ignore[misc]
            self.overlapped_train_s += time.monotonic() - started

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_pending_train", "overlapped_train_s"]  # type: ignore[misc]


def overlapped_class(cls: Any) -> Any:
    """``cls`` with :class:`CollectWhileTraining` in front (its ``load`` builds the same)."""
    return type(f"CollectWhileTraining{cls.__name__}", (CollectWhileTraining, cls), {})


class OverlapVecEnv(VecEnvWrapper):
    """Outermost vec env of a run with ``collect_while_training``: runs the learner's pending
    gradient steps between ``step_async`` and ``step_wait`` of the envs below."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.model: CollectWhileTraining | None = None

    def step_async(self, actions: Any) -> None:
        self.venv.step_async(actions)
        if self.model is not None:
            self.model.run_pending_train()

    def step_wait(self) -> Any:
        return self.venv.step_wait()

    def reset(self) -> Any:
        return self.venv.reset()


def check(algo: str, vec_env: str) -> None:
    """Refuse ``collect_while_training`` where it can never overlap anything.

    ``vec_env: subproc`` with one env runs it in this process (as :func:`robot_rl.train.sb3.make_vec_env`
    always does): accepted, so ``--set env.n_envs=1`` works on a shipped config; nothing overlaps then,
    and the run is the same.

    Raises:
        InputError: an on-policy learner, or ``vec_env: dummy``.
    """
    if algo not in OFF_POLICY:
        raise InputError(
            f"train.collect_while_training=true needs an off-policy learner ({', '.join(OFF_POLICY)}); "
            f"algo.name={algo!r} collects whole rollouts between updates"
        )
    if vec_env != "subproc":
        raise InputError(
            "train.collect_while_training=true needs env.vec_env=subproc (the envs must step in worker "
            f"processes while this one trains); got vec_env={vec_env!r}"
        )


def attach(model: Any) -> Any:
    """Point the run's :class:`OverlapVecEnv` at ``model``; returns ``model``."""
    env = model.get_env()
    while env is not None and not isinstance(env, OverlapVecEnv):
        env = getattr(env, "venv", None)
    if env is None:
        raise RuntimeError("collect_while_training: the model's env has no OverlapVecEnv")
    env.model = model
    return model


def flush(model: Any) -> None:
    """Run a deferred gradient step left when the learner's loop ended (no-op for other models)."""
    if isinstance(model, CollectWhileTraining):
        model.run_pending_train()
