"""Integration tests of `posekit extract` on generated clips with known tracks and on the real
broadcast GIF (../shared/data/videos)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit.pose.detect import build_detector
from posekit.pose.pipeline import ExtractConfig, extract, track_athlete
from posekit.pose.testclip import make_tracking_clip, tracking_scores
from posekit.pose.track import LOST, TRACKED
from posekit.pose.video import write_video
from posekit.skeleton import SkeletonSequence


@pytest.fixture(scope="module")
def detector():
    return build_detector("blazepose")


def test_tracking_on_generated_clip_with_distractors_and_a_gap(detector) -> None:
    tc = make_tracking_clip(T=24, hidden=(5, 7), seed=0)
    tr = track_athlete(tc.clip, detector, None, ExtractConfig(progress=False))
    boxes, status, ncand = tr.boxes, tr.status, tr.candidates
    s = tracking_scores(boxes, status, tc)
    assert s["id_switches"] == 0 and s["frames_on_distractor"] == 0
    assert s["recall"] >= 0.95
    assert max(ncand) >= 2  # distractors were detected: the tracker had a choice to make


def test_tracking_when_a_distractor_stands_where_the_hidden_athlete_is_predicted(detector) -> None:
    tc = make_tracking_clip(T=24, hidden=(12, 14), seed=0)
    tr = track_athlete(tc.clip, detector, None, ExtractConfig(progress=False))
    boxes, status = tr.boxes, tr.status
    assert tracking_scores(boxes, status, tc)["id_switches"] == 0


def test_tracking_through_a_camera_pan_and_fast_rotation(detector) -> None:
    tc = make_tracking_clip(T=20, hidden=None, rotate=540.0, pan=6.0, seed=1)
    tr = track_athlete(tc.clip, detector, None, ExtractConfig(progress=False))
    s = tracking_scores(tr.boxes, tr.status, tc)
    assert s["id_switches"] == 0 and s["frames_on_distractor"] == 0 and s["recall"] >= 0.95
    assert max(tr.camera_shift) > 3  # the pan was measured


def _dive_frames(shared_data: Path, names: list[str], dst: Path) -> Path:
    dst.mkdir(parents=True)
    for n in names:
        (dst / n).symlink_to(shared_data / "finediving" / "pose_frames" / "images" / n)
    return dst


def _labels(shared_data: Path) -> dict:
    recs = json.loads((shared_data / "finediving" / "pose_frames" / "annotations.json").read_text())
    return {r["image"]: np.array(r["joints"], float) for r in recs}


@pytest.mark.slow
def test_real_dive_kept_through_the_pike_with_the_camera_panning(shared_data: Path, tmp_path: Path) -> None:
    # the third labelled dive: the track used to end at its 6th frame (piked, the camera panning)
    names = [f"finediv{i:05d}.jpg" for i in range(70, 88, 2)]
    res = extract(_dive_frames(shared_data, names, tmp_path / "dive"), config=ExtractConfig(progress=False))
    assert res.status == [TRACKED] * len(names), res.how_found
    assert res.report["athlete_chosen_by"].startswith("the most confident, most moving")
    labels = _labels(shared_data)
    head = np.array([np.linalg.norm(labels[n][9] - labels[n][8]) for n in names])
    err = np.linalg.norm(res.skeleton.xy[:, [6, 7, 8]] - np.array([labels[n][[6, 7, 8]] for n in names]), axis=2)
    assert (err < head[:, None]).mean() > 0.9  # the skeleton is on the diver, not on a spectator


def test_far_side_limbs_kept_on_a_real_single_frame(shared_data: Path, tmp_path: Path) -> None:
    # a diver seen from her left side: the right arm and leg are occluded yet well placed;
    # a visibility threshold used to drop them (right wrist PCKh 0.29 over the 51 frames)
    name = "finediv00040.jpg"
    res = extract(_dive_frames(shared_data, [name], tmp_path / "one"), config=ExtractConfig(progress=False))
    assert res.report["athlete_chosen_by"].startswith("single-frame rule")
    lab = _labels(shared_data)[name]
    head = np.linalg.norm(lab[9] - lab[8])
    for j in (0, 1, 10, 11):  # r_ankle, r_knee, r_wrist, r_elbow
        assert res.skeleton.confidence[0, j] > 0, j
        assert np.linalg.norm(res.skeleton.xy[0, j] - lab[j]) <= head / 2, j


def test_extract_generated_clip_writes_everything(tmp_path: Path) -> None:
    tc = make_tracking_clip(T=10, hidden=None, distractors=1, seed=1)
    video = write_video(tmp_path / "gen.mp4", tc.clip.frames, fps=10)
    res = extract(
        video, config=ExtractConfig(progress=False), out=tmp_path / "gen.npz", overlay=tmp_path / "gen_overlay.gif"
    )
    seq = SkeletonSequence.load(tmp_path / "gen.npz")
    assert seq.layout == "mpii16" and seq.num_frames == 10
    rep = json.loads((tmp_path / "gen.report.json").read_text())
    for key in (
        "frames_read",
        "athlete_found",
        "track_lost_frames",
        "cleaning",
        "mean_confidence",
        "rotation_used",
        "seconds",
        "how_found",
        "athlete_chosen_by",
        "camera_shift_px",
    ):
        assert key in rep
    assert rep["frames_read"] == 10 and rep["found_fraction"] >= 0.8
    assert (tmp_path / "gen_overlay.gif").stat().st_size > 1000
    # keypoints lie on the athlete (inside the pasted photo, with a margin)
    b = tc.athlete_boxes
    ok = seq.valid
    pad = 0.15 * (b[:, 2] - b[:, 0])[:, None]
    inside = (seq.xy[..., 0] >= b[:, :1] - pad) & (seq.xy[..., 0] <= b[:, 2:3] + pad)
    assert inside[ok].mean() > 0.9
    assert res.report["output"] == str(tmp_path / "gen.npz")


@pytest.fixture(scope="module")
def gif_result(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("gif")
    gif = shared_data / "videos" / "mtl_aqa_diving_sample.gif"
    return out, extract(gif, config=ExtractConfig(progress=False), out=out / "dive.npz", overlay=out / "dive.gif")


@pytest.mark.slow
def test_real_broadcast_gif_flight(gif_result) -> None:
    out, res = gif_result
    st = res.status
    # handstand take-off, flight (blur, spectators, pan): the box stays on the diver, never lost;
    # blurred somersault frames the detector misses are carried by the Kalman filter
    assert all(s != LOST for s in st[:16]) and sum(s == TRACKED for s in st[:16]) >= 8
    b = res.boxes[:16]
    c = (b[:, :2] + b[:, 2:]) / 2
    diag = np.hypot(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    assert (np.linalg.norm(np.diff(c, axis=0), axis=1) < diag[1:]).all()  # no jump to someone else
    assert ((c[:, 0] > 500 / 4) & (c[:, 0] < 500 * 3 / 4)).all()  # the diver stays mid-frame in this framing
    assert res.skeleton.valid[:16].mean() > 0.8 and (out / "dive.gif").exists()
    assert SkeletonSequence.load(out / "dive.npz").num_frames == 21


@pytest.mark.slow
def test_real_broadcast_gif_ends_lost_after_entry(gif_result) -> None:
    _, res = gif_result
    # frame 17: the feet go into the splash (tracked on some CPUs, not on others: a borderline
    # detection); frame 18 on: splash and water. The track ends as lost and does not jump to
    # anything else (a splash read as a pose twice the diver's size does not re-acquire it)
    assert res.status[-1] == LOST and all(s != TRACKED for s in res.status[18:])


def test_cli_extract_and_resumable_dataset(tmp_path: Path) -> None:
    from posekit.cli import main

    vids = tmp_path / "videos"
    vids.mkdir()
    for seed in (2, 3):
        tc = make_tracking_clip(T=3, hidden=None, distractors=0, seed=seed)
        write_video(vids / f"clip{seed}.mp4", tc.clip.frames, fps=10)
    (vids / "broken.mp4").write_bytes(b"\x00" * 100)
    out = tmp_path / "out"
    assert main(["extract-dataset", "--videos", str(vids), "--out", str(out)]) == 1  # one failure
    fails = json.loads((out / "failures.json").read_text())
    assert list(fails) == ["broken"] and "broken.mp4" in fails["broken"]
    assert (out / "clip2.npz").exists() and (out / "clip3.report.json").exists()
    before = (out / "clip2.npz").stat().st_mtime_ns
    main(["extract-dataset", "--videos", str(vids), "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_done"] == 2 and summary["processed"] == 1
    assert summary["throughput"]["frames"] == 0  # only the broken clip was tried again
    assert (out / "clip2.npz").stat().st_mtime_ns == before  # finished clips are not redone
    assert json.loads((out / "clip2.report.json").read_text())["options"]["models"]["detector"] == "blazepose"
    # other options: the finished clips are computed again, not kept stale
    main(["extract-dataset", "--videos", str(vids), "--out", str(out), "--num-frames", "2"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_done"] == 0 and summary["processed"] == 3
    rate = summary["throughput"]  # the frames this run extracted (2 clips x 2), over its wall time
    assert rate["frames"] == 4 and rate["frames_per_s"] == pytest.approx(4 / rate["seconds"])
    assert SkeletonSequence.load(out / "clip2.npz").num_frames == 2
    assert (
        main(["extract", str(vids / "clip2.mp4"), "--out", str(tmp_path / "one.npz"), "--first-box", "10,10,5,5"]) == 2
    )  # a bad box is a clear error


def test_extract_dataset_cuts_annotated_dives_out_of_broadcasts(tmp_path: Path) -> None:
    """``--annotations`` (FineDiving's coarse pickle) cuts each dive's start..end frames out
    of its untrimmed video into ``<out>/<video>/<idx>.npz`` - the ``pose/`` layout training
    reads - records the frame numbers, and lists a dive whose video is missing."""
    import pickle

    from posekit.cli import main

    vids = tmp_path / "videos"
    vids.mkdir()
    tc = make_tracking_clip(T=30, hidden=None, distractors=0, seed=4)
    write_video(vids / "Final_r1.mp4", tc.clip.frames, fps=25)
    ann = {
        ("Final_r1", 0): {"action_type": "107B", "start_frame": 2, "end_frame": 9, "dive_score": 60.0},
        ("Final_r1", 1): {"action_type": "207C", "start_frame": np.int64(17), "end_frame": 26, "dive_score": 70.0},
        ("Semi_r2", 0): {"action_type": "107B", "start_frame": 0, "end_frame": 5, "dive_score": 50.0},
    }
    (tmp_path / "coarse.pkl").write_bytes(pickle.dumps(ann))
    out = tmp_path / "data" / "pose"
    argv = ["extract-dataset", "--videos", str(vids), "--annotations", str(tmp_path / "coarse.pkl"), "--out", str(out)]
    assert main([*argv, "--num-frames", "4"]) == 1  # one dive has no video
    for idx, (s, e) in ((0, (2, 9)), (1, (17, 26))):
        seq = SkeletonSequence.load(out / "Final_r1" / f"{idx}.npz")
        assert seq.num_frames == 4 and seq.frame_indices[0] == s and seq.frame_indices[-1] == e
    failed = json.loads((out / "summary.json").read_text())["failed"]
    assert list(failed) == ["Semi_r2/0"] and "Semi_r2" in failed["Semi_r2/0"]
    bad = {("../escape", 0): {"start_frame": 0, "end_frame": 3}}
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(bad))
    argv[4] = str(tmp_path / "bad.pkl")
    assert main(argv) == 2  # a video name that would leave the output folder is refused


@pytest.mark.slow
def test_quality_presets_take_the_temporal_path_once_tracked(tmp_path: Path) -> None:
    """``balanced`` estimates a tracked athlete's pose with its few passes around the previous
    orientation (no detector; BlazePose's landmark network alone on the region the previous
    pose gives) and says so per frame; ``accurate`` runs the full search on every frame; both
    keep the athlete; an unknown preset is a clear error."""
    from posekit.errors import PosekitError

    tc = make_tracking_clip(T=12, hidden=None, distractors=0, seed=5)
    runs = {}
    for q in ("accurate", "balanced", "fast"):
        res = extract(tc.clip, config=ExtractConfig(progress=False, quality=q))
        assert res.report["found_fraction"] >= 0.8, q
        runs[q] = {**res.report, "model": res.skeleton.meta["model"]}
    bal, acc = runs["balanced"], runs["accurate"]
    assert not any(acc["temporal"]) and sum(bal["temporal"]) >= 6
    t = [i for i, x in enumerate(bal["temporal"]) if x]
    assert all(bal["pose_runs"][i] <= 12 for i in t) and min(acc["pose_runs"][i] for i in t) > 12
    assert all("tracked by the pose" in bal["how_found"][i] for i in t)
    assert all(bal["pose_path"][i] == "direct" for i in t) and set(acc["pose_path"]) <= {"search", "none"}
    # fast: the athlete chosen over 2 frames, its first pose a 4 angles x mirror search without
    # refine, with the direct BlazePose backend (the default for fast)
    fast = runs["fast"]
    first = fast["athlete_found"].index(True)
    assert "over the first 2 frames" in fast["athlete_chosen_by"] and not fast["temporal"][first]
    assert fast["model"] == "BlazePoseDirect" and acc["model"] == bal["model"] == "BlazePose"
    assert 0 < fast["pose_runs"][first] <= 16 and acc["pose_runs"][first] > 16
    with pytest.raises(PosekitError, match="unknown quality"):
        ExtractConfig(quality="best")
