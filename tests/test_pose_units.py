"""Unit tests of the extraction stages: association, Kalman gating, interpolation, outliers,
rotation mapping, TTA fusion, layout mapping, video I/O."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from graphs import get_layout
from posekit.pose.blazepose import apply_affine, crop_transform, invert_affine
from posekit.pose.clean import CleanConfig, clean, fix_lr_swaps, interpolate_missing, remove_outliers
from posekit.pose.estimate import fuse_runs
from posekit.pose.track import (
    LOST,
    PREDICTED,
    TRACKED,
    AthleteTracker,
    TrackerConfig,
    choose_initial_box,
    corner_distance,
)
from posekit.pose.video import VideoReadError, read_clip, sample_indices, write_video
from posekit.skeleton import SkeletonSequence

MPII = get_layout("mpii16")


# ---------------------------------------------------------------------- association / Kalman
def test_corner_distance_is_eq25() -> None:
    box = np.array([0, 0, 10, 10.0])
    cands = np.array([[3, 4, 10, 10, 0.9], [0, 0, 13, 14, 0.9]])
    assert corner_distance(box, cands).tolist() == [5.0, 5.0]


def test_association_prefers_near_and_confident() -> None:
    tr = AthleteTracker(np.array([100, 100, 140, 200.0]))
    pred = np.array([100, 100, 140, 200.0])
    near_weak = [102, 101, 142, 201, 0.35]
    near_strong = [104, 103, 144, 204, 0.95]
    far = [300, 100, 340, 200, 0.99]
    assert tr.associate(pred, np.array([near_weak, far])) == 0
    assert tr.associate(pred, np.array([near_weak, near_strong, far])) == 1
    assert tr.associate(pred, np.array([far])) is None  # gated: an implausible jump
    assert tr.associate(pred, np.array([[100, 100, 140, 200, 0.1]])) is None  # too weak
    strict = AthleteTracker(np.array([100, 100, 140, 200.0]), TrackerConfig(max_area_ratio=3.0))
    assert strict.associate(pred, np.array([[110, 140, 125, 160, 0.9]])) is None  # a much smaller person


def test_after_two_misses_only_someone_in_the_athlete_s_colours_resumes_the_track() -> None:
    """Colours only weigh in the cost while the athlete is seen; once it was hidden for 2+
    frames, a detection in other colours (a passer-by where it was predicted) is not taken."""
    tr = AthleteTracker(np.array([100, 100, 140, 200.0]))
    pred, cand = np.array([100, 100, 140, 200.0]), np.array([[102, 101, 142, 201, 0.9]])
    far_colours, same_colours = [0.8], [0.2]
    assert tr.associate(pred, cand, far_colours) == 0
    tr.misses = 1
    assert tr.associate(pred, cand, far_colours) == 0
    tr.misses = 2
    assert tr.associate(pred, cand, far_colours) is None
    assert tr.associate(pred, cand, same_colours) == 0
    assert tr.associate(pred, cand) == 0  # no colours known: the boxes decide


def test_kalman_predicts_through_misses_then_loses() -> None:
    cfg = TrackerConfig(max_misses=2, smooth=True)
    tr = AthleteTracker(np.array([0, 0, 20, 40.0]), cfg)
    statuses = []
    for t in range(6):
        statuses.append(tr.step(np.array([[5 * t, 0, 5 * t + 20, 40, 0.9]]))[0])
    pred = tr.predicted_box()
    assert pred[0] == pytest.approx(30, abs=2.0)  # constant velocity of 5 px / frame learnt
    for _ in range(2):
        st, box, _ = tr.step(np.zeros((0, 5)))
        assert st == PREDICTED and box is not None
    assert tr.step(np.zeros((0, 5)))[0] == LOST
    # once lost, a person appearing exactly where the athlete was does not restart it
    assert tr.step(np.array([[45, 0, 65, 40, 0.99]]))[0] == LOST
    assert statuses == [TRACKED] * 6
    assert tr.smoothed_boxes().shape == (8, 4)


def test_initialisation_picks_the_moving_confident_person() -> None:
    still = np.array([10, 10, 30, 60, 0.8])
    frames = [np.array([still, [100 + 15 * t, 50, 120 + 15 * t, 100, 0.7]]) for t in range(5)]
    t0, box = choose_initial_box(frames)
    assert t0 == 0 and box[0] == 100
    assert choose_initial_box([np.zeros((0, 5))] * 3) is None


# ---------------------------------------------------------------------- cleaning
def test_interpolation_eq27_and_ends() -> None:
    T = 7
    xy = np.zeros((T, 2, 2))
    xy[:, 0, 0] = np.arange(T) * 10.0
    valid = np.ones((T, 2), bool)
    valid[2:5, 0] = False  # gap inside
    valid[:2, 1] = False  # leading gap
    valid[5:, 1] = False  # trailing gap
    xy[2:5, 0] = 999
    xy[2:5, 1] = [[1, 1], [2, 2], [3, 3]]
    out, filled = interpolate_missing(xy, valid)
    assert out[2:5, 0, 0].tolist() == [20.0, 30.0, 40.0]  # p_k = p_i (j-k)/(j-i) + p_j (k-i)/(j-i)
    assert out[:2, 1].tolist() == [[1, 1], [1, 1]] and out[5:, 1].tolist() == [[3, 3], [3, 3]]  # held
    assert filled[2:5, 0].all() and filled[:2, 1].all() and not filled[:, 0][[0, 1, 5, 6]].any()


def test_joint_missing_everywhere_stays_missing() -> None:
    data = np.ones((5, 16, 3), np.float32)
    data[..., :2] = np.random.default_rng(0).uniform(0, 100, (5, 16, 2))
    data[:, 3, 2] = 0.0
    out, rep = clean(SkeletonSequence(data, "mpii16"), CleanConfig(fix_swaps=False))
    assert (out.confidence[:, 3] == 0).all() and rep["missing_everywhere"] == ["l_hip"]


def walking(T: int = 20) -> np.ndarray:
    rng = np.random.default_rng(1)
    base = np.array(
        [
            [0, 90],
            [0, 50],
            [0, 10],
            [10, 10],
            [10, 50],
            [10, 90],
            [5, 10],
            [5, -30],
            [5, -38],
            [5, -55],
            [-15, 10],
            [-12, -10],
            [-5, -30],
            [15, -30],
            [22, -10],
            [25, 10],
        ],
        float,
    )
    xy = base[None] + np.arange(T)[:, None, None] * np.array([2.0, 0]) + rng.normal(0, 0.3, (T, 16, 2))
    return xy


def test_outliers_spike_and_long_bone_removed() -> None:
    xy = walking()
    valid = np.ones(xy.shape[:2], bool)
    xy[7, MPII.index("r_wrist")] += [80, -60]  # a one-frame spike, also stretching its bone
    v, n = remove_outliers(xy, valid, MPII.bone_index, CleanConfig())
    assert not v[7, MPII.index("r_wrist")] and n >= 1
    assert v[[6, 8], MPII.index("r_wrist")].all()
    assert v.sum() >= valid.sum() - 3  # nothing else of substance removed


def test_left_right_swap_between_frames_is_undone() -> None:
    xy = walking()
    valid = np.ones(xy.shape[:2], bool)
    swapped = xy.copy()
    swapped[10] = xy[10][MPII.flip_index]
    fixed, _, n = fix_lr_swaps(swapped, valid, MPII.flip_index)
    assert n == 1 and np.allclose(fixed, xy)


def test_clean_marks_filled_joints() -> None:
    xy = walking()
    data = np.concatenate([xy, np.full(xy.shape[:2] + (1,), 0.9)], -1).astype(np.float32)
    data[4:6, MPII.index("l_knee"), 2] = 0.1  # below threshold
    out, rep = clean(SkeletonSequence(data, "mpii16"))
    assert out.interpolated[4:6, MPII.index("l_knee")].all()
    assert out.interpolated.sum() == 2 and rep["low_confidence_dropped"] == 2
    assert np.allclose(out.xy[4:6, MPII.index("l_knee")], xy[4:6, MPII.index("l_knee")], atol=1.5)


# ---------------------------------------------------------------------- rotation mapping / fusion
@pytest.mark.parametrize("angle", [0, 45, 90, 180, 270])
def test_crop_rotation_maps_keypoints_back(angle: float) -> None:
    import cv2

    frame = np.zeros((200, 300, 3), np.uint8)
    cv2.circle(frame, (210, 60), 3, (255, 255, 255), -1)
    m = crop_transform(200, 80, 100, angle, 128)
    crop = cv2.warpAffine(frame, m, (128, 128))
    ys, xs = np.nonzero(crop[..., 0] > 128)
    found = np.array([[xs.mean(), ys.mean()]])
    back = apply_affine(invert_affine(m), found)[0]
    assert np.allclose(back, [210, 60], atol=1.0)


def test_fuse_runs_drops_outlier_runs_and_aligns_left_right() -> None:
    bp = get_layout("blazepose33")
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 100, (33, 2))
    runs = []
    for k in range(6):
        r = np.concatenate([truth + rng.normal(0, 0.5, truth.shape), np.full((33, 1), 0.9)], 1)
        if k == 1:
            r = r[bp.flip_index]  # a run with left and right exchanged
        if k == 2:
            r[:, :2] += 60  # a wrong run
            r[:, 2] = 0.5
        runs.append(r)
    fused = fuse_runs(runs, bp.flip_index)
    assert np.abs(fused[:, :2] - truth).max() < 2.0


def test_fuse_runs_confidence_is_run_agreement_not_visibility() -> None:
    bp = get_layout("blazepose33")
    rng = np.random.default_rng(1)
    truth = rng.uniform(0, 100, (33, 2))
    runs = []
    for _ in range(8):
        r = np.concatenate([truth + rng.normal(0, 0.5, truth.shape), np.full((33, 1), 0.9)], 1)
        r[14, 2] = 0.05  # an occluded far-side elbow: low visibility, placed alike by every run
        r[16, :2] = rng.uniform(0, 100, 2)  # a wrist every run places elsewhere
        runs.append(r)
    fused = fuse_runs(runs, bp.flip_index)
    assert fused[14, 2] > 0.9  # agreed on: confident although BlazePose calls it occluded
    assert fused[16, 2] < 0.3  # scattered: not confident whatever its visibility
    assert np.abs(fused[14, :2] - truth[14]).max() < 1.5


def test_single_frame_rule_prefers_the_large_central_person() -> None:
    from posekit.pose.track import choose_single_frame

    dets = np.array(
        [[10, 10, 40, 60, 0.95], [200, 80, 300, 240, 0.7], [440, 200, 470, 250, 0.9]]  # judge, athlete, spectator
    )
    assert choose_single_frame(dets, (480, 320)).tolist() == dets[1].tolist()
    assert choose_single_frame(np.zeros((0, 5)), (480, 320)) is None


def test_camera_motion_recovers_a_pan_and_ignores_the_athlete() -> None:
    from posekit.pose.track import camera_motion

    rng = np.random.default_rng(0)
    world = cv2.GaussianBlur(rng.integers(0, 255, (240, 400, 3)).astype(np.uint8), (5, 5), 0)
    prev, cur = world[:, 50:370].copy(), world[:, 42:362].copy()  # the camera pans 8 px left
    athlete = np.array([140, 60, 200, 180.0])
    cur[60:180, 140:200] = 255 - cur[60:180, 140:200]  # something moving where the athlete is
    a = camera_motion(prev, cur, athlete)
    np.testing.assert_allclose(a[:, 2], [8, 0], atol=0.5)
    np.testing.assert_allclose(a[:, :2], np.eye(2), atol=0.02)


def test_tracker_gate_accepts_a_second_hypothesis() -> None:
    tr = AthleteTracker(np.array([100, 100, 140, 200.0]), frame_size=(480, 320))
    pred = tr.begin()
    far = np.array([[300, 100, 340, 200, 0.9]])  # where the camera moved the athlete
    assert tr.associate(pred, far) is None
    assert tr.associate(pred, far, alternatives=[np.array([295, 100, 335, 200.0])]) == 0


# ---------------------------------------------------------------------- video I/O
def test_sample_indices() -> None:
    assert sample_indices(10).tolist() == list(range(10))
    assert sample_indices(100, num_frames=5).tolist() == [0, 25, 50, 74, 99]
    assert sample_indices(100, 10, 20, 3).tolist() == [10, 15, 20]
    with pytest.raises(ValueError):
        sample_indices(10, 5, 2)


def test_video_roundtrip_and_bad_files(tmp_path: Path) -> None:
    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(6)]
    write_video(tmp_path / "a.mp4", frames, fps=5)
    write_video(tmp_path / "a.gif", frames, fps=5)
    for name in ("a.mp4", "a.gif"):
        c = read_clip(tmp_path / name)
        assert len(c) == 6 and c.size == (64, 48)
    assert len(read_clip(tmp_path / "a.mp4", num_frames=3)) == 3
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(VideoReadError, match="bad.mp4"):
        read_clip(tmp_path / "bad.mp4")
    with pytest.raises(VideoReadError, match="not found"):
        read_clip(tmp_path / "none.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoReadError, match="no frames"):
        read_clip(tmp_path / "empty")


# ---------------------------------------------------------------------- mmpose HRNet backend
def test_mmpose_metainfo_from_layout() -> None:
    from posekit.pose.mmpose_meta import dataset_meta

    meta = dataset_meta("mpii16")
    assert meta["num_keypoints"] == 16
    assert meta["flip_indices"] == MPII.flip_index.tolist()
    assert [meta["keypoint_id2name"][i] for i in range(16)] == list(MPII.joints)


def test_mmpose_hrnet_estimator_loads_a_checkpoint_and_predicts_16_joints(tmp_path: Path) -> None:
    import torch

    from posekit import compat

    compat.install()
    from mmengine.config import Config
    from mmpose.apis import init_model

    from posekit.paths import REPO_ROOT
    from posekit.pose.estimate import MMPoseEstimator
    from posekit.pose.mmpose_meta import dataset_meta

    cfg = REPO_ROOT / "configs" / "pose" / "hrnet_w32_mpii16_256x256.py"
    model = init_model(Config.fromfile(str(cfg)), None, device="cpu")
    ckpt = tmp_path / "hrnet.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": dataset_meta("mpii16")}}, ckpt)
    est = MMPoseEstimator(cfg, ckpt, batch_size=2)
    frames = [np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8) for i in range(3)]
    poses, info = est.estimate(frames, [np.array([40, 10, 100, 110.0]), None, np.array([30, 20, 90, 100.0])])
    assert poses.shape == (3, 16, 3) and len(info) == 3
    assert (poses[1] == 0).all()  # no box, no pose
    assert np.isfinite(poses).all()


def test_w48_config_inherits_w32_and_builds() -> None:
    from posekit import compat

    compat.install()
    from mmengine.config import Config
    from mmpose.apis import init_model

    from posekit.paths import REPO_ROOT

    cfg = Config.fromfile(str(REPO_ROOT / "configs" / "pose" / "hrnet_w48_mpii16_256x256.py"))
    assert cfg.model.backbone.extra.stage4.num_channels == (48, 96, 192, 384)
    model = init_model(cfg, None, device="cpu")
    assert model.head.out_channels == 16 and model.head.in_channels == 48
