"""Calibrate the default estimator's BlazePose -> MPII-16 mapping on hand-labelled frames.

``posekit fit-mapping LABELS`` runs ``posekit extract`` on the labelled images exactly as a
user does (:func:`extract_labelled`: each clip as a frame folder, or each image alone; no
label is used to detect, choose, track or crop the athlete), keeps the fused BlazePose-33
landmarks the pipeline found (before any mapping) and fits a calibrated mapping to the labels
with :func:`graphs.convert.fit_mapping` (a joint regressor: girdle and synthesised joints
only, left/right symmetric, shrunk towards the geometric mapping). The labels are only the
regression's targets. It reports PCKh@0.5 of the pipeline with the geometric mapping, of the
fitted mapping in sample, and the honest figure: each image (or each clip, with
``new_group_at``) extracted again with a mapping fitted without it
(:func:`held_out_extraction`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphs import get_layout
from graphs.convert import LayoutMapping, fit_mapping
from posekit import metrics
from posekit.errors import AnnotationError


@dataclass
class LabelledRun:
    """What ``posekit extract`` produced on labelled images (no label used to produce it)."""

    pred: np.ndarray  # (N, J, 3) the cleaned skeleton of each image, as written to the .npz
    landmarks: np.ndarray  # (N, 33, 3) the estimator's BlazePose landmarks before mapping (zeros: none)
    status: list[str]  # per image: tracked / predicted / lost / before
    how: list[str]  # per image: what found the athlete (the QC report's how_found)
    chosen_by: list[str] = field(default_factory=list)  # per clip: how the athlete was chosen
    reports: list[dict] = field(default_factory=list)  # per clip: the QC report

    @property
    def found(self) -> np.ndarray:
        return np.array([s == "tracked" for s in self.status])


def extract_labelled(
    images: Sequence[str | Path],
    clips: Sequence[int] | None = None,
    mapping: str | Path | LayoutMapping | None = None,
    progress: bool = True,
    model=None,
    quality: str = "balanced",
) -> LabelledRun:
    """Run the default ``posekit extract`` (``quality``: its preset) on labelled images exactly as a user would: each
    clip (``clips[i]``: the clip of image ``i``, images in time order) as a frame folder, or
    each image alone (``clips=None``: a photo folder). Nothing of the labels is used:
    detection, the choice of the athlete, tracking, cropping, the pose and cleaning are the
    pipeline's own. ``mapping``: the BlazePose -> MPII-16 mapping (None: the shipped one);
    ``model``: the BlazePose model (None: the one ``posekit extract`` builds for ``quality``)."""
    import tempfile

    from tqdm import tqdm

    from posekit.pose.blazepose import backend_for, build_blazepose
    from posekit.pose.detect import BlazePoseDetector
    from posekit.pose.estimate import BlazePoseEstimator
    from posekit.pose.pipeline import ExtractConfig, extract

    images = [Path(p) for p in images]
    clips_arr = np.arange(len(images)) if clips is None else np.asarray(clips)
    model = model or build_blazepose(backend_for(quality))
    detector = BlazePoseDetector(model=model)
    estimator = BlazePoseEstimator(model=model, mapping=mapping)
    n_src = get_layout("blazepose33").num_joints
    run = LabelledRun(np.zeros((len(images), 16, 3), np.float32), np.zeros((len(images), n_src, 3), np.float32), [], [])
    run.status, run.how = [""] * len(images), [""] * len(images)
    units = [np.flatnonzero(clips_arr == c) for c in dict.fromkeys(clips_arr.tolist())]
    for idx in tqdm(units, desc="extract", unit="clip", disable=not progress):
        with tempfile.TemporaryDirectory() as tmp:
            for k, i in enumerate(idx):  # the folder orders frames by name: keep the given order
                (Path(tmp) / f"{k:06d}{images[i].suffix}").symlink_to(images[i].resolve())
            res = extract(tmp, detector, estimator, config=ExtractConfig(progress=False, quality=quality))
        run.pred[idx] = res.skeleton.data
        if res.landmarks is not None:
            run.landmarks[idx] = res.landmarks
        for k, i in enumerate(idx):
            run.status[i], run.how[i] = res.status[k], res.how_found[k]
        run.chosen_by.append(res.report["athlete_chosen_by"])
        run.reports.append(res.report)
    return run


def held_out_extraction(
    images: Sequence[str | Path],
    landmarks: np.ndarray,
    true: np.ndarray,
    vis: np.ndarray,
    groups: Sequence[int],
    clips: Sequence[int] | None = None,
    ridge: float = 1.0,
    progress: bool = True,
    model=None,
    quality: str = "balanced",
) -> LabelledRun:
    """``posekit extract`` on each group of images (e.g. each dive) with a mapping fitted on the
    other groups only (on their ``landmarks``, as the pipeline found them, against their
    labels): no label of a group steers its own prediction."""
    groups = np.asarray(groups)
    head = head_sizes(true)
    usable = (landmarks[..., 2].max(1) > 0) & (head > 0)
    out: LabelledRun | None = None
    for g in np.unique(groups):
        te, tr = groups == g, (groups != g) & usable
        if tr.sum() < 2:
            raise AnnotationError(f"group {g}: fewer than 2 usable frames outside it to fit a mapping on")
        m = fit_mapping("blazepose33", "mpii16", landmarks[tr], true[tr], vis[tr], scale=head[tr], ridge=ridge)
        sub_clips = None if clips is None else np.asarray(clips)[te]
        part = extract_labelled([images[i] for i in np.flatnonzero(te)], sub_clips, m, progress, model, quality)
        if out is None:
            out = LabelledRun(
                np.zeros((len(groups), *part.pred.shape[1:]), np.float32),
                landmarks.copy(),
                [""] * len(groups),
                [""] * len(groups),
            )
        out.pred[te] = part.pred
        for k, i in enumerate(np.flatnonzero(te)):
            out.status[i], out.how[i] = part.status[k], part.how[k]
        out.chosen_by += part.chosen_by
        out.reports += part.reports
    assert out is not None
    return out


def groups_from_starts(images: Sequence[str], starts: Sequence[str]) -> np.ndarray:
    """Clip index of each image (images in clip order; a new clip starts at each of ``starts``)."""
    starts = set(starts)
    g, out = 0, []
    for i, name in enumerate(images):
        g += i > 0 and name in starts
        out.append(g)
    return np.array(out, dtype=np.int64)


def map_found(m: LayoutMapping, landmarks: np.ndarray) -> np.ndarray:
    """``m`` applied to the frames where landmarks were found; the others stay all-missing."""
    found = landmarks[..., 2].max(1) > 0
    pred = np.zeros((len(landmarks), m.target.num_joints, 3), np.float32)
    pred[found] = m.apply(landmarks[found])
    return pred


def head_sizes(true: np.ndarray, layout: str = "mpii16") -> np.ndarray:
    ha, hb = get_layout(layout).head_index()
    return np.linalg.norm(true[:, ha] - true[:, hb], axis=1)


def held_out_predictions(
    landmarks: np.ndarray,
    true: np.ndarray,
    vis: np.ndarray,
    groups: Sequence[int] | None = None,
    ridge: float = 1.0,
    target: str = "mpii16",
    sources: dict[str, tuple[str, ...]] | None = None,
) -> np.ndarray:
    """``(N, J, 3)`` poses with each group of frames (default: each frame) mapped by a mapping
    fitted on the other groups only, so no label helps map its own frame. Frames where no
    landmarks were found stay all-missing."""
    N = len(landmarks)
    groups = np.arange(N) if groups is None else np.asarray(groups)
    found = landmarks[..., 2].max(1) > 0
    head = head_sizes(true, target)
    usable = found & (head > 0)
    pred = np.zeros((N, get_layout(target).num_joints, 3), np.float32)
    for g in np.unique(groups):
        te = groups == g
        tr = ~te & usable
        if tr.sum() < 2:
            raise AnnotationError(f"group {g}: fewer than 2 usable frames outside it to fit a mapping on")
        m = fit_mapping(
            "blazepose33", target, landmarks[tr], true[tr], vis[tr], scale=head[tr], ridge=ridge, sources=sources
        )
        pred[te] = map_found(m, landmarks[te])
    return pred


def held_out_pckh(
    landmarks: np.ndarray,
    true: np.ndarray,
    vis: np.ndarray,
    groups: Sequence[int] | None = None,
    ridge: float = 1.0,
    target: str = "mpii16",
    sources: dict[str, tuple[str, ...]] | None = None,
) -> dict:
    """PCKh@0.5 of :func:`held_out_predictions` (plus ``groups``: how many were held out)."""
    pred = held_out_predictions(landmarks, true, vis, groups, ridge, target, sources)
    r = metrics.pckh(pred[..., :2], true, vis, pred_valid=pred[..., 2] > 0, layout=target)
    r["groups"] = len(landmarks) if groups is None else int(len(np.unique(groups)))
    return r


def fit_from_labels(
    labels_path: str | Path,
    image_dir: str | Path | None = None,
    *,
    ridge: float = 1.0,
    name: str = "fitted",
    new_group_at: Sequence[str] | None = None,
    progress: bool = True,
) -> tuple[LayoutMapping, dict]:
    """Fit the BlazePose -> MPII-16 mapping on a labelled set (LabelMe folder, COCO or MPII
    JSON, as :func:`posekit.labels.read_any` reads them). Returns the mapping and a
    report: PCKh@0.5 with the geometric mapping, with the fitted one (in sample) and held out
    (:func:`held_out_extraction`: per image, or per clip when ``new_group_at`` names the
    images, in label order, that start a new clip; clips are then extracted as clips)."""
    from posekit.labels import read_any

    labels_path = Path(labels_path)
    labels = read_any(labels_path, "mpii16", image_dir)
    if not labels:
        raise AnnotationError("no labelled images", labels_path)
    groups = None
    if new_group_at:
        names = [lb.image for lb in labels]
        unknown = [n for n in new_group_at if n not in names]
        if unknown:
            raise AnnotationError(f"new_group_at: {unknown} are not images of the labels", labels_path, "image")
        groups = groups_from_starts(names, new_group_at)
    if image_dir is None:
        image_dir = labels_path if labels_path.is_dir() else labels_path.parent / "images"
    images = [Path(image_dir) / lb.image for lb in labels]
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        raise AnnotationError(f"images not found: {missing[:3]}", labels_path, "image")
    first = extract_labelled(images, groups, mapping="geometric", progress=progress)
    lm = first.landmarks
    true = np.array([lb.joints for lb in labels], np.float64)
    vis = np.array([lb.visibility > 0 for lb in labels])
    head = head_sizes(true)
    use = (lm[..., 2].max(1) > 0) & (head > 0)
    if use.sum() < 2:
        raise AnnotationError(
            f"the athlete was found with a labelled head in {int(use.sum())} image(s); at least 2 are needed",
            labels_path,
        )
    mapping = fit_mapping(
        "blazepose33", "mpii16", lm[use], true[use], vis[use], scale=head[use], ridge=ridge, name=name
    )

    def score(pred: np.ndarray) -> float:
        return metrics.pckh(pred[..., :2], true, vis, pred_valid=pred[..., 2] > 0)["pckh"]

    held_groups = groups if groups is not None else np.arange(len(labels))
    held = held_out_extraction(images, lm, true, vis, held_groups, groups, ridge, progress)
    report = {
        "labels": str(labels_path),
        "images": len(labels),
        "athlete_found": int(first.found.sum()),
        "pckh_geometric": score(first.pred),
        "pckh_fitted_in_sample": score(map_found(mapping, lm)),
        "pckh_fitted_held_out": score(held.pred),
        "held_out_groups": int(len(np.unique(held_groups))),
        "ridge": ridge,
    }
    mapping.meta.update(
        {
            "fitted_on": labels_path.name,
            "images": len(labels),
            "pckh_geometric": report["pckh_geometric"],
            "pckh_held_out": report["pckh_fitted_held_out"],
            "held_out_groups": report["held_out_groups"],
        }
    )
    return mapping, report
