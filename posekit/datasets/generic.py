"""Bring your own sport: a folder of skeleton ``.npz`` files plus a table of scores.

::

    my_sport/
      clips/jump_001.npz ...            # SkeletonSequence files (posekit format)
      labels.csv                        # or labels.json

``labels.csv`` has a header with ``name`` and ``score`` and optionally ``boundaries``
(stage boundaries as ``12;40``: the last frame of each stage but the final one, counted as
rows of the clip's ``.npz`` from 0 - not the video frame numbers its ``frame_indices``
hold; see :mod:`posekit.datasets.stages`), ``difficulty`` and ``group`` (the athlete, dive
number, category: clips of one group stay on one side of a split). Any other column (e.g.
``athlete``) can be named by ``data.group_by``.
``name`` is the file name without ``.npz``, relative to the clips folder. ``labels.json``
is a list of objects with the same fields, or a mapping ``name -> {score, ...}``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.records import AQARecord
from posekit.errors import AnnotationError
from posekit.skeleton import SkeletonSequence


@dataclass
class SkeletonSample:
    record: AQARecord
    skeleton: SkeletonSequence
    boundaries: np.ndarray | None


def _parse_row(row: dict[str, Any], where: str, path: Path) -> AQARecord:
    name = str(row.get("name") or "").strip()
    if not name:
        raise AnnotationError(f"{where}: empty name", path, "name")
    try:
        score = float(row["score"])
    except KeyError:
        raise AnnotationError(f"{where}: no score", path, "score") from None
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: score {row.get('score')!r} is not a number", path, "score") from None
    if not np.isfinite(score):
        raise AnnotationError(f"{where}: score {score} is not finite", path, "score")
    extra: dict[str, Any] = {}
    b = row.get("boundaries")
    if b not in (None, ""):
        try:
            vals = (
                [int(v) for v in str(b).replace(",", ";").split(";") if str(v).strip()]
                if isinstance(b, str)
                else [int(v) for v in b]
            )
        except ValueError:
            raise AnnotationError(
                f"{where}: boundaries {b!r}, expected integers like '12;40'", path, "boundaries"
            ) from None
        if vals != sorted(vals):
            raise AnnotationError(f"{where}: boundaries {vals} are not in order", path, "boundaries")
        extra["boundaries"] = np.asarray(vals, dtype=np.int64)
    diff = row.get("difficulty")
    try:
        difficulty = float(diff) if diff not in (None, "") else None
    except ValueError:
        raise AnnotationError(f"{where}: difficulty {diff!r} is not a number", path, "difficulty") from None
    group = row.get("group")
    known = {"name", "score", "boundaries", "difficulty", "group"}
    extra["columns"] = {str(k): str(v).strip() for k, v in row.items() if k not in known and v not in (None, "")}
    return AQARecord(
        key=name,
        score=score,
        difficulty=difficulty,
        dive_number=str(group) if group not in (None, "") else None,
        extra=extra,
    )


def read_labels(path: str | Path) -> list[AQARecord]:
    """Read ``labels.csv`` or ``labels.json``; errors name the file, the row and the field."""
    path = Path(path)
    if not path.exists():
        raise AnnotationError("labels file not found", path)
    if path.suffix.lower() == ".json":
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise AnnotationError(f"not valid JSON ({exc})", path) from None
        rows = [{"name": k, **v} for k, v in obj.items()] if isinstance(obj, dict) else obj
        if not isinstance(rows, list):
            raise AnnotationError("expected a list of {name, score, ...} or a mapping name -> {...}", path)
        records = [_parse_row(r, f"entry {i}", path) for i, r in enumerate(rows)]
    else:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"name", "score"} <= set(reader.fieldnames):
                raise AnnotationError(f"header {reader.fieldnames} needs 'name' and 'score' columns", path, "header")
            records = [_parse_row(r, f"row {i + 2}", path) for i, r in enumerate(reader)]
    names = [r.key for r in records]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise AnnotationError(f"duplicate name(s) {sorted(dup)}", path, "name")
    return records


class SkeletonFolderDataset:
    """Skeleton ``.npz`` files + scores (+ optional stage boundaries); indexable and iterable."""

    def __init__(self, root: str | Path, labels: str | Path | None = None, clips: str = "clips"):
        self.root = Path(root)
        if labels is None:
            found = [self.root / n for n in ("labels.csv", "labels.json") if (self.root / n).exists()]
            if not found:
                raise AnnotationError("no labels.csv or labels.json", self.root)
            labels = found[0]
        self.labels_path = Path(labels)
        self.clip_dir = self.root / clips if (self.root / clips).is_dir() else self.root
        self.records = read_labels(self.labels_path)
        missing = [r.key for r in self.records if not (self.clip_dir / f"{r.key}.npz").exists()]
        if missing:
            raise AnnotationError(
                f"{len(missing)} labelled clip(s) have no skeleton file in {self.clip_dir}, e.g. {missing[0]}.npz",
                self.labels_path,
                "name",
            )

    def __len__(self) -> int:
        return len(self.records)

    def keys(self) -> list[str]:
        return [r.key for r in self.records]

    def __getitem__(self, i: int) -> SkeletonSample:
        rec = self.records[i]
        seq = SkeletonSequence.load(self.clip_dir / f"{rec.key}.npz")
        b = rec.extra.get("boundaries")
        if b is not None and len(b) and (b[0] < 0 or b[-1] >= seq.num_frames):
            raise AnnotationError(
                f"{rec.key}: boundaries {b.tolist()} fall outside its {seq.num_frames} frames",
                self.labels_path,
                "boundaries",
            )
        return SkeletonSample(rec, seq, b)

    def __iter__(self):
        return (self[i] for i in range(len(self)))
