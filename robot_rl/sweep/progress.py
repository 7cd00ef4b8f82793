"""Tune callback of ``robot-rl sweep``: a bar of ended trials on a terminal, a line per trial event.

Tune's own status tables are switched off (``verbose=0``); these lines say what a user wants to
know: which trial ended, how (finished, stopped early, failed), at how many steps, with what
metric, and when a trial whose process died is being retried.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ray.tune import Callback

from robot_rl.sweep.trial import TRIALS, trial_params


def fmt(value: Any) -> str:
    """A parameter value for a short label (floats to 3 significant digits)."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


class SweepProgress(Callback):  # type: ignore[misc]
    """Progress of a sweep of ``total`` trials, tracking the best ``metric`` so far."""

    def __init__(self, total: int, metric: str, mode: str, sweep_dir: str) -> None:
        self.total, self.metric, self.mode, self.sweep_dir = total, metric, mode, sweep_dir
        self.best: float | None = None
        self.ended: set[str] = set()
        self.bar: Any = None

    def __getstate__(self) -> dict[str, Any]:  # saved with the experiment: no terminal handles
        return {**self.__dict__, "bar": None}

    def _bar(self) -> Any:
        if self.bar is None and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=len(self.ended), unit="trial", dynamic_ncols=True)
        return self.bar

    def say(self, text: str) -> None:
        """Print one line above the bar (or plainly without a terminal)."""
        bar = self._bar()
        if bar is not None:
            bar.write(f"[sweep] {text}")
        else:
            print(f"[sweep] {text}", flush=True)

    def describe(self, trial: Any) -> str:
        """``trial <id> (lr=0.0003, n_epochs=10, seed #1)``."""
        params, seed_index = trial_params(trial.config)
        shown = ", ".join(f"{k.rsplit('.', 1)[-1]}={fmt(v)}" for k, v in params.items())
        return f"trial {trial.trial_id} ({shown + ', ' if shown else ''}seed #{seed_index})"

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        value = result.get(self.metric)
        if isinstance(value, int | float) and value == value:
            better = self.best is None or (value > self.best if self.mode == "max" else value < self.best)
            if better:
                self.best = float(value)
        bar = self._bar()
        if bar is not None and self.best is not None:
            bar.set_postfix_str(f"best {self.metric} {self.best:.3f}")

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        value = result.get(self.metric, float("nan"))
        steps = int(result.get("num_timesteps", 0))
        self._end(trial, f"{self._how(trial.trial_id, steps)} at {steps} steps: {self.metric} {value:.3f}")

    def _how(self, trial_id: str, steps: int) -> str:
        """``finished`` (budget trained, or solved with stop_on_success) or ``stopped early``."""
        info_path = Path(self.sweep_dir) / TRIALS / trial_id / "run.json"
        try:
            info = json.loads(info_path.read_text())
        except (OSError, ValueError):
            return "ended"
        done = info.get("status") == "finished" or steps >= int(info.get("total_timesteps", 0))
        return "finished" if done else "stopped early"

    def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.say(f"{self.describe(trial)} failed (its process died?); retrying from its last checkpoint")

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._end(trial, f"FAILED after {trial.num_failures} attempt(s); see {trial.error_file}")

    def _end(self, trial: Any, text: str) -> None:
        if trial.trial_id not in self.ended:
            self.ended.add(trial.trial_id)
            bar = self._bar()
            if bar is not None:
                bar.update(1)
        self.say(f"{self.describe(trial)} {text} [{len(self.ended)}/{self.total}]")

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
