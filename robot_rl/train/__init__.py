"""Training and evaluation with Stable-Baselines3: configs, run directories, callbacks, plots.

Heavy imports (torch, SB3) happen inside the modules that need them, so importing
``robot_rl.train`` itself is cheap.
"""
