"""Shared helpers of the ROS 2 tests: a DDS domain per test (loopback only) and the nav bundle."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
NAV_BUNDLE = ROOT / "assets/policies/nav_sac/bundle"
_COUNTER = itertools.count()


def fresh_domain_id() -> int:
    """A DDS domain id of this process and test (isolates parallel pytest workers), in 1..232."""
    return 1 + (os.getpid() * 31 + next(_COUNTER)) % 232


@pytest.fixture
def domain_id(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.delenv("CYCLONEDDS_URI", raising=False)  # always the loopback-only config
    return fresh_domain_id()


@pytest.fixture(scope="session")
def nav_manifest() -> dict:
    return json.loads((NAV_BUNDLE / "manifest.json").read_text())
