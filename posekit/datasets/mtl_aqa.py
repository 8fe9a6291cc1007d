"""MTL-AQA annotations (Parmar & Morris, CVPR 2019): dive numbers, difficulty (DD), split 0.

``root`` holds ``final_annotations_dict_with_dive_number.pkl`` ({(video, idx): {final_score,
difficulty, judge_scores, dive_number, start_frame, end_frame, position, ...}}) and
``train_split_0.pkl`` / ``test_split_0.pkl`` (1059 / 353 keys).
"""

from __future__ import annotations

from pathlib import Path

from posekit.datasets.records import AnnotationSet, AQARecord
from posekit.errors import AnnotationError
from posekit.io import restricted_pickle_load

Key = tuple[int, int]
ANNOTATIONS = "final_annotations_dict_with_dive_number.pkl"
SPLITS = {"train": "train_split_0.pkl", "test": "test_split_0.pkl"}
_EXTRA = ("primary_view", "position", "armstand", "rotation_type", "ss_no", "tw_no")


class MTLAQA(AnnotationSet):
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
            self._load_split(split, self.root / name, restricted_pickle_load)

    def _key(self, key) -> Key:
        return (int(key[0]), int(key[1]))
