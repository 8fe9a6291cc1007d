"""MTL-AQA annotations (Parmar & Morris, CVPR 2019): dive numbers, difficulty (DD), split 0.

``root`` holds ``final_annotations_dict_with_dive_number.pkl`` ({(video, idx): {final_score,
difficulty, judge_scores, dive_number, start_frame, end_frame, position, ...}}) and
``train_split_0.pkl`` / ``test_split_0.pkl`` (1059 / 353 keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from posekit.datasets.records import AQARecord
from posekit.errors import AnnotationError
from posekit.io import restricted_pickle_load

Key = tuple[int, int]
ANNOTATIONS = "final_annotations_dict_with_dive_number.pkl"
SPLITS = {"train": "train_split_0.pkl", "test": "test_split_0.pkl"}
_EXTRA = ("primary_view", "position", "armstand", "rotation_type", "ss_no", "tw_no")


class MTLAQA:
    """Reader of the MTL-AQA annotation dict and split 0."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        path = self.root / ANNOTATIONS
        raw = restricted_pickle_load(path)
        if not isinstance(raw, dict):
            raise AnnotationError(f"expected a dict keyed by (video, idx), got {type(raw).__name__}", path)
        self.records: dict[Key, AQARecord] = {}
        for key, r in raw.items():
            for field in ("final_score", "difficulty", "dive_number"):
                if field not in r:
                    raise AnnotationError(f"record {key!r} has no '{field}'", path, field)
            k = (int(key[0]), int(key[1]))
            self.records[k] = AQARecord(
                key=k,
                score=float(r["final_score"]),
                dive_number=str(r["dive_number"]).upper(),
                difficulty=float(r["difficulty"]),
                judge_scores=[float(s) for s in r.get("judge_scores", [])],
                start_frame=int(r["start_frame"]) if "start_frame" in r else None,
                end_frame=int(r["end_frame"]) if "end_frame" in r else None,
                extra={f: r[f] for f in _EXTRA if f in r},
            )
        self.splits: dict[str, list[Key]] = {}
        for split, name in SPLITS.items():
            p = self.root / name
            keys = [(int(a), int(b)) for a, b in restricted_pickle_load(p)]
            unknown = [k for k in keys if k not in self.records]
            if unknown:
                raise AnnotationError(f"{len(unknown)} split key(s) have no annotation, e.g. {unknown[0]!r}", p)
            self.splits[split] = keys

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: Key) -> AQARecord:
        return self.records[(int(key[0]), int(key[1]))]

    def __iter__(self) -> Iterator[AQARecord]:
        return iter(self.records.values())

    def split(self, name: Literal["train", "test"]) -> list[Key]:
        return list(self.splits[name])

    def dive_numbers(self) -> dict[Key, str]:
        return {k: r.dive_number or "" for k, r in self.records.items()}
