"""Person detectors. A detector maps a frame (and optional regions of interest) to boxes.

Interface: ``detector(frame, rois=None) -> (N, 5)`` float32 ``x0, y0, x1, y1, score``.
``rois`` are boxes where the caller expects a person (the tracker's prediction); detectors
that can look closer there do.

* :class:`BlazePoseDetector` (default, offline): the BlazePose person pipeline run on the
  whole frame and on each region of interest, at several rotations (a diver in a handstand
  or mid-somersault is upside down or sideways); the box is that of the confident landmarks.
* :class:`HOGDetector`: OpenCV's HOG people detector (upright people: spectators, judges,
  coaches), at rotations, for more candidates.
* :class:`MMDetDetector`: any mmdet detector from a user-given config + checkpoint.
* :class:`CompositeDetector`: the union of several, merged by NMS.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from posekit.errors import PosekitError

Boxes = np.ndarray  # (N, 5) x0, y0, x1, y1, score


class Detector(Protocol):
    def __call__(self, frame: np.ndarray, rois: Sequence[np.ndarray] | None = None) -> Boxes: ...


def empty_boxes() -> Boxes:
    return np.zeros((0, 5), dtype=np.float32)


def nms(boxes: Boxes, iou: float = 0.5) -> Boxes:
    """Keep the highest-scoring of overlapping boxes (torchvision NMS through posekit.compat)."""
    if len(boxes) <= 1:
        return boxes
    import torch

    from posekit import compat

    compat.install()
    import torchvision

    t = torch.from_numpy(np.ascontiguousarray(boxes, dtype=np.float32))
    keep = torchvision.ops.nms(t[:, :4], t[:, 4], iou).numpy()
    return boxes[keep]


def box_iou_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``(N, 4+)`` against ``(M, 4+)`` boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2] - x[:, 0], 0, None) * np.clip(x[:, 3] - x[:, 1], 0, None)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def _containment(b: np.ndarray) -> np.ndarray:
    """``[i, j]``: the fraction of the smaller of boxes i, j that lies inside the other."""
    lt = np.maximum(b[:, None, :2], b[None, :, :2])
    rb = np.minimum(b[:, None, 2:4], b[None, :, 2:4])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    return inter / np.maximum(np.minimum(area[:, None], area[None, :]), 1e-9)


def fuse_boxes(boxes: Boxes, iou: float = 0.5) -> Boxes:
    """Merge the boxes of several runs (rotations, tiles) of one detector.

    Boxes are clustered greedily around the most confident (IoU > ``iou``, or one lying
    mostly inside the other: a fit to part of the same body); each cluster
    keeps its most confident box, scored ``mean confidence x (1 - 0.5^n)`` with
    ``n`` the number of runs that found it - a person seen by several runs is more likely real
    than a one-off landmark fit spanning two people.
    """
    if len(boxes) == 0:
        return boxes
    order = np.argsort(-boxes[:, 4])
    b = boxes[order]
    used = np.zeros(len(b), bool)
    ious = np.maximum(box_iou_np(b, b), _containment(b) > 0.8)
    out = []
    for i in range(len(b)):
        if used[i]:
            continue
        members = (~used) & (ious[i] > iou)
        used |= members
        m = b[members]
        out.append([*b[i, :4], float(m[:, 4].mean()) * (1 - 0.5 ** len(m))])
    out = np.array(out, dtype=np.float32)
    return out[np.argsort(-out[:, 4])]


def landmarks_box(lm: np.ndarray, min_vis: float = 0.3, pad: float = 0.1) -> np.ndarray | None:
    """Box ``x0, y0, x1, y1, score`` around the visible landmarks (padded by ``pad`` of the size)."""
    vis = lm[:, 2] >= min_vis
    if vis.sum() < 4:
        return None
    x0, y0 = lm[vis, :2].min(0)
    x1, y1 = lm[vis, :2].max(0)
    w, h = x1 - x0, y1 - y0
    px, py = pad * max(w, h * 0.3), pad * max(h, w * 0.3)
    score = float(np.mean(lm[:, 2]))
    return np.array([x0 - px, y0 - py, x1 + px, y1 + py, score], dtype=np.float32)


def box_center_side(box: np.ndarray) -> tuple[float, float, float]:
    x0, y0, x1, y1 = box[:4]
    return (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)


class BlazePoseDetector:
    """Person boxes from BlazePose landmarks, on the whole frame and on regions of interest."""

    def __init__(
        self,
        angles: Sequence[float] = (0, 90, 180, 270),
        roi_angles: Sequence[float] = (0, 90, 180, 270),
        roi_context: float = 3.0,
        min_score: float = 0.3,
        tiles: int = 2,
        tile_angles: Sequence[float] = (0, 180),
        model=None,
    ):
        from posekit.pose.blazepose import build_blazepose

        self.model = model or build_blazepose()
        self.angles = tuple(angles)
        self.roi_angles = tuple(roi_angles)
        self.roi_context = roi_context
        self.min_score = min_score
        self.tiles = tiles
        self.tile_angles = tuple(tile_angles)

    def with_options(self, **options: Any) -> BlazePoseDetector:
        """A copy running other ``angles`` / ``roi_angles`` / ``tiles`` / ``tile_angles`` (a
        quality preset's lighter search), sharing this one's model."""
        unknown = set(options) - {"angles", "roi_angles", "tiles", "tile_angles"}
        if unknown:
            raise PosekitError(f"unknown BlazePose detector options {sorted(unknown)}")
        other = copy.copy(self)
        for k, v in options.items():
            setattr(other, k, tuple(v) if k != "tiles" else int(v))
        return other

    def __call__(self, frame: np.ndarray, rois: Sequence[np.ndarray] | None = None) -> Boxes:
        h, w = frame.shape[:2]
        found = []
        side = float(np.hypot(w, h))
        runs = [(w / 2, h / 2, side, a) for a in self.angles]
        if self.tiles > 1:  # overlapping squares along the long side: small athletes get more pixels
            short, long_ = min(w, h), max(w, h)
            for c in np.linspace(short / 2, long_ - short / 2, self.tiles):
                cx, cy = (c, h / 2) if w >= h else (w / 2, c)
                runs += [(cx, cy, short * 1.15, a) for a in self.tile_angles]
        for roi in rois or []:
            cx, cy, s = box_center_side(roi)
            runs += [(cx, cy, max(s * self.roi_context, 64.0), a) for a in self.roi_angles]
        crops = [(cx, cy, s, a, 384 if s < side else 512, False) for cx, cy, s, a in runs]
        for lm in self.model.on_crops(frame, crops):
            if lm is None:
                continue
            box = landmarks_box(lm)
            if box is not None and box[4] >= self.min_score:
                found.append(box)
        return fuse_boxes(np.array(found, dtype=np.float32)) if found else empty_boxes()


class HOGDetector:
    """OpenCV HOG + linear SVM people detector (Dalal & Triggs), on upscaled, rotated frames."""

    def __init__(self, angles: Sequence[float] = (0,), upscale: float = 2.0, min_score: float = 0.3):
        import cv2

        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.angles = tuple(angles)
        self.upscale = upscale
        self.min_score = min_score

    def __call__(self, frame: np.ndarray, rois: Sequence[np.ndarray] | None = None) -> Boxes:
        import cv2

        from posekit.pose.blazepose import apply_affine, crop_transform, invert_affine

        h, w = frame.shape[:2]
        out = []
        for a in self.angles:
            side = float(np.hypot(w, h))
            size = int(side * self.upscale)
            m = crop_transform(w / 2, h / 2, side, a, size)
            img = cv2.warpAffine(frame, m, (size, size))
            rects, weights = self.hog.detectMultiScale(img, winStride=(8, 8), padding=(8, 8), scale=1.08)
            inv = invert_affine(m)
            for (x, y, rw, rh), s in zip(rects, np.asarray(weights).reshape(-1), strict=False):
                corners = apply_affine(inv, np.array([[x, y], [x + rw, y], [x, y + rh], [x + rw, y + rh]], float))
                score = float(1 / (1 + np.exp(-s)))  # SVM margin -> (0, 1)
                if score >= self.min_score:
                    out.append([*corners.min(0), *corners.max(0), score])
        return nms(np.array(out, dtype=np.float32), 0.5) if out else empty_boxes()


class MMDetDetector:
    """An mmdet detector from a user-given config and checkpoint (person class only).

    The checkpoint is loaded weights-only (:mod:`posekit.checkpoints`) unless
    ``trust_checkpoint``; the config is Python and runs when it is read (as in mmdet)."""

    def __init__(
        self,
        config: str | Path,
        checkpoint: str | Path,
        device: str = "cpu",
        person_class: int = 0,
        score_thr: float = 0.3,
        trust_checkpoint: bool = False,
    ):
        for p, what in ((config, "config"), (checkpoint, "checkpoint")):
            if not Path(p).exists():
                raise PosekitError(f"{p}: mmdet {what} not found")
        from posekit import compat

        compat.install()
        from mmdet.apis import inference_detector, init_detector

        self._infer = inference_detector
        from posekit.checkpoints import load_without_code

        self.model = load_without_code(
            checkpoint,
            "--det-checkpoint",
            lambda: init_detector(str(config), str(checkpoint), device=device),
            trust=trust_checkpoint,
        )
        self.person_class = person_class
        self.score_thr = score_thr

    def __call__(self, frame: np.ndarray, rois: Sequence[np.ndarray] | None = None) -> Boxes:
        res = self._infer(self.model, frame[..., ::-1].copy())  # mmdet expects BGR
        inst = res.pred_instances
        keep = (inst.labels == self.person_class) & (inst.scores >= self.score_thr)
        boxes = inst.bboxes[keep].cpu().numpy()
        scores = inst.scores[keep].cpu().numpy()[:, None]
        return np.concatenate([boxes, scores], 1).astype(np.float32)


class CompositeDetector:
    def __init__(self, detectors: Sequence[Detector], iou: float = 0.5):
        self.detectors = list(detectors)
        self.iou = iou

    def __call__(self, frame: np.ndarray, rois: Sequence[np.ndarray] | None = None) -> Boxes:
        parts = [d(frame, rois) for d in self.detectors]
        boxes = np.concatenate([p for p in parts if len(p)] or [empty_boxes()])
        return nms(boxes, self.iou)


def build_detector(
    kind: str = "blazepose",
    config: str | None = None,
    checkpoint: str | None = None,
    device: str = "cpu",
    trust_checkpoint: bool = False,
    model=None,
) -> Detector:
    """``blazepose`` (default), ``hog``, ``blazepose+hog`` or ``mmdet`` (needs config + checkpoint).
    ``model``: the BlazePose model to run (:func:`posekit.pose.blazepose.build_blazepose`)."""
    if kind == "blazepose":
        return BlazePoseDetector(model=model)
    if kind == "hog":
        return HOGDetector()
    if kind == "blazepose+hog":
        return CompositeDetector([BlazePoseDetector(model=model), HOGDetector()])
    if kind == "mmdet":
        if not (config and checkpoint):
            raise PosekitError("--detector mmdet needs --det-config and --det-checkpoint")
        return MMDetDetector(config, checkpoint, device=device, trust_checkpoint=trust_checkpoint)
    raise PosekitError(f"unknown detector '{kind}' (blazepose, hog, blazepose+hog, mmdet)")
