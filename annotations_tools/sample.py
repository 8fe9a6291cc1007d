"""Frame sampling for labelling (the HP-MCoRe recipe): up to N clips per dive number, and
within a clip only the frames of chosen stages (e.g. the airborne ones, from the step
transitions); export them as images plus LabelMe JSON pre-filled with the extraction
pipeline's predictions - pseudo-labels to correct, not to draw from scratch."""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np

from posekit.datasets.records import AQARecord
from posekit.datasets.stages import step_of_frame, steps_to_stages
from posekit.errors import AnnotationError
from posekit.io import safe_name
from posekit.labels import NOT_LABELLED, VISIBLE, KeypointLabel, write_labelme
from posekit.pose.video import IMAGE_SUFFIXES

STAGE_NAMES = {3: ("takeoff", "flight", "entry")}


def choose_clips(records: Mapping[Hashable, AQARecord], per_dive: int = 10, seed: int = 0) -> list[Hashable]:
    """Up to ``per_dive`` clips per dive number, deterministic under ``seed``."""
    groups: dict[str, list[Hashable]] = defaultdict(list)
    for k in sorted(records, key=repr):
        groups[records[k].dive_number or ""].append(k)
    rng = np.random.default_rng(seed)
    out = []
    for dn in sorted(groups):
        keys = groups[dn]
        idx = rng.choice(len(keys), size=min(per_dive, len(keys)), replace=False)
        out += [keys[i] for i in sorted(idx)]
    return out


def stage_frames(rec: AQARecord, n_frames: int, stages: Sequence[str], K: int = 3) -> list[int]:
    """Frame indices (of the clip folder) that belong to the chosen stages."""
    names = STAGE_NAMES.get(K, tuple(f"stage{k}" for k in range(K)))
    unknown = [s for s in stages if s not in names]
    if unknown:
        raise AnnotationError(f"unknown stage(s) {unknown}; with K = {K} the stages are {list(names)}")
    want = {names.index(s) for s in stages}
    steps = step_of_frame(rec.transits, n_frames)
    stage = steps_to_stages(len(rec.transits) + 1, K)[steps]
    return [t for t in range(n_frames) if stage[t] in want]


def sample_for_labelling(
    records: Mapping[Hashable, AQARecord],
    frames_root: str | Path,
    out: str | Path,
    per_dive: int = 10,
    stages: Sequence[str] = ("flight",),
    stride: int = 1,
    K: int = 3,
    predict: bool = True,
    min_conf: float = 0.3,
    seed: int = 0,
    source: str | Path | None = None,
) -> list[Path]:
    """Copy the chosen frames to ``out`` and write a LabelMe JSON next to each. ``source``
    (the annotation file the records came from) is named when a key is not a safe file name."""
    frames_root, out = Path(frames_root), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for key in choose_clips(records, per_dive, seed):
        rec = records[key]
        parts = [safe_name(k, source or "the annotations", "key") for k in (key if isinstance(key, tuple) else (key,))]
        folder = frames_root.joinpath(*parts)
        files = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        if not files:
            continue
        n = len(rec.frame_labels) if rec.frame_labels is not None else len(files)
        if n != len(files):
            raise AnnotationError(f"{folder}: {len(files)} frames, the annotation has {n}")
        chosen = stage_frames(rec, n, stages, K)[::stride]
        if not chosen:
            continue
        preds = _predict(files, chosen) if predict else {}
        for t in chosen:
            name = f"{'_'.join(parts)}_{files[t].stem}"
            img = out / f"{name}{files[t].suffix}"
            if not img.exists():
                shutil.copy2(files[t], img)
            from PIL import Image

            with Image.open(img) as im:
                w, h = im.size
            pose, box = preds.get(t, (None, None))
            if pose is not None:
                vis = np.where(pose[:, 2] >= min_conf, VISIBLE, NOT_LABELLED)
                label = KeypointLabel(img.name, w, h, pose[:, :2], vis, box)
            else:
                label = KeypointLabel(img.name, w, h, np.zeros((16, 2)), np.zeros(16, int), None)
            written.append(write_labelme(label, out / f"{name}.json"))
    return written


def _predict(files: list[Path], chosen: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The extraction pipeline's pose and box per chosen frame (the whole clip is tracked)."""
    from posekit.pose import ExtractConfig, extract
    from posekit.pose.video import read_clip

    clip = read_clip(files[0].parent)
    res = extract(clip, config=ExtractConfig(progress=False, max_side=None))
    out = {}
    for t in chosen:
        if np.isfinite(res.boxes[t]).all():
            out[t] = (res.skeleton.data[t], res.boxes[t])
    return out
