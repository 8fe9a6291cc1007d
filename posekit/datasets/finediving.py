"""FineDiving annotations (Xu et al., CVPR 2022): coarse + fine-grained pickles, official split.

Stage boundaries follow :mod:`posekit.datasets.stages`; :attr:`FineDiving.issues` lists the
records whose ``steps_transit_frames`` are invalid (replaced by the label change points).

Layout of ``root`` (``../shared/data/finediving/annotations`` in this project)::

    FineDiving_coarse_annotation.pkl        {(video, idx): {action_type, start_frame, end_frame,
                                             dive_score, difficulty, judge_scores}}
    FineDiving_fine-grained_annotation.pkl  {(video, idx): {action_type, dive_score, difficulty,
                                             steps_transit_frames, frames_labels, sub-action_types}}
    Sub_action_Types_Table.pkl              {sub-action id: name}
    train_split.pkl / test_split.pkl        lists of keys (2251 / 749)

All pickles go through :func:`posekit.io.restricted_pickle_load`. Stage boundaries follow
:mod:`posekit.datasets.stages`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from posekit.datasets.records import AnnotationSet, AQARecord
from posekit.datasets.stages import stage_boundaries, transits_from_labels, valid_transits
from posekit.errors import AnnotationError
from posekit.io import restricted_pickle_load

Key = tuple[str, int]
FILES = {
    "coarse": "FineDiving_coarse_annotation.pkl",
    "fine": "FineDiving_fine-grained_annotation.pkl",
    "subactions": "Sub_action_Types_Table.pkl",
    "train": "train_split.pkl",
    "test": "test_split.pkl",
}


def _require(rec: dict[str, Any], field: str, path: Path, key: Any) -> Any:
    if field not in rec:
        raise AnnotationError(f"record {key!r} has no '{field}'", path, field)
    return rec[field]


def _number(rec: dict[str, Any], field: str, path: Path, key: Any, kind: type = float) -> Any:
    """A finite number from a record, or an error naming the file, the clip and the field."""
    value = _require(rec, field, path, key)
    try:
        out = kind(value)
    except (TypeError, ValueError):
        raise AnnotationError(f"record {key!r}: {field} must be a number, got {value!r}", path, field) from None
    if not np.isfinite(out):
        raise AnnotationError(f"record {key!r}: {field} must be finite, got {value!r}", path, field)
    return out


def _record(k: Key, c: dict[str, Any], f: dict[str, Any], coarse_path: Path, fine_path: Path) -> AQARecord:
    """One dive from its coarse and fine-grained annotation records (named errors only)."""
    try:
        transits = np.asarray(_require(f, "steps_transit_frames", fine_path, k), dtype=np.int64).reshape(-1)
        labels = np.asarray(_require(f, "frames_labels", fine_path, k), dtype=np.int64).reshape(-1)
        judges = [float(v) for v in c.get("judge_scores", [])]
    except (TypeError, ValueError) as exc:
        raise AnnotationError(f"record {k!r}: expected lists of numbers ({exc})", fine_path) from None
    subs = f.get("sub-action_types", {})
    if not isinstance(subs, dict):
        raise AnnotationError(
            f"record {k!r}: sub-action_types must be a dict (id -> name), got {type(subs).__name__}",
            fine_path,
            "sub-action_types",
        )
    return AQARecord(
        key=k,
        score=_number(c, "dive_score", coarse_path, k),
        dive_number=str(_require(c, "action_type", coarse_path, k)).upper(),
        difficulty=_number(c, "difficulty", coarse_path, k),
        judge_scores=judges,
        start_frame=_number(c, "start_frame", coarse_path, k, int),
        end_frame=_number(c, "end_frame", coarse_path, k, int),
        transits=transits,
        frame_labels=labels,
        subactions={int(i): str(n) for i, n in subs.items()},
    )


class FineDiving(AnnotationSet):
    """Reader of the FineDiving annotation pickles."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        for name in FILES.values():
            if not (self.root / name).exists():
                raise AnnotationError(
                    f"missing annotation file (expected the FineDiving layout: {sorted(FILES.values())})",
                    self.root / name,
                )
        coarse_path, fine_path = self.root / FILES["coarse"], self.root / FILES["fine"]
        coarse = restricted_pickle_load(coarse_path)
        fine = restricted_pickle_load(fine_path)
        for obj, p in ((coarse, coarse_path), (fine, fine_path)):
            if not isinstance(obj, dict):
                raise AnnotationError(f"expected a dict keyed by (video, idx), got {type(obj).__name__}", p)
        self.subaction_names: dict[int, str] = {
            int(k): str(v) for k, v in restricted_pickle_load(self.root / FILES["subactions"]).items()
        }
        self.records: dict[Key, AQARecord] = {}
        for key, c in coarse.items():
            f = fine.get(key)
            if f is None:
                raise AnnotationError(
                    f"key {key!r} is in the coarse annotation but not the fine-grained one", fine_path
                )
            k = (str(key[0]), int(key[1]))
            self.records[k] = _record(k, c, f, coarse_path, fine_path)
        # invalid steps_transit_frames, replaced by the change points of frames_labels
        self.issues: dict[Key, str] = {}
        for k, rec in self.records.items():
            if not valid_transits(rec.transits, len(rec.frame_labels)):
                derived = transits_from_labels(rec.frame_labels)
                self.issues[k] = (
                    f"steps_transit_frames {rec.transits.tolist()} are invalid for a clip of "
                    f"{len(rec.frame_labels)} frames; using the label changes {derived.tolist()}"
                )
                rec.extra["steps_transit_frames_raw"] = rec.transits
                rec.transits = derived
        self.splits: dict[str, list[Key]] = {}
        for split in ("train", "test"):
            self._load_split(split, self.root / FILES[split], restricted_pickle_load)

    def _key(self, key) -> Key:
        return (str(key[0]), int(key[1]))

    def stage_boundaries(
        self, key: Key, K: int = 3, T: int = 96, k2: Literal["entry", "takeoff"] = "entry"
    ) -> np.ndarray:
        """``K - 1`` stage boundaries of a dive in its clip resampled to ``T`` frames."""
        rec = self[key]
        n = len(rec.frame_labels)
        try:
            return stage_boundaries(rec.transits, n, K=K, T=T, k2=k2)
        except AnnotationError as exc:
            raise AnnotationError(f"dive {key!r}: {exc.reason}", self.root / FILES["fine"], exc.field) from None
