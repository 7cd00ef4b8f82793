"""Shared test set-up: headless plotting, quiet PyBullet."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
