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


# A training config small enough for a test: 20 generated dives, a 16-wide model, 2 epochs.
TINY_AQA = {
    "seed": 0,
    "data": {
        "kind": "synthetic",
        "num_frames": 24,
        "K": 3,
        "val_fraction": 0.2,
        "synthetic": {"n_train": 20, "n_test": 6, "feature_dim": 16, "num_clips": 4},
    },
    "model": {"dim": 16, "hse_blocks": 1, "decoder_layers": 1, "tokens": 2, "mlp_hidden": 16, "seg_hidden": 16},
    "train": {"epochs": 2, "batch_size": 4, "progress": False, "exemplars": 3, "val_exemplars": 3, "scheduler": "none"},
}


@pytest.fixture()
def tiny_aqa() -> dict:
    """A fresh copy of :data:`TINY_AQA` (tests may modify it)."""
    import copy

    return copy.deepcopy(TINY_AQA)
