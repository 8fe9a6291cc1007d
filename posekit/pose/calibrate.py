"""Calibrate the default estimator's BlazePose -> MPII-16 mapping on hand-labelled frames.

``posekit fit-mapping LABELS`` runs the default detector and estimator on every labelled
image, keeps the fused BlazePose-33 landmarks (before any mapping) and fits a calibrated
mapping to the labels with :func:`graphs.convert.fit_mapping` (a joint regressor: girdle and
synthesised joints only, left/right symmetric, shrunk towards the geometric mapping). It
reports PCKh@0.5 of the geometric and the fitted mapping on the same frames, and the honest
figure: each frame (or each group of frames, e.g. each dive, with ``groups``) mapped by a
mapping fitted without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graphs import get_layout
from graphs.convert import LayoutMapping, fit_mapping, get_mapping
from posekit import metrics
from posekit.errors import AnnotationError


def _athlete_box(boxes: np.ndarray, joints: np.ndarray, vis: np.ndarray) -> np.ndarray | None:
    """The detected box holding the most labelled joints (ties: the most confident)."""
    if not len(boxes):
        return None
    pts = joints[vis]
    inside = [
        int(((pts[:, 0] >= b[0]) & (pts[:, 0] <= b[2]) & (pts[:, 1] >= b[1]) & (pts[:, 1] <= b[3])).sum())
        for b in boxes
    ]
    best = max(range(len(boxes)), key=lambda i: (inside[i], boxes[i, 4]))
    return boxes[best] if inside[best] > 0 else None


def collect_landmarks(
    labels: Sequence,
    image_dir: str | Path,
    detector=None,
    estimator=None,
    progress: bool = True,
) -> np.ndarray:
    """Fused BlazePose-33 landmarks ``(N, 33, 3)`` of the labelled athlete of each image
    (all zeros where none was found). The box is the detected one holding most labelled
    joints, else the label's own box."""
    import cv2

    from posekit.pose.detect import BlazePoseDetector
    from posekit.pose.estimate import BlazePoseEstimator

    estimator = estimator or BlazePoseEstimator(mapping="geometric")  # only its landmarks are used
    detector = detector or BlazePoseDetector(model=estimator.model)
    image_dir = Path(image_dir)
    out = np.zeros((len(labels), get_layout("blazepose33").num_joints, 3), np.float32)
    it = labels
    if progress:
        from tqdm import tqdm

        it = tqdm(labels, desc="landmarks", unit="image")
    for i, lb in enumerate(it):
        path = image_dir / lb.image
        img = cv2.imread(str(path))
        if img is None:
            raise AnnotationError(f"image {lb.image} cannot be read", path, "image")
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        vis = lb.visibility > 0
        box = _athlete_box(detector(img), lb.joints, vis)
        if box is None and lb.box is not None:
            box = np.append(lb.box, 1.0)
        if box is None:
            continue
        lm, _ = estimator.landmarks_one(img, box)
        if lm is not None:
            out[i] = lm
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
    JSON, as :func:`annotations_tools.formats.read_any` reads them). Returns the mapping and a
    report: PCKh@0.5 with the geometric mapping, with the fitted one (in sample) and held out
    (:func:`held_out_pckh`: per image, or per clip when ``new_group_at`` names the images,
    in label order, that start a new clip)."""
    from annotations_tools.formats import read_any

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
    lm = collect_landmarks(labels, image_dir, progress=progress)
    true = np.array([lb.joints for lb in labels], np.float64)
    vis = np.array([lb.visibility > 0 for lb in labels])
    found = lm[..., 2].max(1) > 0
    head = head_sizes(true)
    use = found & (head > 0)
    if use.sum() < 2:
        raise AnnotationError(
            f"the athlete was found with a labelled head in {int(use.sum())} image(s); at least 2 are needed",
            labels_path,
        )
    mapping = fit_mapping(
        "blazepose33", "mpii16", lm[use], true[use], vis[use], scale=head[use], ridge=ridge, name=name
    )
    geo = get_mapping("blazepose33", "mpii16", "geometric")

    def score(m: LayoutMapping) -> dict:
        p = map_found(m, lm)
        return metrics.pckh(p[..., :2], true, vis, pred_valid=p[..., 2] > 0)

    held = held_out_pckh(lm, true, vis, groups, ridge)
    report = {
        "labels": str(labels_path),
        "images": len(labels),
        "athlete_found": int(found.sum()),
        "pckh_geometric": score(geo)["pckh"],
        "pckh_fitted_in_sample": score(mapping)["pckh"],
        "pckh_fitted_held_out": held["pckh"],
        "held_out_groups": held["groups"],
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
