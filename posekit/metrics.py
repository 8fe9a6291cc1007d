"""AQA, segmentation and keypoint metrics.

* Spearman's rank correlation (FineDiving eq. 13) - :func:`spearman`.
* Relative L2 distance as the published FineDiving/MTL-AQA numbers are computed,
  ``mean(((pred - true) / (max(true) - min(true)))**2)`` reported x100 - :func:`r_l2`.
  The FineDiving paper prints eq. 14 with an absolute value and no square; that form is
  :func:`r_l1` (``../shared/data/golden_metrics/expected.json`` holds both: the squared one
  reproduces the tables).
* MSE - :func:`mse`.
* AIoU@d (FineDiving eq. 11-12) over the 1D boxes between consecutive predicted step
  transitions - :func:`segment_iou`, :func:`aiou`.
* PCKh@alpha - :func:`pckh`: a joint is correct when its distance to the label is at most
  ``alpha`` x the head segment (head_top to upper_neck in MPII-16).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from graphs.layout import Layout, get_layout


def _pair(pred: Sequence[float], true: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    t = np.asarray(true, dtype=np.float64).reshape(-1)
    if p.shape != t.shape:
        raise ValueError(f"pred has {p.size} values, true has {t.size}")
    if p.size == 0:
        raise ValueError("empty inputs")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("pred/true contain NaN or inf")
    return p, t


def spearman(pred: Sequence[float], true: Sequence[float]) -> float:
    """Spearman's rho (Pearson correlation of the ranks, ties averaged) - FineDiving eq. 13."""
    p, t = _pair(pred, true)
    return float(stats.spearmanr(p, t).statistic)


def r_l2(
    pred: Sequence[float], true: Sequence[float], x100: bool = True, score_range: tuple[float, float] | None = None
) -> float:
    """Relative L2 distance, ``mean(((pred - true) / (max - min))**2)`` (x100 by default).

    ``score_range`` defaults to ``(min(true), max(true))`` as in the released evaluation code.
    """
    p, t = _pair(pred, true)
    lo, hi = score_range if score_range is not None else (t.min(), t.max())
    if hi <= lo:
        raise ValueError("the score range is empty (max == min); R-l2 is undefined")
    v = float(np.mean(((p - t) / (hi - lo)) ** 2))
    return v * 100 if x100 else v


def r_l1(pred: Sequence[float], true: Sequence[float], x100: bool = True) -> float:
    """FineDiving eq. 14 as printed: ``mean(|pred - true| / (max - min))``."""
    p, t = _pair(pred, true)
    v = float(np.mean(np.abs(p - t) / (t.max() - t.min())))
    return v * 100 if x100 else v


def mse(pred: Sequence[float], true: Sequence[float]) -> float:
    p, t = _pair(pred, true)
    return float(np.mean((p - t) ** 2))


def score_metrics(pred: Sequence[float], true: Sequence[float]) -> dict[str, float]:
    """The usual AQA table row: SRCC, R-l2 x100, MSE."""
    return {"srcc": spearman(pred, true), "r_l2_x100": r_l2(pred, true), "mse": mse(pred, true)}


# ---------------------------------------------------------------------- segmentation
def _union_length(intervals: np.ndarray) -> float:
    """Total length of a union of closed intervals ``(n, 2)``."""
    if len(intervals) == 0:
        return 0.0
    iv = intervals[np.argsort(intervals[:, 0])]
    total, (cs, ce) = 0.0, iv[0]
    for s, e in iv[1:]:
        if s > ce:
            total += ce - cs
            cs, ce = s, e
        else:
            ce = max(ce, e)
    return float(total + ce - cs)


def _boxes(transits: np.ndarray) -> np.ndarray:
    t = np.asarray(transits, dtype=np.float64).reshape(-1)
    return np.stack([t[:-1], t[1:]], axis=1)


def segment_iou(pred_transits: Sequence[float], true_transits: Sequence[float]) -> float:
    """IoU of the 1D boxes ``[t_k, t_{k+1}]`` between consecutive transitions (eq. 12).

    With two transitions (three stages) this is the IoU of the middle (flight) segment, as
    in TSA's evaluation; with more, of the unions of the boxes. Lengths are continuous
    (``end - start``). Two empty boxes that coincide count as IoU 1.
    """
    p, t = np.asarray(pred_transits, float), np.asarray(true_transits, float)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"expected two 1-D transition lists of the same length, got {p.shape} and {t.shape}")
    if p.size < 2:
        raise ValueError("AIoU needs at least 2 transitions (3 stages): the boxes lie between transitions")
    if (np.diff(p) < 0).any() or (np.diff(t) < 0).any():
        raise ValueError("transitions must be in non-decreasing order")
    bp, bt = _boxes(p), _boxes(t)
    inter = []
    for a in bp:
        for b in bt:
            s, e = max(a[0], b[0]), min(a[1], b[1])
            if e > s:
                inter.append((s, e))
    inter_len = _union_length(np.asarray(inter).reshape(-1, 2))
    union_len = _union_length(np.concatenate([bp, bt]))
    if union_len == 0:
        return 1.0 if np.array_equal(p, t) else 0.0
    return inter_len / union_len


def aiou(
    pred_transits: np.ndarray, true_transits: np.ndarray, d: float | Sequence[float] = 0.5
) -> float | dict[float, float]:
    """AIoU@d (FineDiving eq. 11): fraction of samples whose :func:`segment_iou` is >= d.

    ``pred_transits``/``true_transits`` are ``(N, L)``. With a list of thresholds, returns
    ``{d: value}``.
    """
    p, t = np.asarray(pred_transits), np.asarray(true_transits)
    if p.ndim != 2 or p.shape != t.shape:
        raise ValueError(f"expected (N, L) arrays of the same shape, got {p.shape} and {t.shape}")
    ious = np.array([segment_iou(a, b) for a, b in zip(p, t, strict=True)])
    if isinstance(d, (list, tuple, np.ndarray)):
        return {float(x): float(np.mean(ious >= x)) for x in d}
    return float(np.mean(ious >= d))


# ---------------------------------------------------------------------- keypoints
def pckh(
    pred: np.ndarray,
    true: np.ndarray,
    visible: np.ndarray | None = None,
    alpha: float = 0.5,
    layout: str | Layout = "mpii16",
    pred_valid: np.ndarray | None = None,
) -> dict[str, object]:
    """PCKh@alpha of ``(N, J, 2)`` predictions against labels.

    A labelled (visible) joint is correct when ``|pred - true| <= alpha * |head_a - head_b|``
    with the layout's head segment taken from the labels. Predicted joints marked invalid in
    ``pred_valid`` (e.g. confidence 0) count as wrong. Returns ``{"pckh": overall,
    "per_joint": {name: value}, "n": labelled joints}``; frames whose head is not labelled
    are skipped.
    """
    lay = get_layout(layout)
    if not lay.head or len(lay.head) != 2:
        raise ValueError(f"layout {lay.name} defines no head segment (two joints) for PCKh")
    pred = np.asarray(pred, dtype=np.float64)[..., :2]
    true = np.asarray(true, dtype=np.float64)[..., :2]
    if pred.shape != true.shape or pred.ndim != 3 or pred.shape[1] != lay.num_joints:
        raise ValueError(f"expected (N, {lay.num_joints}, 2) arrays, got {pred.shape} and {true.shape}")
    vis = np.ones(true.shape[:2], bool) if visible is None else np.asarray(visible).astype(bool)
    ha, hb = lay.head_index()
    head = np.linalg.norm(true[:, ha] - true[:, hb], axis=1)
    usable = vis[:, ha] & vis[:, hb] & (head > 0)
    dist = np.linalg.norm(pred - true, axis=2)
    correct = dist <= alpha * head[:, None]
    if pred_valid is not None:
        correct &= np.asarray(pred_valid).astype(bool)
    mask = vis & usable[:, None]
    per_joint = {
        name: (float(correct[:, j][mask[:, j]].mean()) if mask[:, j].any() else float("nan"))
        for j, name in enumerate(lay.joints)
    }
    overall = float(correct[mask].mean()) if mask.any() else float("nan")
    return {"pckh": overall, "per_joint": per_joint, "n": int(mask.sum()), "frames": int(usable.sum())}


def stage_iou(pred_boundaries: np.ndarray, true_boundaries: np.ndarray, T: int) -> np.ndarray:
    """Per-stage temporal IoU ``(N, K)`` of predicted vs true stages on a ``T``-frame grid.
    Boundaries ``(N, K - 1)`` are the last frame of every stage but the final one
    (:mod:`posekit.datasets.stages`): stage ``k`` spans ``[b_{k-1} + 1, b_k]`` with
    ``b_{-1} = -1`` and ``b_{K-1} = T - 1``; IoU counts frames."""
    p = np.asarray(pred_boundaries, dtype=np.int64).reshape(len(pred_boundaries), -1)
    t = np.asarray(true_boundaries, dtype=np.int64).reshape(len(true_boundaries), -1)
    N, K = p.shape[0], p.shape[1] + 1

    def spans(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ends = np.concatenate([b, np.full((N, 1), T - 1)], axis=1)
        starts = np.concatenate([np.zeros((N, 1), np.int64), b + 1], axis=1)
        return starts, ends

    ps, pe = spans(p)
    ts, te = spans(t)
    inter = np.clip(np.minimum(pe, te) - np.maximum(ps, ts) + 1, 0, None)
    union = (pe - ps + 1) + (te - ts + 1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0).reshape(N, K)
