"""The record every AQA dataset reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class AQARecord:
    """One scored performance. ``key`` identifies it inside its dataset."""

    key: Any
    score: float
    dive_number: str | None = None
    difficulty: float | None = None
    judge_scores: list[float] | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    transits: np.ndarray | None = None  # last frame of each step but the final one (trimmed clip)
    frame_labels: np.ndarray | None = None  # per-frame sub-action id (trimmed clip)
    subactions: dict[int, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int | None:
        if self.frame_labels is not None:
            return len(self.frame_labels)
        if self.start_frame is not None and self.end_frame is not None:
            return self.end_frame - self.start_frame + 1
        return None

    @property
    def execution(self) -> float | None:
        """Score divided by difficulty (the quantity MTL-AQA's DD-aware models regress)."""
        if self.difficulty in (None, 0):
            return None
        return self.score / float(self.difficulty)
