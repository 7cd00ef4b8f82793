"""``robot-rl benchmark nav``: navigation agents on frozen episode sets, with paired statistics.

Modules: :mod:`~robot_rl.benchmark.metrics` (per-episode metrics, failure types, statistics),
:mod:`~robot_rl.benchmark.agents` (the Agent protocol and the agents the command line names),
:mod:`~robot_rl.benchmark.runner` (episodes, in parallel), :mod:`~robot_rl.benchmark.report`
(CSV, strict JSON, leaderboard, plots) and :mod:`~robot_rl.benchmark.commands` (the verb).
Also here: :mod:`~robot_rl.benchmark.fidelity` (``robot-rl bench fidelity``) and
:mod:`~robot_rl.benchmark.sources` (a run or a bundle loaded for evaluation, shared with
``robot-rl evaluate``).
"""
