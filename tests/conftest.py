"""Shared fixtures. Tests on real data read ../shared/data: under CI=true it must be there
(the test fails), elsewhere such tests skip with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posekit.paths import find_shared

SHARED = find_shared()


def _need_shared() -> Path:
    if SHARED is None:
        if os.environ.get("CI") == "true":
            pytest.fail("../shared/data is required under CI=true but was not found")
        pytest.skip("reason: ../shared/data not found (real-data test)")
    return SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _need_shared()


@pytest.fixture(scope="session")
def finediving(shared_data: Path):
    from posekit.datasets import FineDiving

    return FineDiving(shared_data / "finediving" / "annotations")
