"""What export needs from a run directory or a bare model zip: :func:`robot_rl.runs.load_run`.

One run-directory reader serves training, evaluation and export (``robot_rl.runs``, a layer below
both ``train`` and ``deploy``); this module only names its result for the exporter.
"""

from __future__ import annotations

from pathlib import Path

from robot_rl.runs import LoadedRun, load_run

#: A trained model with everything the exporter needs (model, vecnormalize, algo, env_id,
#: env_kwargs, num_timesteps, eval, run_dir, model_path).
PolicySource = LoadedRun


def load_source(path: str | Path, which: str = "best") -> PolicySource:
    """Load a run directory or a bare model ``.zip`` with ``run.json`` next to it.

    Raises:
        FileNotFoundError: the path, ``run.json`` or the model file is missing.
        ValueError: ``which`` is not ``"best"``/``"final"`` or ``run.json`` names an unknown algo.
    """
    return load_run(path, which=which)
