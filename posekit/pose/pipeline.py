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
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:
    from graphs import Layout

from posekit.pose.clean import CleanConfig, clean
from posekit.pose.detect import box_iou_np
from posekit.pose.track import (
    BEFORE,
    LOST,
    PREDICTED,
    TRACKED,
    AthleteTracker,
    TrackerConfig,
    TrackResult,
    bhattacharyya,
    camera_motion,
    choose_initial_box,
    choose_single_frame,
    colour_histogram,
)
from posekit.pose.video import Clip, read_clip
from posekit.skeleton import SkeletonSequence


@dataclass
class ExtractConfig:
    start: int = 0
    end: int | None = None
    num_frames: int | None = None  # e.g. 96, linearly spaced (FineDiving)
    repeat_frames: bool = False  # num_frames above the clip's length repeats frames (else an error)
    max_side: int | None = 640  # frames are downsized to this longest side
    init_frames: int = 6  # frames looked at for automatic initialisation
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    box_margin: float = 0.25  # joints further than this fraction of the box size outside it are dropped
    progress: bool = True
    quality: str = "balanced"  # fast | balanced | accurate (QUALITY)

    def __post_init__(self) -> None:
        if self.quality not in QUALITY:
            from posekit.errors import PosekitError

            raise PosekitError(f"unknown quality {self.quality!r}; expected one of {list(QUALITY)}")


#: What each preset runs on a frame whose athlete was tracked in the previous frame (the
#: temporal path). ``direct``: BlazePose's landmark network alone (LiteRT) on the region the
#: previous poses give (:meth:`BlazePoseEstimator.estimate_tracked`), ``passes`` times, at
#: ``offsets`` degrees around the predicted orientation, mirrored when ``mirror``; without
#: ``ai-edge-litert`` the solution API runs the same offsets on the predicted box. ``accurate``
#: runs the full detector + 8 angles x mirror + refine on every frame; every preset falls
#: back to that full search on the first frame, after a miss, and when the temporal pose is
#: not confident or not where the athlete should be. The start is cheaper too: the athlete is
#: chosen over at most ``init_frames`` first frames, with the detector's lighter
#: ``start_detector`` search (``balanced`` and ``fast``: the whole frame at 0 and 180 degrees
#: and the tiles upright; the full search when that finds nobody), and the chosen detection is taken as
#: the start frame's (``accurate`` detects there again). A preset's full search is lighter
#: too: ``balanced`` refines the start frame's (``start_search``) only at the 3 angles whose
#: first runs were the most confident, ``fast`` runs 4 angles x mirror without the refine
#: pass (``search``, also on fall-backs) and runs with the direct BlazePose backend (its
#: detector and full searches through LiteRT; ``--blazepose auto``,
#: :func:`posekit.pose.blazepose.backend_for`). Chosen with ``python
#: bench/quality_presets.py`` (README, "Quality presets"); the direct landmark network
#: runs on the process's cores (:func:`posekit.pose.blazepose.set_num_threads`).
QUALITY: dict[str, dict[str, Any] | None] = {
    "fast": {  # with the direct BlazePose backend by default (--blazepose auto)
        "offsets": (0.0,),
        "mirror": True,
        "direct": True,
        "passes": 1,  # 2 runs (4 when the pose moved or turned)
        "init_frames": 2,
        "start_detector": {"angles": (0, 180), "tile_angles": (0,)},
        "search": {"angles": (0, 90, 180, 270), "refine": False},
    },
    "balanced": {
        "offsets": (0.0,),
        "mirror": True,
        "direct": True,
        "passes": 2,  # 4 runs
        "init_frames": 3,
        "start_detector": {"angles": (0, 180), "tile_angles": (0,)},
        # the start frame's full search: 8 angles x mirror, refined at the 3 most confident
        # (fall-backs, where the temporal pose failed, keep the refine at every angle)
        "start_search": {"refine_angles": 3},
    },
    "accurate": None,
}


@dataclass
class ExtractResult:
    skeleton: SkeletonSequence
    raw: SkeletonSequence
    report: dict[str, Any]
    boxes: np.ndarray  # (T, 4) athlete box per frame (NaN where none)
    status: list[str]
    clip: Clip | None = None
    landmarks: np.ndarray | None = None  # (T, K, 3) the estimator's own landmarks before any mapping

    @property
    def how_found(self) -> list[str]:
        return self.report["how_found"]


def _initial_box(
    clip: Clip, detector, first_box: np.ndarray | None, cfg: ExtractConfig, timing: dict
) -> tuple[int, np.ndarray, str] | None:
    """Where the track starts, the athlete's detection there (``x0, y0, x1, y1[, score]``) and
    how the athlete was chosen (None: nobody found). A preset's ``start_detector`` options
    make the detector's search lighter on these frames; when the lighter search finds nobody
    in any of them, the full one runs."""
    if first_box is not None:
        return 0, np.asarray(first_box, float)[:4], "given (--first-box)"
    preset = _preset(cfg, len(clip)) or {}
    T, n = len(clip), min(cfg.init_frames, preset.get("init_frames", cfg.init_frames), len(clip))
    light = _lighter(detector, preset.get("start_detector"))
    t0 = time.perf_counter()
    dets = [light(clip.frames[t]) for t in range(n)]
    if light is not detector and not any(len(d) for d in dets):
        dets = [detector(clip.frames[t]) for t in range(n)]
    timing["detect"] += time.perf_counter() - t0
    if n > 1:
        init = choose_initial_box(dets, cfg.tracker.gate, cfg.tracker.min_score)
        if init is not None:
            return init[0], init[1], f"the most confident, most moving person over the first {n} frames"
    for t in range(T):
        if t >= n:
            t0 = time.perf_counter()
            dets.append(detector(clip.frames[t]))
            timing["detect"] += time.perf_counter() - t0
        box = choose_single_frame(dets[t], clip.size, cfg.tracker.min_score)
        if box is not None:
            return t, box, "single-frame rule: confidence x sqrt(box area) x centrality"
    return None


def _preset(cfg: ExtractConfig, frames: int) -> dict[str, Any] | None:
    """What ``cfg.quality`` runs on a clip of ``frames`` frames: a single frame (a photo) has
    no next frame to reuse the work for, so every preset runs the full search there."""
    return QUALITY[cfg.quality] if frames > 1 else None


def _lighter(detector, options: dict | None):
    """The detector with a preset's lighter options, when it takes them (BlazePose)."""
    if options and hasattr(detector, "with_options"):
        return detector.with_options(**options)
    return detector


def _pose_box(pose: np.ndarray, min_conf: float = 0.5, min_fraction: float = 0.4) -> np.ndarray | None:
    """The athlete's box from the pose's own joints, when enough of them are confident."""
    from posekit.pose.detect import landmarks_box

    if (pose[:, 2] >= min_conf).mean() < min_fraction:
        return None
    return landmarks_box(pose, min_vis=min_conf)


def _torso(pose: np.ndarray, layout: str | Layout, min_conf: float = 0.5) -> float | None:
    """The pose's torso length in pixels, ``|mean(neck) - mean(root)|`` with the layout's own
    ``root`` and ``neck`` joints (``graphs/``: the same torso :meth:`SkeletonSequence.normalise`
    scales by), when all of them are confident; None otherwise or when the layout defines no
    root/neck."""
    from graphs import get_layout

    lay = get_layout(layout)
    if not lay.root or not lay.neck:
        return None
    root, neck = lay.root_index(), lay.neck_index()
    if (pose[root + neck, 2] < min_conf).any():
        return None
    return float(np.linalg.norm(pose[neck, :2].mean(0) - pose[root, :2].mean(0)))


def _estimate(estimator, frame: np.ndarray, box: np.ndarray, search: dict | None) -> tuple[np.ndarray, list[dict]]:
    """The estimator's full search on one box; ``search``: a preset's overrides (angles, mirror,
    refine) for estimators that take them."""
    if search and hasattr(estimator, "estimate_one"):
        pose, info = estimator.estimate_one(frame, box, **search)
        return pose[None], [info]
    return estimator.estimate([frame], [box])


def _estimate_checked(
    estimator, frame: np.ndarray, box: np.ndarray, retry_factor: float = 1.6, search: dict | None = None
) -> tuple[np.ndarray, dict, np.ndarray | None]:
    """The pose on ``box``, checked by its own confidence: when too few joints are confident
    (a box cut to part of the body: a tucked diver's legs, a blurred arm), the pose is estimated
    again on the box widened by ``retry_factor`` and the more confident of the two is kept.
    Returns the pose, its info (``retried``) and the pose's own box (None: not confident)."""
    pose, info = _estimate(estimator, frame, box, search)
    pb = _pose_box(pose[0])
    if pb is not None:
        return pose[0], {**info[0], "retried": False}, pb
    pose2, info2 = _estimate(estimator, frame, _widened(box, retry_factor), search)
    if pose2[0][:, 2].mean() > pose[0][:, 2].mean():
        return pose2[0], {**info2[0], "retried": True}, _pose_box(pose2[0])
    return pose[0], {**info[0], "retried": True}, None


def _inside_frame(box: np.ndarray, shape: tuple[int, ...], min_fraction: float = 0.7) -> bool:
    """Whether most of ``box`` lies in the frame (a pose fitted to the image edge is not the athlete)."""
    h, w = shape[:2]
    inner = np.array([max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)])
    area = lambda b: max(b[2] - b[0], 0) * max(b[3] - b[1], 0)  # noqa: E731
    return area(inner) >= min_fraction * max(area(box), 1e-9)


def _widened(box: np.ndarray, factor: float) -> np.ndarray:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = factor * (box[2] - box[0]) / 2, factor * (box[3] - box[1]) / 2
    return np.array([cx - hw, cy - hh, cx + hw, cy + hh])


def _outside(box: np.ndarray, size: tuple[int, int]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return not (0 <= cx < size[0] and 0 <= cy < size[1])


def _track_frame(
    tr: AthleteTracker,
    clip: Clip,
    t: int,
    detector,
    estimator,
    last_box,
    timing: dict,
    near: dict | None = None,
    detected: np.ndarray | None = None,
) -> dict:
    """One frame: camera compensation, Kalman prediction, detection in the (widened) search
    region, association (eq. 25 + confidence + colour), the pose on the athlete's box, and
    re-acquisition by the landmarker when the detector missed. With ``near`` (the temporal
    path of a preset, the previous frame's rotation in ``near["rotation"]``) the pose is
    first estimated on the predicted box with the preset's few runs; a confident, plausible
    pose measures the athlete without running the detector. ``detected``: this frame's
    detections when they are already known (the frame the athlete was chosen on)."""
    frame, out = clip.frames[t], {"shift": 0.0, "pose": None, "info": {"runs": 0, "rotation": None}}
    pred = tr.begin()
    alt: list[np.ndarray] = []  # the box moved with the camera: the athlete stays, the camera pans or zooms
    if tr.cfg.compensate_camera and t > 0 and last_box is not None:
        a = camera_motion(clip.frames[t - 1], frame, last_box)
        c = (last_box[:2] + last_box[2:4]) / 2
        out["shift"] = float(np.hypot(*(a[:, :2] @ c + a[:, 2] - c)))
        corners = np.array([last_box[:2], last_box[2:4]]) @ a[:, :2].T + a[:, 2]
        alt = [corners.reshape(-1)]
    if tr.started and _outside(pred, clip.size) and not any(not _outside(b, clip.size) for b in alt):
        tr.lost = True
        return {**out, "status": LOST, "box": None, "score": 0.0, "cand": 0, "how": "lost: left the frame"}
    if near is not None and tr.started and not tr.misses:
        temporal = _temporal(tr, estimator, frame, pred, alt, near, timing, last_box)
        if temporal is not None:
            return {**out, **temporal}
    overrides = None if near is None else near.get("search")  # a preset's cheaper full search
    grow = 1 + tr.cfg.widen_per_miss * tr.misses  # the search region widens with every miss
    search = _widened(pred, grow)
    t0 = time.perf_counter()
    if detected is None:
        detected = detector(frame, rois=[pred, *alt] if not tr.misses else [pred, search, *alt])
    cand = np.asarray(detected)
    timing["detect"] += time.perf_counter() - t0
    app = None if tr.appearance is None else [bhattacharyya(colour_histogram(frame, c), tr.appearance) for c in cand]
    i = tr.associate(pred, cand.astype(np.float64).reshape(-1, 5), app, alt)
    if i is not None:
        meas, how, pose = _measure_detected(tr, estimator, frame, cand[i], timing, overrides)
        if tr.misses and pose is not None and not pose[1].get("runs"):
            # after a miss, a detection the pose estimator finds nobody in (a splash, a blur) does not
            # re-acquire the athlete: it stays a miss
            meas, how, i = None, f"predicted (miss {tr.misses + 1}; the detection had no pose)", None
    else:
        regions = [search] + [_widened(b, grow) for b in alt]
        meas, how, pose = _reacquire(tr, estimator, frame, pred, regions, alt, timing, grow, overrides)
        how = how or f"predicted (miss {tr.misses + 1})"
    out["pose"], out["info"] = pose if pose is not None else (None, out["info"])
    st, box, sc = tr.finish(None if meas is None else meas[:4], float(cand[i, 4]) if i is not None else 0.0)
    if st == TRACKED:
        tr.update_appearance(colour_histogram(frame, meas))
        box = np.asarray(meas[:4], np.float64)  # the athlete's measured box (what the pose was fitted in)
    if st == LOST:
        how = f"lost: {tr.cfg.max_misses + 1} frames without the athlete"
    return {**out, "status": st, "box": box, "score": sc, "cand": len(cand), "how": how}


def _temporal_pose(estimator, frame, pred, near: dict, last_box) -> tuple[np.ndarray, dict] | None:
    """The preset's few runs: on the region the previous frame's landmarks give, moved with the
    predicted box, through the direct landmark network when the preset asks for it and it is
    installed; otherwise on the predicted box through the solution API."""
    history = near.get("history") or []
    if near.get("direct") and history and last_box is not None and getattr(estimator, "landmarker", None):
        shift = (pred[:2] + pred[2:4]) / 2 - (np.asarray(last_box[:2]) + np.asarray(last_box[2:4])) / 2
        return estimator.estimate_tracked(frame, history, shift, near["offsets"], near["mirror"], near.get("passes", 1))
    if not hasattr(estimator, "estimate_near") or near.get("rotation") is None:
        return None
    return estimator.estimate_near(frame, pred[:4], near["rotation"], near["offsets"], near["mirror"])


def _temporal(tr: AthleteTracker, estimator, frame, pred, alt: list, near: dict, timing: dict, last_box) -> dict | None:
    """The temporal path (quality presets): the pose near the predicted box with a few runs
    around the previous orientation; ``None`` (run the full path) unless it is confident,
    inside the frame and where the athlete can be."""
    t0 = time.perf_counter()
    got = _temporal_pose(estimator, frame, pred, near, last_box)
    timing["pose"] += time.perf_counter() - t0
    if got is None:
        return None
    pose, info = got
    pb = _pose_box(pose)
    planned = len(near["offsets"]) * (2 if near["mirror"] else 1)
    if info.get("runs", 0) * 2 < planned or pose[:, 2].mean() < near.get("min_agreement", 0.7):
        return None  # most runs found nobody, or they disagree: not enough evidence to skip the search
    if pb is None or not _inside_frame(pb, frame.shape) or not tr.plausible(pred, pb, 2.0, alternatives=alt):
        return None
    # the pose refines the predicted box, it does not move it elsewhere (onto a judge, into the
    # splash), and it must look like the athlete: otherwise the full search decides
    if box_iou_np(pb[None, :4], pred[None, :4])[0, 0] < near.get("min_iou", 0.3):
        return None
    hist = colour_histogram(frame, pb)
    if tr.someone_else(hist):
        return None
    st, box, sc = tr.finish(pb[:4], float(pose[:, 2].mean()))
    if st != TRACKED:
        return None
    tr.update_appearance(hist)
    kind, centre = "direct " if info.get("direct") else "", info["angles"][len(info["angles"]) // 2]
    how = f"tracked by the pose ({info['runs']} {kind}runs near {centre:.0f} deg)"
    return {
        "status": st,
        "box": np.asarray(pb[:4], np.float64),
        "score": sc,
        "cand": 0,
        "how": how,
        "pose": pose,
        "info": {**info, "temporal": True},
    }


def _measure_detected(tr: AthleteTracker, estimator, frame, det: np.ndarray, timing: dict, search: dict | None):
    """The detected athlete: the pose on its box; the pose's own box measures it when plausible."""
    if estimator is None:
        return det[:4], "detected", None
    t0 = time.perf_counter()
    pose, info, pb = _estimate_checked(estimator, frame, det[:4], search=search)
    timing["pose"] += time.perf_counter() - t0
    # the pose refines the detected box; it does not move it elsewhere (a pose fitted across two
    # people, or across the splash, is not the athlete's box)
    use_pose = pb is not None and tr.plausible(det, pb) and box_iou_np(pb[None, :4], det[None, :4])[0, 0] >= 0.3
    return (pb[:4] if use_pose else det[:4]), "detected" + (", box from the pose" if use_pose else ""), (pose, info)


def _reacquire(
    tr: AthleteTracker,
    estimator,
    frame,
    pred: np.ndarray,
    regions: list[np.ndarray],
    alt: list[np.ndarray],
    timing: dict,
    grow: float,
    search: dict | None,
):
    """The detector missed: the landmarker looks in the (widened) predicted region, then where
    the camera moved the athlete; the first confident, plausible pose re-acquires the track."""
    if estimator is None:
        return None, "", None
    for k, region in enumerate(regions):
        t0 = time.perf_counter()
        pose, info, pb = _estimate_checked(estimator, frame, region, search=search)
        timing["pose"] += time.perf_counter() - t0
        if pb is not None and _inside_frame(pb, frame.shape) and tr.plausible(pred, pb, alternatives=alt):
            if tr.someone_else(colour_histogram(frame, pb)):
                continue  # a pose in the region, but not in the athlete's colours (a spectator, a judge)
            if tr.too_large(_torso(pose, getattr(estimator, "layout", "mpii16"))):
                continue  # a body far larger than the athlete's (a splash read as a pose)
            where = "predicted region" if k == 0 else "camera-moved region"
            return (
                pb[:4],
                f"re-acquired by the landmarker ({where}, x{grow:.1f})",
                (
                    pose,
                    info,
                ),
            )
    return None, "", None


def track_athlete(
    clip: Clip, detector, first_box: np.ndarray | None, cfg: ExtractConfig, estimator=None
) -> TrackResult:
    """Detect and track the athlete over the clip; with an ``estimator`` the pose is estimated
    online on each frame's athlete box (and re-acquires the athlete when the detector misses)."""
    T = len(clip)
    timing = {"detect": 0.0, "pose": 0.0}
    res = TrackResult(np.full((T, 4), np.nan), [BEFORE] * T, np.zeros(T), [0] * T, ["before the track"] * T)
    res.camera_shift, res.timing = [0.0] * T, timing
    if estimator is not None:
        res.poses = np.zeros((T, _num_joints(estimator), 3), np.float32)
        res.pose_info = [{"runs": 0, "rotation": None} for _ in range(T)]
    t0 = time.perf_counter()
    init = _initial_box(clip, detector, first_box, cfg, timing)
    timing["start"] = time.perf_counter() - t0
    res.frame_seconds = [0.0] * T
    if init is None:
        res.status, res.how, res.chosen_by = [LOST] * T, ["no person found"] * T, "nobody found"
        return res
    start, det0, res.chosen_by = init
    tracker, last = AthleteTracker(det0[:4], cfg.tracker, clip.size), None
    preset, previous = _preset(cfg, T), {}
    # the presets take the start frame's detection as found (the full search runs it again)
    given = det0[None] if preset is not None and len(det0) == 5 else None
    for t in tqdm(range(start, T), desc="track", disable=not cfg.progress, leave=False):
        near = None if preset is None or estimator is None else {**preset, **previous}
        if near is not None and t == start and "start_search" in near:
            near["search"] = near["start_search"]
        t0 = time.perf_counter()
        f = _track_frame(tracker, clip, t, detector, estimator, last, timing, near, given if t == start else None)
        res.frame_seconds[t] = round(time.perf_counter() - t0, 4)
        ok = f["status"] == TRACKED and f["pose"] is not None
        lm = f["info"].get("landmarks") if ok else None
        history = [*previous.get("history", [])[-1:], lm] if lm is not None else []
        previous = {"rotation": f["info"].get("rotation"), "history": history} if ok else {}
        res.status[t], res.how[t], res.scores[t] = f["status"], f["how"], f["score"]
        res.candidates[t], res.camera_shift[t] = f["cand"], round(f["shift"], 2)
        if f["status"] == LOST:
            res.status[t + 1 :] = [LOST] * (T - t - 1)
            res.how[t + 1 :] = ["lost"] * (T - t - 1)
            break
        res.boxes[t] = last = f["box"]
        if estimator is not None and f["pose"] is not None:
            res.poses[t], res.pose_info[t] = f["pose"], f["info"]
            if f["status"] == TRACKED:
                tracker.update_size(_torso(f["pose"], getattr(estimator, "layout", "mpii16")))
    _end_after_last_found(res)
    return res


def _num_joints(estimator) -> int:
    from graphs import get_layout

    return get_layout(getattr(estimator, "layout", "mpii16")).num_joints


def _end_after_last_found(res: TrackResult) -> None:
    """Trailing predictions after the last frame the athlete was found are not the athlete."""
    found = [t for t, s in enumerate(res.status) if s == TRACKED]
    if not found:
        return
    for t in range(found[-1] + 1, len(res.status)):
        if res.status[t] == PREDICTED:
            res.status[t], res.how[t] = LOST, "lost: never found again"
            res.boxes[t] = np.nan


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
    options: dict[str, Any] | None = None,
) -> ExtractResult:
    """Extract the athlete's skeleton from a clip (video file, frame folder or a decoded Clip).
    ``options`` (what the outputs depend on, e.g. :func:`posekit.pose.batch.run_options`) is
    stored in the QC report.

    Returns the cleaned :class:`SkeletonSequence` (MPII-16 by default), the raw one, the QC
    report and the per-frame boxes; writes the ``.npz`` / report / overlay when paths are given.
    """
    from posekit.pose.detect import build_detector
    from posekit.pose.estimate import build_estimator

    cfg = config or ExtractConfig()
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    clip = (
        video
        if isinstance(video, Clip)
        else read_clip(video, cfg.start, cfg.end, cfg.num_frames, cfg.max_side, cfg.repeat_frames)
    )
    t_read = time.perf_counter() - t0
    if detector is None and estimator is None:  # the offline default, one BlazePose model for the preset
        from posekit.pose.options import ExtractionModels

        detector, estimator = ExtractionModels().build(cfg.quality)
    detector = detector or build_detector("blazepose")
    estimator = estimator or build_estimator("blazepose")

    tr = track_athlete(clip, detector, first_box, cfg, estimator)
    boxes, status, timing = tr.boxes, tr.status, tr.timing
    has = np.isfinite(boxes).all(1)
    poses, info = tr.poses, tr.pose_info
    t_pose = timing["pose"]
    outside = drop_outside_box(poses, boxes, cfg.box_margin)

    layout = getattr(estimator, "layout", "mpii16")
    meta = {
        "source": clip.source,
        "pipeline": "posekit.extract",
        "estimator": type(estimator).__name__,
        "detector": type(detector).__name__,
    }
    if hasattr(estimator, "model"):  # the BlazePose backend the preset ran (BlazePose / BlazePoseDirect)
        meta["model"] = type(estimator.model).__name__
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
    if has.any():  # the fractions are of the frames that have the athlete, not of the emptied ones
        clean_report["interpolated_fraction"] = round(float(cleaned.interpolated[has].mean()), 4)

    seconds = {"read": t_read, "detect": timing["detect"], "pose": t_pose, "clean": t_clean}
    report = qc_report(clip, tr, raw, info, outside, clean_report, seconds, time.perf_counter() - t_all)
    if options is not None:
        report["options"] = options
    cleaned.meta["qc"] = {k: report[k] for k in ("found_fraction", "mean_confidence")}
    result = ExtractResult(cleaned, raw, report, boxes, status, clip, _source_landmarks(info, has))
    write_outputs(result, out, overlay, report_path)
    return result


def qc_report(
    clip: Clip,
    tr: TrackResult,
    raw: SkeletonSequence,
    info: list[dict],
    outside: Any,
    clean_report: dict[str, Any],
    seconds: dict[str, float],
    total: float,
) -> dict[str, Any]:
    """The QC report of one extracted clip (written beside its ``.npz``): per frame whether
    and how the athlete was found, the boxes, the camera motion, the confidence, what
    cleaning did and where the time went."""
    status, boxes = tr.status, tr.boxes
    has = np.isfinite(boxes).all(1)
    conf = raw.confidence
    report: dict[str, Any] = {
        "source": clip.source,
        "frames_read": len(clip),
        "truncated": clip.meta.get("truncated"),
        "frame_size": list(clip.size),
        "fps": clip.fps,
        "athlete_found": [s == TRACKED for s in status],
        "status": status,
        "found_fraction": round(float(np.mean([s == TRACKED for s in status])), 4),
        "track_lost_frames": [t for t, s in enumerate(status) if s == LOST],
        "predicted_frames": [t for t, s in enumerate(status) if s == PREDICTED],
        "boxes": [None if not has[t] else [round(float(v), 1) for v in boxes[t]] for t in range(len(clip))],
        "how_found": tr.how,
        "athlete_chosen_by": tr.chosen_by,
        "camera_shift_px": tr.camera_shift,
        "detection_scores": [round(float(s), 3) for s in tr.scores],
        "candidates_per_frame": tr.candidates,
        "mean_confidence": round(float(conf[conf > 0].mean()), 4) if (conf > 0).any() else 0.0,
        "rotation_used": [i.get("rotation") for i in info],
        "pose_runs": [int(i.get("runs") or 0) for i in info],  # BlazePose runs for the pose, per frame
        "temporal": [bool(i.get("temporal")) for i in info],  # the preset's temporal path (no detector)
        # direct: BlazePose's landmark network alone on the region the last pose gives (LiteRT);
        # search: the full search (BlazePose's detector inside each crop, then its landmarks); none: no pose
        "pose_path": [("direct" if i.get("direct") else "search") if i.get("runs") else "none" for i in info],
        "joints_outside_box_dropped": outside,
        "cleaning": clean_report,
        # start: choosing the athlete over the first frames; per_frame: tracking + pose of each frame
        "seconds": {
            **{k: round(v, 3) for k, v in seconds.items()},
            "total": round(total, 3),
            "start": round(tr.timing.get("start", 0.0), 3),
            "per_frame": tr.frame_seconds,
        },
    }
    report["fps_processed"] = round(len(clip) / max(total, 1e-9), 3)
    return report


def _source_landmarks(info: list[dict], has: np.ndarray) -> np.ndarray | None:
    """``(T, K, 3)`` of the landmarks estimators report before mapping (zeros where none)."""
    found = [i["landmarks"] for i in info if i.get("landmarks") is not None]
    if not found:
        return None
    out = np.zeros((len(info), *found[0].shape), np.float32)
    for t, i in enumerate(info):
        if i.get("landmarks") is not None and has[t]:
            out[t] = i["landmarks"]
    return out


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
