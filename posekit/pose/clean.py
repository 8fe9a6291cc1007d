"""Cleaning a raw skeleton track: drop unreliable joints, remove outliers, fill gaps.

Order of operations (:func:`clean`):

1. joints with confidence below ``min_conf`` become missing;
2. left/right swaps between neighbouring frames are undone (:func:`fix_lr_swaps`);
3. outliers become missing: joints whose bone lengths disagree with the clip's median
   bone lengths, and joints whose frame-to-frame velocity jumps far above the clip's
   typical speed (:func:`remove_outliers`);
4. gaps are filled by linear interpolation in time between the nearest valid frames,
   holding the nearest value at the ends (:func:`interpolate_missing`); a joint missing in
   every frame stays missing;
5. optional temporal smoothing (Savitzky-Golay, scipy).

Every filled joint is marked in the interpolated mask. HP-MCoRe eq. 27 prints the
interpolation weights swapped (at ``k = i`` it would return ``p_j``); the intended
``p_k = p_i (j-k)/(j-i) + p_j (k-i)/(j-i)`` is what :func:`interpolate_missing` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphs import get_layout
from posekit.skeleton import SkeletonSequence


@dataclass
class CleanConfig:
    min_conf: float = 0.3
    bone_tolerance: float = 0.6  # a bone longer than (1 + this) x its median length is wrong
    velocity_factor: float = 6.0  # a step larger than factor x the median step is a jump
    min_velocity_px: float = 0.15  # ... and larger than this fraction of the median torso/bone scale
    fix_swaps: bool = True
    smooth_window: int = 0  # odd window for Savitzky-Golay smoothing; 0 = off
    interp_conf: float = 0.5  # confidence given to filled joints (scaled by the neighbours')


def interpolate_missing(xy: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation in time per joint (ends held); returns (xy, filled mask)."""
    T, J, _ = xy.shape
    out = xy.copy()
    filled = np.zeros((T, J), bool)
    t = np.arange(T)
    for j in range(J):
        v = valid[:, j]
        if v.all() or not v.any():
            continue
        for c in range(2):
            out[~v, j, c] = np.interp(t[~v], t[v], xy[v, j, c])  # np.interp holds the end values
        filled[~v, j] = True
    return out, filled


def fix_lr_swaps(xy: np.ndarray, valid: np.ndarray, flip_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Undo left/right swaps: a frame whose joints are closer to the previous frame's with the
    left/right pairs exchanged (by a clear margin) is exchanged. Returns (xy, valid, count)."""
    xy, valid = xy.copy(), valid.copy()
    paired = flip_index != np.arange(len(flip_index))
    swaps = 0
    prev = None
    for t in range(len(xy)):
        if prev is not None:
            both = valid[t] & valid[prev] & paired
            sw_valid = valid[t][flip_index] & valid[prev] & paired
            if both.sum() >= 4 and sw_valid.sum() >= 4:
                d0 = np.linalg.norm(xy[t][both] - xy[prev][both], axis=1).mean()
                d1 = np.linalg.norm(xy[t][flip_index][sw_valid] - xy[prev][sw_valid], axis=1).mean()
                if d1 < 0.6 * d0:
                    xy[t], valid[t] = xy[t][flip_index], valid[t][flip_index]
                    swaps += 1
        if valid[t].sum() >= 4:
            prev = t
    return xy, valid, swaps


def remove_outliers(xy: np.ndarray, valid: np.ndarray, bones: np.ndarray, cfg: CleanConfig) -> tuple[np.ndarray, int]:
    """Mark as missing the joints that break bone-length or velocity consistency."""
    valid = valid.copy()
    removed = 0
    # bone lengths against the clip median: a 2D projection can shorten a bone (foreshortening)
    # but never lengthen it, so only bones much longer than their median are wrong; of the
    # two ends, a joint in two or more such bones goes
    if len(bones):
        a, b = bones[:, 0], bones[:, 1]
        length = np.linalg.norm(xy[:, a] - xy[:, b], axis=2)  # (T, B)
        ok = valid[:, a] & valid[:, b]
        med = np.array([np.median(length[ok[:, k], k]) if ok[:, k].sum() >= 3 else np.nan for k in range(len(bones))])
        for t in range(len(xy)):
            bad = ok[t] & np.isfinite(med) & (length[t] > (1 + cfg.bone_tolerance) * med)
            if bad.any():
                votes = np.bincount(np.concatenate([a[bad], b[bad]]), minlength=xy.shape[1])
                worst = np.nonzero(votes >= 2)[0]
                if len(worst):
                    removed += int(valid[t, worst].sum())
                    valid[t, worst] = False
    # velocity jumps
    step = np.linalg.norm(np.diff(xy, axis=0), axis=2)  # (T-1, J)
    both = valid[1:] & valid[:-1]
    if both.any():
        scale = np.median(np.linalg.norm(xy[:, bones[:, 0]] - xy[:, bones[:, 1]], axis=2)) if len(bones) else 1.0
        typical = np.median(step[both])
        thr = max(cfg.velocity_factor * typical, cfg.min_velocity_px * scale)
        for t in range(1, len(xy) - 1):
            for j in np.nonzero(valid[t])[0]:
                # a spike: far from both neighbours while the neighbours agree with each other
                if valid[t - 1, j] and valid[t + 1, j]:
                    d_prev, d_next = step[t - 1, j], step[t, j]
                    d_skip = np.linalg.norm(xy[t + 1, j] - xy[t - 1, j])
                    if d_prev > thr and d_next > thr and d_skip < thr:
                        valid[t, j] = False
                        removed += 1
    return valid, removed


def clean(seq: SkeletonSequence, cfg: CleanConfig | None = None) -> tuple[SkeletonSequence, dict]:
    """Apply the cleaning steps; returns the clean sequence and a report."""
    cfg = cfg or CleanConfig()
    lay = get_layout(seq.layout)
    xy = seq.xy.astype(np.float64)
    conf = seq.confidence.astype(np.float64)
    valid = conf >= cfg.min_conf
    low = int((~valid & (conf > 0)).sum())
    swaps = 0
    if cfg.fix_swaps:
        xy, valid, swaps = fix_lr_swaps(xy, valid, lay.flip_index)
        conf = np.where(valid, conf, 0)
    valid, outliers = remove_outliers(xy, valid, lay.bone_index, cfg)
    filled_xy, filled = interpolate_missing(xy, valid)
    if cfg.smooth_window and cfg.smooth_window >= 3 and len(xy) > cfg.smooth_window:
        from scipy.signal import savgol_filter

        has = valid | filled
        filled_xy = np.where(has[..., None], savgol_filter(filled_xy, cfg.smooth_window, 2, axis=0), filled_xy)
    out_conf = np.where(valid, conf, 0.0)
    out_conf = np.where(filled, cfg.interp_conf, out_conf)
    data = np.concatenate([filled_xy, out_conf[..., None]], axis=2).astype(np.float32)
    data[out_conf <= 0, :2] = 0
    clean_seq = seq.copy(data=data, interpolated=seq.interpolated | filled)
    never = [lay.joints[j] for j in range(lay.num_joints) if not valid[:, j].any()]
    report = {
        "low_confidence_dropped": low,
        "lr_swaps_fixed": swaps,
        "outliers_removed": outliers,
        "interpolated_fraction_per_joint": {
            lay.joints[j]: round(float(filled[:, j].mean()), 4) for j in range(lay.num_joints)
        },
        "interpolated_fraction": round(float(filled.mean()), 4),
        "missing_everywhere": never,
    }
    return clean_seq, report
