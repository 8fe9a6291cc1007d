"""``posekit extract``: a broadcast clip -> a clean skeleton sequence of the athlete.

read (PyAV / frame folder) -> detect people -> track the athlete (eq. 25 + Kalman) ->
top-down pose (BlazePose TTA or mmpose HRNet) -> clean (threshold, outliers, eq. 27
interpolation) -> write (.npz, QC report JSON, optional overlay video/GIF).

Each stage is a component with a small interface (:mod:`~posekit.pose.detect`,
:mod:`~posekit.pose.track`, :mod:`~posekit.pose.estimate`, :mod:`~posekit.pose.clean`);
:func:`extract` wires them and times them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from posekit.pose.clean import CleanConfig, clean
from posekit.pose.track import BEFORE, LOST, PREDICTED, TRACKED, AthleteTracker, TrackerConfig, choose_initial_box
from posekit.pose.video import Clip, read_clip
from posekit.skeleton import SkeletonSequence


@dataclass
class ExtractConfig:
    start: int = 0
    end: int | None = None
    num_frames: int | None = None  # e.g. 96, linearly spaced (FineDiving)
    max_side: int | None = 640  # frames are downsized to this longest side
    init_frames: int = 6  # frames looked at for automatic initialisation
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    box_margin: float = 0.25  # joints further than this fraction of the box size outside it are dropped
    progress: bool = True


@dataclass
class ExtractResult:
    skeleton: SkeletonSequence
    raw: SkeletonSequence
    report: dict[str, Any]
    boxes: np.ndarray  # (T, 4) athlete box per frame (NaN where none)
    status: list[str]
    clip: Clip | None = None


def track_athlete(
    clip: Clip, detector, first_box: np.ndarray | None, cfg: ExtractConfig
) -> tuple[np.ndarray, list[str], np.ndarray, list[int], dict]:
    """Detect + track over the clip; returns boxes (T, 4), status, scores, candidates, timing."""
    T = len(clip)
    timing = {"detect": 0.0, "track": 0.0}
    dets: dict[int, np.ndarray] = {}
    start = 0
    if first_box is None:
        t0 = time.perf_counter()
        for t in range(min(cfg.init_frames, T)):
            dets[t] = detector(clip.frames[t])
        timing["detect"] += time.perf_counter() - t0
        init = choose_initial_box(
            [dets[t] for t in range(min(cfg.init_frames, T))], cfg.tracker.gate, cfg.tracker.min_score
        )
        if init is None:  # nobody in the first frames: scan on until someone appears
            for t in range(min(cfg.init_frames, T), T):
                t0 = time.perf_counter()
                dets[t] = detector(clip.frames[t])
                timing["detect"] += time.perf_counter() - t0
                if len(dets[t]):
                    init = (t, dets[t][np.argmax(dets[t][:, 4]), :4])
                    break
        if init is None:
            return (np.full((T, 4), np.nan), [LOST] * T, np.zeros(T), [len(dets.get(t, [])) for t in range(T)], timing)
        start, first_box = init
    tracker = AthleteTracker(np.asarray(first_box, float), cfg.tracker)
    boxes = np.full((T, 4), np.nan)
    status = [BEFORE] * start
    scores = np.zeros(T)
    ncand = [len(dets.get(t, [])) for t in range(T)]
    stepped: list[int] = []
    it = range(start, T)
    for t in tqdm(it, desc="track", disable=not cfg.progress, leave=False):
        roi = tracker.predicted_box()
        t0 = time.perf_counter()
        cand = detector(clip.frames[t], rois=[roi])
        timing["detect"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        st, box, sc = tracker.step(cand)
        timing["track"] += time.perf_counter() - t0
        ncand[t] = len(cand)
        status.append(st)
        scores[t] = sc
        if st == LOST:
            status.extend([LOST] * (T - t - 1))
            break
        boxes[t] = box
        stepped.append(t)
    if cfg.tracker.smooth and stepped:
        sm = tracker.smoothed_boxes()
        boxes[stepped] = sm[: len(stepped)]
    # trailing predictions after the last real association are not the athlete any more
    last = max((t for t in stepped if status[t] == TRACKED), default=None)
    if last is not None:
        for t in stepped:
            if t > last and status[t] == PREDICTED:
                status[t] = LOST
                boxes[t] = np.nan
    return boxes, status, scores, ncand, timing


def drop_outside_box(poses: np.ndarray, boxes: np.ndarray, margin: float) -> int:
    """Mark as missing (in place) the joints far outside the athlete's box; returns the count."""
    n = 0
    for t in range(len(poses)):
        if not np.isfinite(boxes[t]).all():
            continue
        x0, y0, x1, y1 = boxes[t]
        mx, my = margin * (x1 - x0), margin * (y1 - y0)
        xy, ok = poses[t, :, :2], poses[t, :, 2] > 0
        out = ok & ((xy[:, 0] < x0 - mx) | (xy[:, 0] > x1 + mx) | (xy[:, 1] < y0 - my) | (xy[:, 1] > y1 + my))
        poses[t, out] = 0
        n += int(out.sum())
    return n


def extract(
    video: str | Path | Clip,
    detector=None,
    estimator=None,
    first_box: np.ndarray | None = None,
    config: ExtractConfig | None = None,
    out: str | Path | None = None,
    overlay: str | Path | None = None,
    report_path: str | Path | None = None,
) -> ExtractResult:
    """Extract the athlete's skeleton from a clip (video file, frame folder or a decoded Clip).

    Returns the cleaned :class:`SkeletonSequence` (MPII-16 by default), the raw one, the QC
    report and the per-frame boxes; writes the ``.npz`` / report / overlay when paths are given.
    """
    from posekit.pose.detect import build_detector
    from posekit.pose.estimate import build_estimator

    cfg = config or ExtractConfig()
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    clip = video if isinstance(video, Clip) else read_clip(video, cfg.start, cfg.end, cfg.num_frames, cfg.max_side)
    t_read = time.perf_counter() - t0
    detector = detector or build_detector("blazepose")
    estimator = estimator or build_estimator("blazepose")

    boxes, status, scores, ncand, timing = track_athlete(clip, detector, first_box, cfg)
    t0 = time.perf_counter()
    has = np.isfinite(boxes).all(1)
    frames_idx = [t for t in range(len(clip)) if has[t]]
    poses = np.zeros((len(clip), 16, 3), np.float32)
    info: list[dict] = [{"runs": 0, "rotation": None} for _ in range(len(clip))]
    for t in tqdm(frames_idx, desc="pose", disable=not cfg.progress, leave=False):
        p, inf = estimator.estimate([clip.frames[t]], [boxes[t]])
        poses[t], info[t] = p[0], inf[0]
    t_pose = time.perf_counter() - t0
    outside = drop_outside_box(poses, boxes, cfg.box_margin)

    layout = getattr(estimator, "layout", "mpii16")
    meta = {
        "source": clip.source,
        "pipeline": "posekit.extract",
        "estimator": type(estimator).__name__,
        "detector": type(detector).__name__,
    }
    raw = SkeletonSequence(poses, layout=layout, fps=clip.fps, frame_indices=clip.indices, meta=meta)
    t0 = time.perf_counter()
    if raw.valid.any():
        cleaned, clean_report = clean(raw, cfg.clean)
    else:
        cleaned, clean_report = raw, {"interpolated_fraction": 0.0, "missing_everywhere": list(raw.layout_obj.joints)}
    t_clean = time.perf_counter() - t0
    # frames without the athlete (before the track, after it was lost) stay empty
    cleaned.data[~has] = 0
    cleaned.interpolated[~has] = False

    conf = raw.confidence
    report: dict[str, Any] = {
        "source": clip.source,
        "frames_read": len(clip),
        "frame_size": list(clip.size),
        "fps": clip.fps,
        "athlete_found": [s == TRACKED for s in status],
        "status": status,
        "found_fraction": round(float(np.mean([s == TRACKED for s in status])), 4),
        "track_lost_frames": [t for t, s in enumerate(status) if s == LOST],
        "predicted_frames": [t for t, s in enumerate(status) if s == PREDICTED],
        "boxes": [None if not has[t] else [round(float(v), 1) for v in boxes[t]] for t in range(len(clip))],
        "detection_scores": [round(float(s), 3) for s in scores],
        "candidates_per_frame": ncand,
        "mean_confidence": round(float(conf[conf > 0].mean()), 4) if (conf > 0).any() else 0.0,
        "rotation_used": [i.get("rotation") for i in info],
        "joints_outside_box_dropped": outside,
        "cleaning": clean_report,
        "seconds": {
            "read": round(t_read, 3),
            "detect": round(timing["detect"], 3),
            "track": round(timing["track"], 3),
            "pose": round(t_pose, 3),
            "clean": round(t_clean, 3),
            "total": round(time.perf_counter() - t_all, 3),
        },
    }
    report["fps_processed"] = round(len(clip) / max(report["seconds"]["total"], 1e-9), 3)
    cleaned.meta["qc"] = {k: report[k] for k in ("found_fraction", "mean_confidence")}
    result = ExtractResult(cleaned, raw, report, boxes, status, clip)
    write_outputs(result, out, overlay, report_path)
    return result


def write_outputs(
    result: ExtractResult, out: str | Path | None, overlay: str | Path | None, report_path: str | Path | None
) -> None:
    from posekit.io import write_json

    if out is not None:
        out = Path(out)
        result.skeleton.save(out)
        result.report["output"] = str(out)
        if report_path is None:
            report_path = out.with_suffix(".report.json")
    if overlay is not None and result.clip is not None:
        from posekit.pose.overlay import render_overlay
        from posekit.pose.video import write_video

        frames = render_overlay(result.clip.frames, result.skeleton, result.boxes, result.status)
        write_video(overlay, frames, fps=min(result.clip.fps, 25.0))
        result.report["overlay"] = str(overlay)
    if report_path is not None:
        write_json(report_path, result.report)
        result.report["report"] = str(report_path)
