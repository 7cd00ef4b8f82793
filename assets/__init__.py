"""Robot models (URDFs, meshes) shipped with robot_rl, installed as the package ``robot_rl._assets``.

This directory is mapped to that package in pyproject.toml, so a wheel carries it and an editable
install reads it in place. Code finds a file with :func:`robot_rl.resources.asset_path`.
"""
