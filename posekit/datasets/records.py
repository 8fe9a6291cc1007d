"""The record every AQA dataset reader returns."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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


class AnnotationSet:
    """Records keyed by ``(video, idx)`` plus official splits; shared by the dataset readers.

    Subclasses fill :attr:`records` and call :meth:`_load_split`, and define :meth:`_key`
    (the canonical form of a key).
    """

    records: dict[Hashable, AQARecord]
    splits: dict[str, list[Hashable]]

    def _key(self, key: Any) -> Hashable:
        return key

    def _load_split(self, name: str, path: Path, loader: Callable[[Path], Any]) -> None:
        from posekit.errors import AnnotationError

        keys = [self._key(k) for k in loader(path)]
        unknown = [k for k in keys if k not in self.records]
        if unknown:
            raise AnnotationError(f"{len(unknown)} split key(s) have no annotation, e.g. {unknown[0]!r}", path)
        self.splits[name] = keys

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: Any) -> AQARecord:
        try:
            return self.records[self._key(key)]
        except (KeyError, TypeError, ValueError, IndexError):
            raise KeyError(f"no {type(self).__name__} record {key!r}") from None

    def __iter__(self) -> Iterator[AQARecord]:
        return iter(self.records.values())

    def split(self, name: Literal["train", "test"]) -> list[Hashable]:
        return list(self.splits[name])

    def dive_numbers(self) -> dict[Hashable, str]:
        return {k: r.dive_number or "" for k, r in self.records.items()}
