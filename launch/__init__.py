"""Shipped training, sweep and deploy configs, installed as the package ``robot_rl._launch``.

This directory is mapped to that package in pyproject.toml, so a wheel carries it and an editable
install reads it in place. ``robot-rl configs`` lists the files; every verb that takes a config
accepts one by name (the file name without ``.yaml``), see :mod:`robot_rl.resources`.
"""
