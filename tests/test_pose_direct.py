"""The direct BlazePose landmark path (LiteRT) that the quality presets' temporal path runs:
the tracking region of interest, its agreement with mediapipe's solution API on real
frames, the angular-velocity prediction and the fallback without LiteRT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posekit.pose.blazepose import CropLandmarker, apply_affine, crop_transform
from posekit.pose.estimate import BlazePoseEstimator, roi_from_landmarks


def _standing(angle: float = 0.0, centre=(200.0, 120.0)) -> np.ndarray:
    """33 BlazePose landmarks of an upright figure (head up), turned by ``angle`` degrees
    (clockwise on screen) about its hips."""
    lm = np.zeros((33, 3), np.float32)
    lm[:, 2] = 1.0
    lm[:11, :2] = (0, -60)  # face
    lm[[11, 12], :2] = [(-10, -40), (10, -40)]  # shoulders
    lm[13:23, :2] = (0, -20)  # arms
    lm[[23, 24], :2] = [(-8, 0), (8, 0)]  # hips
    lm[25:, :2] = (0, 50)  # legs
    t = np.radians(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    lm[:, :2] = lm[:, :2] @ rot.T + centre
    return lm


@pytest.mark.parametrize("angle", [0.0, 35.0, 90.0, 180.0, 250.0])
def test_roi_turns_the_body_upright_and_holds_it(angle: float) -> None:
    lm = _standing(angle)
    cx, cy, side, rot = roi_from_landmarks(lm)
    assert (cx, cy) == pytest.approx((200.0, 120.0), abs=1e-3)
    crop = apply_affine(crop_transform(cx, cy, side, rot, 256), lm[:, :2])
    assert crop[0, 1] < crop[11, 1] < crop[23, 1] < crop[27, 1]  # head above shoulders above hips above feet
    assert abs(crop[0, 0] - crop[23:25, 0].mean()) < 1e-3  # and in one vertical line
    assert (crop >= 0).all() and (crop <= 256).all()  # every landmark inside the region
    assert side == pytest.approx(2 * 1.25 * 60.5, rel=0.01)  # 1.25 x the circumscribed circle


class _Recorder(CropLandmarker):
    """Stands in for the landmark network: records the regions asked for and answers with a
    fixed pose."""

    size = 256  # the network's input side, as BlazePoseLandmarker

    def __init__(self, pose: np.ndarray):
        self.pose, self.regions = pose, []

    def on_crop(self, frame, cx, cy, side, angle=0.0, out_size=256, hflip=False):
        self.regions.append((cx, cy, side, angle, hflip))
        return self.pose.copy()


def test_tracked_region_follows_the_motion_and_the_angular_velocity() -> None:
    # a somersault: 20 degrees between the last two frames -> the next region is turned 20 more
    before, last = _standing(0.0), _standing(20.0)
    rec = _Recorder(_standing(40.0))
    est = BlazePoseEstimator(model=object(), landmarker=rec, refine=False)
    pose, info = est.estimate_tracked(np.zeros((240, 400, 3), np.uint8), [before, last], (5.0, -3.0), (0.0,), True)
    (cx, cy, _, angle, flip), (_, _, _, angle2, flip2) = rec.regions
    assert (cx, cy) == pytest.approx((205.0, 117.0), abs=1e-3)  # moved with the tracker's prediction
    turned = 2 * roi_from_landmarks(last)[3] - roi_from_landmarks(before)[3]
    assert angle == pytest.approx(turned % 360, abs=1e-3) and abs(turned - roi_from_landmarks(last)[3]) > 19
    assert angle2 == angle and (flip, flip2) == (False, True)  # the mirror run
    assert info["direct"] and info["runs"] == 2 and pose.shape == (16, 3)
    assert np.allclose(info["landmarks"][:, :2], _standing(40.0)[:, :2], atol=1e-3)


def test_second_pass_runs_on_the_pose_s_own_region() -> None:
    rec = _Recorder(_standing(40.0))
    est = BlazePoseEstimator(model=object(), landmarker=rec, refine=True)
    _, info = est.estimate_tracked(np.zeros((240, 400, 3), np.uint8), [_standing(0.0)], (0.0, 0.0), (0.0,), True, 2)
    assert len(rec.regions) == 4 and info["refined"] and info["runs"] == 4
    assert rec.regions[2][3] == pytest.approx(roi_from_landmarks(_standing(40.0))[3] % 360, abs=1e-3)


def test_without_litert_the_temporal_path_uses_the_solution_api(monkeypatch) -> None:
    import posekit.pose.blazepose as bp
    from posekit.errors import PosekitError

    def missing(*a, **k):
        raise PosekitError("ai-edge-litert is needed")

    monkeypatch.setattr(bp, "BlazePoseLandmarker", missing)
    est = BlazePoseEstimator(model=object())
    with pytest.warns(UserWarning, match="solution API instead"):
        assert est.landmarker is None


@pytest.mark.slow
def test_direct_landmarks_agree_with_the_solution_api_on_real_frames(shared_data: Path) -> None:
    """On the region of interest the solution API's own pose gives (what the tracking stage
    derives from the previous frame), the direct network (LiteRT, no detector inside the
    crop) places the landmarks within 5 % of the body's extent of the solution API's on
    real broadcast frames: median over the joints, on at least 5 of 6 frames."""
    import cv2

    from posekit.pose.blazepose import BlazePose, BlazePoseLandmarker
    from posekit.pose.detect import BlazePoseDetector

    images = sorted((shared_data / "finediving" / "pose_frames" / "images").glob("*.jpg"))[::9][:6]
    solution, direct, agree = BlazePose(), BlazePoseLandmarker(), 0
    detector = BlazePoseDetector(model=solution)
    est = BlazePoseEstimator(model=solution, refine=False, angles=(0, 90, 180, 270))
    for path in images:
        frame = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        boxes = detector(frame)
        assert len(boxes), path.name
        ref, _ = est.landmarks_one(frame, boxes[np.argmax(boxes[:, 4])], hflip=False)
        assert ref is not None, path.name
        got = direct.on_crop(frame, *roi_from_landmarks(ref))
        assert got is not None, path.name
        extent = np.hypot(*(ref[:, :2].max(0) - ref[:, :2].min(0)))
        agree += np.median(np.linalg.norm(got[:, :2] - ref[:, :2], axis=1)) <= 0.05 * extent
    assert agree >= 5


class _Boxes:
    """A detector that finds one person (moving right) on every frame except ``missing``."""

    def __init__(self, missing: set[int]):
        self.missing = missing

    def __call__(self, frame, rois=None):
        t = int(frame[0, 0, 0])  # each generated frame carries its index
        if t in self.missing:
            return np.zeros((0, 5), np.float32)
        return np.array([[80 + 2 * t, 60, 120 + 2 * t, 140, 0.9]], np.float32)


class _PoseOnBox:
    """An estimator that finds a pose filling the box, except on the ``splash`` frames."""

    layout = "mpii16"

    def __init__(self, splash: set[int]):
        self.splash = splash

    def estimate(self, frames, boxes):
        t, b = int(frames[0][0, 0, 0]), boxes[0]
        if t in self.splash:
            return np.zeros((1, 16, 3), np.float32), [{"runs": 0, "rotation": None}]
        pose = np.zeros((1, 16, 3), np.float32)
        pose[0, :, 0] = np.linspace(b[0] + 2, b[2] - 2, 16)
        pose[0, :, 1] = np.linspace(b[1] + 2, b[3] - 2, 16)
        pose[0, :, 2] = 0.9
        return pose, [{"runs": 8, "rotation": 0.0}]


def test_a_detection_without_a_pose_does_not_reacquire_after_a_miss() -> None:
    """After the athlete is missed (entry into the water), a detection whose box holds no pose
    (the splash) keeps the frame a miss; a detection with a pose re-acquires the athlete."""
    from posekit.pose.pipeline import ExtractConfig, track_athlete
    from posekit.pose.track import PREDICTED, TRACKED
    from posekit.pose.video import Clip

    frames = [np.full((200, 240, 3), t, np.uint8) for t in range(10)]
    clip = Clip(frames, np.arange(10), 10.0, "generated")
    cfg = ExtractConfig(progress=False, quality="accurate", init_frames=2)
    # frame 4: the athlete under water (nothing detected); frame 5: a detection with no pose in it
    res = track_athlete(clip, _Boxes({4}), None, cfg, _PoseOnBox({4, 5}))
    assert res.status[3] == TRACKED and res.status[4] == PREDICTED
    assert res.status[5] == PREDICTED and "the detection had no pose" in res.how[5]
    assert res.status[6] == TRACKED  # the athlete's own detection (with a pose) re-acquires
    # without the miss before it, a detection is taken even when its pose finds nobody
    res = track_athlete(clip, _Boxes(set()), None, cfg, _PoseOnBox({5}))
    assert res.status[5] == TRACKED


def test_the_landmarker_does_not_reacquire_someone_in_other_colours() -> None:
    """When the detector misses, the landmarker's pose in the search region re-acquires the
    athlete only if its box has the athlete's colours (a spectator there does not)."""
    from posekit.pose.pipeline import ExtractConfig, track_athlete
    from posekit.pose.track import TRACKED
    from posekit.pose.video import Clip

    def clip(colour_at_5: tuple[int, int, int]) -> Clip:
        frames = []
        for t in range(8):
            f = np.full((200, 240, 3), 90, np.uint8)
            f[60:140, 80 + 2 * t : 120 + 2 * t] = colour_at_5 if t == 5 else (200, 30, 30)  # the athlete in red
            f[0, 0] = t  # each generated frame carries its index
            frames.append(f)
        return Clip(frames, np.arange(8), 10.0, "generated")

    cfg = ExtractConfig(progress=False, quality="accurate", init_frames=2)
    same = track_athlete(clip((200, 30, 30)), _Boxes({5}), None, cfg, _PoseOnBox(set()))
    assert same.status[5] == TRACKED and "re-acquired by the landmarker" in same.how[5]
    other = track_athlete(clip((30, 30, 200)), _Boxes({5}), None, cfg, _PoseOnBox(set()))
    assert other.status[5] != TRACKED and other.status[6] == TRACKED


class _Recorded(_Boxes):
    """``_Boxes`` that records each call ``(frame index, lighter options or None)``; its
    ``with_options`` copy (a preset's lighter search) finds nobody when ``blind_light``."""

    def __init__(self, calls: list, options: dict | None = None, blind_light: bool = False):
        super().__init__(set())
        self.calls, self.options, self.blind_light = calls, options, blind_light

    def with_options(self, **options):
        return _Recorded(self.calls, options, self.blind_light)

    def __call__(self, frame, rois=None):
        self.calls.append((int(frame[0, 0, 0]), self.options))
        if self.options is not None and self.blind_light:
            return np.zeros((0, 5), np.float32)
        return super().__call__(frame, rois)


@pytest.mark.parametrize("blind_light", [False, True])
def test_balanced_chooses_the_athlete_with_a_lighter_search_and_keeps_its_detection(blind_light: bool) -> None:
    """``balanced`` looks at its first 3 frames with the lighter start search (the full one
    when that finds nobody) and takes the start frame's detection as found instead of running
    the detector there again; ``accurate`` runs the full detector throughout."""
    from posekit.pose.pipeline import QUALITY, ExtractConfig, track_athlete
    from posekit.pose.track import TRACKED
    from posekit.pose.video import Clip

    frames = [np.full((200, 240, 3), t, np.uint8) for t in range(8)]
    clip = Clip(frames, np.arange(8), 10.0, "generated")
    calls: list = []
    res = track_athlete(
        clip, _Recorded(calls, blind_light=blind_light), None, ExtractConfig(progress=False), _PoseOnBox(set())
    )
    assert res.status == [TRACKED] * 8 and "over the first 3 frames" in res.chosen_by
    light = QUALITY["balanced"]["start_detector"]
    assert calls[:3] == [(t, light) for t in range(3)]
    expected_full = [0, 1, 2] if blind_light else []  # the full search on the first frames, then from frame 1 on
    assert calls[3:] == [(t, None) for t in [*expected_full, *range(1, 8)]]
    calls.clear()
    track_athlete(clip, _Recorded(calls), None, ExtractConfig(progress=False, quality="accurate"), _PoseOnBox(set()))
    assert [t for t, o in calls] == [*range(6), *range(8)] and all(o is None for _, o in calls)


def test_blazepose_detector_lighter_copy_and_landmark_threads() -> None:
    """``with_options`` gives a copy with the preset's search and the same model, leaving the
    detector as it was; unknown options and thread counts under 1 are errors."""
    from posekit.errors import PosekitError
    from posekit.pose import blazepose
    from posekit.pose.detect import BlazePoseDetector

    det = BlazePoseDetector()
    light = det.with_options(angles=[0, 180], tiles=1)
    assert light.angles == (0, 180) and light.tiles == 1 and light.model is det.model
    assert det.angles == (0, 90, 180, 270) and det.tiles == 2
    with pytest.raises(PosekitError, match="unknown BlazePose detector options"):
        det.with_options(scale=2)
    try:
        blazepose.set_num_threads(3)
        assert blazepose.num_threads() == 3
        with pytest.raises(PosekitError, match=">= 1"):
            blazepose.set_num_threads(0)
    finally:
        blazepose.set_num_threads(None)
    assert 1 <= blazepose.num_threads() <= 4


def test_ssd_anchors_and_weighted_suppression_decode_the_detector() -> None:
    """The detector's 2,254 anchors (28 x 28 and 14 x 14 grids with 2 anchors a cell, 7 x 7
    with 6) and the decoding: keypoints are anchor + offset in input pixels; detections
    overlapping the best one are averaged by score; nothing over the threshold is None."""
    from posekit.pose.blazepose import decode_detections, ssd_anchors

    a = ssd_anchors()
    assert a.shape == (2254, 2) and np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])
    assert np.allclose(a[1568], [0.5 / 14, 0.5 / 14]) and np.allclose(a[-1], [6.5 / 7, 6.5 / 7])
    raw, scores = np.zeros((2254, 12), np.float32), np.full((2254, 1), -10.0, np.float32)
    raw[:, 2:4] = 20.0  # 20 px boxes
    raw[[100, 101], 4:6] = [[2.0, -3.0], [6.0, 1.0]]  # keypoint 0 of two overlapping detections
    scores[[100, 101], 0] = [2.0, 0.0]  # sigmoid 0.88 and 0.5
    kp = decode_detections(raw, scores, a, min_score=0.3)
    w = np.array([1 / (1 + np.exp(-2.0)), 0.5])
    expected = a[100] * 224 + (w[0] * np.array([2.0, -3.0]) + w[1] * np.array([6.0, 1.0])) / w.sum()
    assert kp.shape == (4, 2) and np.allclose(kp[0], expected, atol=1e-4)
    assert decode_detections(raw, scores, a, min_score=0.9) is None


def test_direct_blazepose_agrees_with_the_solution_api_on_real_frames(shared_data: Path) -> None:
    """BlazePose's two networks run directly (``BlazePoseDirect``, what ``--blazepose direct``
    runs) and mediapipe's solution API, on the same rotated (and mirrored) crops around the
    athlete of real broadcast frames: they find a person on the same runs (at least 85 %: 90-95 %
    depending on the CPU, 43 of 48 on an AVX2-only EPYC, where scores near the detector's
    threshold fall the other way),
    and where both do, the median landmark is within 5 % of the body's extent on at least
    three runs in four (31 of 38 here; 93 % over all 51 frames at 8 angles x mirror on crops
    around the accurate pipeline's poses)."""
    import cv2

    from posekit.pose.blazepose import BlazePose, BlazePoseDirect
    from posekit.pose.detect import BlazePoseDetector

    images = sorted((shared_data / "finediving" / "pose_frames" / "images").glob("*.jpg"))[::9][:6]
    solution, direct = BlazePose(), BlazePoseDirect()
    detector = BlazePoseDetector(model=solution)
    same_presence, close, both = 0, 0, 0
    for path in images:
        frame = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        boxes = detector(frame)
        x0, y0, x1, y1 = boxes[np.argmax(boxes[:, 4]), :4]
        region = ((x0 + x1) / 2, (y0 + y1) / 2, 3.5 * max(x1 - x0, y1 - y0))
        for angle in (0, 90, 180, 270):
            for flip in (False, True):
                ref = solution.on_crop(frame, *region, angle, 384, flip)
                got = direct.on_crop(frame, *region, angle, 384, flip)
                same_presence += (ref is None) == (got is None)
                if ref is None or got is None:
                    continue
                both += 1
                extent = np.hypot(*(ref[:, :2].max(0) - ref[:, :2].min(0)))
                close += np.median(np.linalg.norm(got[:, :2] - ref[:, :2], axis=1)) <= 0.05 * extent
    runs = len(images) * 8
    assert same_presence >= 0.85 * runs and both >= 0.5 * runs
    assert close >= 0.75 * both


def test_solution_api_runs_spread_over_graphs_give_the_same_landmarks(shared_data: Path) -> None:
    """``BlazePose.on_crops`` (a frame's test-time runs) over 2 graphs in 2 threads returns,
    in order, exactly what one graph returns run after run (found or not), and the whole
    search (``landmarks_one``: 8 angles x mirror + refine) is unchanged by it."""
    import cv2

    from posekit.errors import PosekitError
    from posekit.pose.blazepose import BlazePose

    path = sorted((shared_data / "finediving" / "pose_frames" / "images").glob("*.jpg"))[20]
    frame = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    crops = [(227.0, 128.0, 260.0, float(a), 384, flip) for a in range(0, 360, 45) for flip in (False, True)]
    one, two = BlazePose(workers=1), BlazePose(workers=2)
    try:
        ref, got = [one.on_crop(frame, *c) for c in crops], two.on_crops(frame, crops)
        assert len(two._graphs) == 2 and two.calls == len(crops)  # both graphs ran
        assert sum(r is not None for r in ref) >= 4
        for r, g in zip(ref, got, strict=True):
            assert (r is None) == (g is None) and (r is None or np.array_equal(r, g))
        box = np.array([150.0, 40.0, 300.0, 220.0])
        a = BlazePoseEstimator(model=one).landmarks_one(frame, box)
        b = BlazePoseEstimator(model=two).landmarks_one(frame, box)
        assert a[1] == b[1] and np.array_equal(a[0], b[0])
    finally:
        one.close()
        two.close()
    with pytest.raises(PosekitError, match="workers must be >= 1"):
        BlazePose(workers=0)


def test_extraction_models_share_one_blazepose_of_the_chosen_backend() -> None:
    """``ExtractionModels(blazepose=...)`` (``--blazepose``) builds one BlazePose model that the
    detector and the estimator share (the direct one's landmark network is also the temporal
    path's); the default is the solution API; an unknown backend is a clear error."""
    from posekit.errors import PosekitError
    from posekit.pose.blazepose import BlazePose, BlazePoseDirect
    from posekit.pose.options import ExtractionModels

    det, est = ExtractionModels(blazepose="direct").build()
    assert isinstance(det.model, BlazePoseDirect) and est.model is det.model
    assert est.landmarker is det.model.landmarker
    det, est = ExtractionModels().build()
    assert isinstance(det.model, BlazePose) and est.model is det.model
    with pytest.raises(PosekitError, match="unknown BlazePose backend"):
        ExtractionModels(blazepose="gpu")
    # auto (the default): the direct backend for fast, the solution API for the other presets
    assert isinstance(ExtractionModels().build("fast")[0].model, BlazePoseDirect)
    assert isinstance(ExtractionModels(blazepose="solution").build("fast")[0].model, BlazePose)
    assert [ExtractionModels().for_quality(q).blazepose for q in ("fast", "balanced", "accurate")] == [
        "direct",
        "solution",
        "solution",
    ]


class _ByAngle(CropLandmarker):
    """A model whose pose is found at every angle, most confidently near 90 degrees."""

    def __init__(self):
        self.angles: list[float] = []

    def on_crop(self, frame, cx, cy, side, angle=0.0, out_size=384, hflip=False):
        self.angles.append(float(angle))
        lm = _standing(0.0)
        lm[:, 2] = 1.0 - min(abs(angle - 90.0), 360 - abs(angle - 90.0)) / 360.0
        return lm


def test_balanced_refines_only_at_the_most_confident_angles() -> None:
    """``refine_angles``: the second pass runs at the angles whose first runs were the most
    confident (here 45, 90 and 135 degrees), mirrored as the first; without it, at every angle."""
    frame, box = np.zeros((240, 400, 3), np.uint8), np.array([150.0, 40.0, 250.0, 200.0])
    model = _ByAngle()
    est = BlazePoseEstimator(model=model, refine=True)
    _, info = est.landmarks_one(frame, box, refine_angles=3)
    first, second = model.angles[:16], model.angles[16:]
    assert sorted(set(second)) == [45.0, 90.0, 135.0] and len(second) == 6 and info["runs"] == 22
    model.angles.clear()
    est.landmarks_one(frame, box)
    assert model.angles[16:] == first


def test_a_single_frame_runs_the_full_search_in_every_preset() -> None:
    """A photo has no next frame to reuse work for: the presets' lighter start is not used."""
    from posekit.pose.pipeline import ExtractConfig, track_athlete
    from posekit.pose.video import Clip

    clip = Clip([np.zeros((200, 240, 3), np.uint8)], np.arange(1), 10.0, "generated")
    for q in ("fast", "balanced", "accurate"):
        calls: list = []
        res = track_athlete(clip, _Recorded(calls), None, ExtractConfig(progress=False, quality=q), _PoseOnBox(set()))
        assert calls == [(0, None), (0, None)] and "single-frame rule" in res.chosen_by, q


def test_clips_made_before_a_model_option_existed_stay_done(tmp_path: Path) -> None:
    """A report written before ``blazepose`` existed meant the solution API: the clip is done
    for the default options and recomputed for ``direct`` and for ``fast`` (which runs the direct
    backend by default now); reports store the backend a run resolved ``auto`` to; a report
    without options is not done."""
    import json

    from posekit.pose.batch import _is_done, run_options
    from posekit.pose.options import ExtractionModels
    from posekit.pose.pipeline import ExtractConfig

    old = run_options(ExtractionModels(), ExtractConfig())
    del old["models"]["blazepose"]
    (tmp_path / "a.npz").write_bytes(b"")
    (tmp_path / "a.report.json").write_text(json.dumps({"options": old}))
    assert _is_done(tmp_path, "a", run_options(ExtractionModels(), ExtractConfig()))
    assert not _is_done(tmp_path, "a", run_options(ExtractionModels(blazepose="direct"), ExtractConfig()))
    fast = ExtractConfig(quality="fast")
    old_fast = {**old, "quality": "fast"}
    (tmp_path / "a.report.json").write_text(json.dumps({"options": old_fast}))
    assert not _is_done(tmp_path, "a", run_options(ExtractionModels(), fast))  # made with the solution API
    assert _is_done(tmp_path, "a", run_options(ExtractionModels(blazepose="solution"), fast))
    assert run_options(ExtractionModels(), fast)["models"]["blazepose"] == "direct"
    (tmp_path / "a.report.json").write_text(json.dumps({"qc": {}}))
    assert not _is_done(tmp_path, "a", run_options(ExtractionModels(), ExtractConfig()))


def test_a_pose_far_larger_than_the_athlete_does_not_reacquire_it() -> None:
    """The tracker remembers the athlete's torso on its confident poses; a pose the landmarker
    finds in the search region with a torso over ``max_size_ratio`` x that (a splash read as a
    body) does not re-acquire the athlete, one of the athlete's size does."""
    from graphs import Layout
    from posekit.pose.pipeline import _reacquire, _torso
    from posekit.pose.track import AthleteTracker

    pose = np.zeros((16, 3), np.float32)
    pose[:, 2] = 0.9
    pose[[12, 13, 7], :2] = [[100, 50], [120, 50], [110, 50]]  # r / l shoulder, thorax: mpii16's neck
    pose[[2, 3, 6], :2] = [[100, 90], [120, 90], [110, 90]]  # r / l hip, pelvis: mpii16's root
    assert _torso(pose, "mpii16") == pytest.approx(40.0)
    low = pose.copy()
    low[6, 2] = 0.1
    assert _torso(low, "mpii16") is None
    # a user's own layout: the torso is its root/neck, whatever the joints are called
    joints = ["hip_c", "chest", "head", "hand", "foot"]
    bones = [["hip_c", "chest"], ["chest", "head"], ["chest", "hand"], ["hip_c", "foot"]]
    own = {"name": "climber5", "joints": joints, "bones": bones, "center": ["chest"], "root": ["hip_c"]}
    mine = np.array([[0, 0, 0.9], [0, -30, 0.9], [0, -45, 0.9], [20, -40, 0.9], [0, 40, 0.9]], np.float32)
    assert _torso(mine, Layout.from_dict(own)) is None  # no neck defined: no size rule
    assert _torso(mine, Layout.from_dict({**own, "neck": ["chest"]})) == pytest.approx(30.0)
    tr = AthleteTracker(np.array([80.0, 30, 140, 200]), frame_size=(400, 300))
    assert not tr.too_large(200.0)  # nothing known yet
    for t in (40.0, 42.0, 38.0):
        tr.update_size(t)
    assert not tr.too_large(60.0) and tr.too_large(70.0)

    class _Found:
        layout = "mpii16"

        def __init__(self, scale: float):
            self.scale = scale

        def estimate(self, frames, boxes):
            p = body.copy()
            p[:, :2] = (p[:, :2] - [110, 70]) * self.scale + [110, 70]
            return p[None], [{"runs": 4, "rotation": 0.0}]

    body = pose.copy()  # every joint on the body (shoulders to hips), all confident
    others = [i for i in range(16) if i not in (2, 3, 6, 7, 12, 13)]
    body[others, :2] = np.random.default_rng(0).uniform([100, 50], [120, 90], (len(others), 2))
    frame = np.zeros((300, 400, 3), np.uint8)
    pred = np.array([95.0, 40, 125, 100])  # both poses' boxes are plausible here: only the size differs
    timing = {"pose": 0.0}
    big, _, _ = _reacquire(tr, _Found(2.0), frame, pred, [pred], [], timing, 1.0, None)
    same, _, _ = _reacquire(tr, _Found(1.0), frame, pred, [pred], [], timing, 1.0, None)
    assert big is None and same is not None
    tr.cfg.max_size_ratio = 100.0  # the size alone kept the large pose out
    assert _reacquire(tr, _Found(2.0), frame, pred, [pred], [], timing, 1.0, None)[0] is not None
