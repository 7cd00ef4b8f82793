"""Seeds and hyperparameter sweeps on Ray Tune (``robot-rl sweep``; needs ``pip install 'robot_rl[ray]'``).

* :mod:`robot_rl.sweep.config` reads and validates a sweep file (``launch/sweep_*.yaml``) and
  expands its search space; it needs no Ray.
* :mod:`robot_rl.sweep.trial` is the Tune trainable: one trial is one ordinary run directory.
* :mod:`robot_rl.sweep.runner` starts (or joins) Ray, runs or resumes the Tune experiment.
* :mod:`robot_rl.sweep.summary` writes the trial table, the best config as a launch file and a plot.
"""
