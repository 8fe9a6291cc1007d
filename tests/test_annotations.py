"""annotations_tools: converters, validation, review, frame sampling; HRNet fine-tuning."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from annotations_tools.review import review
from annotations_tools.validate import validate
from graphs import get_layout
from posekit.errors import AnnotationError
from posekit.labels import (
    NOT_LABELLED,
    OCCLUDED,
    VISIBLE,
    KeypointLabel,
    read_any,
    read_coco,
    read_labelme_folder,
    read_mpii,
    write_coco,
    write_labelme_folder,
    write_mpii,
)

MPII = get_layout("mpii16")


def standing(x: float = 100, y: float = 50) -> np.ndarray:
    base = np.array(
        [
            [-12, 170],
            [-11, 130],
            [-10, 90],
            [10, 90],
            [11, 130],
            [12, 170],
            [0, 90],
            [0, 40],
            [0, 32],
            [0, 8],
            [-30, 95],
            [-27, 68],
            [-20, 42],
            [20, 42],
            [27, 68],
            [30, 95],
        ],
        float,
    )
    return base + [x, y]


def make_images(folder: Path, names: list[str], size=(320, 240)) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        Image.new("RGB", size, (40, 90, 160)).save(folder / n)


def synthetic_labels() -> list[KeypointLabel]:
    out = []
    for i in range(4):
        vis = np.full(16, VISIBLE)
        if i == 1:
            vis[MPII.index("l_wrist")] = OCCLUDED
        if i == 2:
            vis[MPII.index("r_ankle")] = NOT_LABELLED
        out.append(KeypointLabel(f"img{i}.png", 320, 240, standing(100 + 5 * i), vis, np.array([60, 40, 150, 230.0])))
    return out


def test_round_trips_are_lossless(tmp_path: Path) -> None:
    labels = synthetic_labels()
    write_labelme_folder(labels, tmp_path / "lm")
    a = read_labelme_folder(tmp_path / "lm")
    write_coco(a, tmp_path / "c.json")
    b = read_coco(tmp_path / "c.json")
    write_mpii(b, tmp_path / "m.json")
    c = read_mpii(tmp_path / "m.json")
    write_labelme_folder(c, tmp_path / "lm2")
    d = read_labelme_folder(tmp_path / "lm2")
    for orig, *copies in zip(labels, a, b, c, d, strict=True):
        assert all(orig.same_as(x) for x in copies)
    assert c[1].visibility[MPII.index("l_wrist")] == OCCLUDED and c[2].visibility[MPII.index("r_ankle")] == 0
    coco = json.loads((tmp_path / "c.json").read_text())
    assert coco["categories"][0]["keypoints"] == list(MPII.joints)
    assert coco["annotations"][1]["keypoints"][3 * MPII.index("l_wrist") + 2] == 1


def test_shared_labels_round_trip(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "finediving" / "pose_frames" / "annotations.json"
    labels = read_mpii(src)
    assert len(labels) == 51 and labels[0].width == 455 and labels[0].height == 256
    write_labelme_folder(labels, tmp_path / "lm")
    back = read_any(tmp_path / "lm")
    write_mpii(back, tmp_path / "m.json")
    again = read_mpii(tmp_path / "m.json")
    assert all(x.same_as(y) for x, y in zip(labels, again, strict=True))
    orig = json.loads(src.read_text())[0]
    rec = json.loads((tmp_path / "m.json").read_text())[0]
    assert rec["center"] == pytest.approx(orig["center"]) and rec["scale"] == pytest.approx(orig["scale"])


def test_validation_finds_each_problem(tmp_path: Path) -> None:
    labels = synthetic_labels()
    folder = tmp_path / "lm"
    make_images(folder, [lb.image for lb in labels[:3]])
    make_images(folder, ["img3.png"], size=(200, 100))  # wrong size
    write_labelme_folder(labels, folder)
    # img0: a misspelt joint name; img1: a point outside the image; img2: not labelled joint (r_ankle)
    j0 = json.loads((folder / "img0.json").read_text())
    j0["shapes"][1]["label"] = "r_ankel"
    (folder / "img0.json").write_text(json.dumps(j0))
    j1 = json.loads((folder / "img1.json").read_text())
    j1["shapes"][-1]["points"] = [[400.0, 20.0]]
    (folder / "img1.json").write_text(json.dumps(j1))
    rep = validate(folder)
    checks = {(i.image, i.check) for i in rep.issues}
    assert ("img0.json", "names") in checks
    assert "did you mean 'r_ankle'" in rep.to_text()
    assert ("img1.png", "inside_image") in checks and ("img1.png", "inside_box") in checks
    assert ("img2.png", "keypoints") in checks
    assert ("img3.png", "image") in checks
    assert not rep.ok and rep.images == 4


def test_validation_flags_left_right_swap(tmp_path: Path) -> None:
    labels = synthetic_labels()
    labels[2].joints = labels[2].joints[MPII.flip_index]  # annotator swapped sides in frame 2
    labels[2].visibility = np.full(16, VISIBLE)
    folder = tmp_path / "lm"
    make_images(folder, [lb.image for lb in labels])
    write_labelme_folder(labels, folder)
    rep = validate(folder)
    assert {i.image for i in rep.issues if i.check == "left_right"} >= {"img2.png"}


def test_review_between_annotators(tmp_path: Path) -> None:
    a = synthetic_labels()
    b = [KeypointLabel(x.image, x.width, x.height, x.joints.copy(), x.visibility.copy(), x.box) for x in a]
    head = np.linalg.norm(standing()[9] - standing()[8])
    b[0].joints[MPII.index("l_knee")] += [head, 0]
    b[3].joints[MPII.index("r_wrist")] += [0, 0.8 * head]
    rep = review(a, b, threshold=0.5)
    assert [f["image"] for f in rep.flagged] == ["img0.png", "img3.png"]
    assert rep.flagged[0]["joints"] == {"l_knee": pytest.approx(1.0)}
    assert rep.agreement_pckh["0.5"] < 1.0 and rep.per_joint_pckh["l_knee"] == pytest.approx(0.75)
    with pytest.raises(AnnotationError, match="share no image"):
        review(a, [KeypointLabel("other.png", 1, 1, np.zeros((16, 2)), np.zeros(16), None)])


def test_sampling_for_labelling(tmp_path: Path) -> None:
    from annotations_tools.sample import choose_clips, sample_for_labelling, stage_frames
    from posekit.datasets.records import AQARecord
    from posekit.pose.testclip import make_tracking_clip

    records = {}
    for i, dn in enumerate(["107B", "107B", "107B", "5253B"]):
        key = ("match", i)
        labels = np.array([4] * 2 + [25] * 4 + [36] * 2)
        records[key] = AQARecord(key, 80.0, dn, 3.0, transits=np.array([1, 5]), frame_labels=labels)
        clip = make_tracking_clip(T=8, hidden=None, distractors=0, seed=i).clip
        d = tmp_path / "frames" / "match" / str(i)
        d.mkdir(parents=True)
        from PIL import Image

        for t, f in enumerate(clip.frames):
            Image.fromarray(f).save(d / f"{t:05d}.jpg")
    assert len(choose_clips(records, per_dive=2)) == 3  # 2 of 107B + the only 5253B
    assert stage_frames(records[("match", 0)], 8, ["flight"]) == [2, 3, 4, 5]
    with pytest.raises(AnnotationError, match="unknown stage"):
        stage_frames(records[("match", 0)], 8, ["twist"])
    out = sample_for_labelling(
        {k: records[k] for k in [("match", 3)]},
        tmp_path / "frames",
        tmp_path / "label",
        per_dive=1,
        stages=["flight"],
        stride=2,
        predict=True,
    )
    assert len(out) == 2 and all(p.exists() for p in out)
    lbs = read_labelme_folder(tmp_path / "label")
    assert all(lb.box is not None and (lb.visibility > 0).sum() >= 8 for lb in lbs)  # pre-filled pseudo-labels
    assert (tmp_path / "label" / "match_3_00002.jpg").exists()


def test_cli_annotate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from posekit.cli import main

    labels = synthetic_labels()
    make_images(tmp_path / "lm", [lb.image for lb in labels])
    write_labelme_folder(labels, tmp_path / "lm")
    assert main(["annotate", "validate", str(tmp_path / "lm")]) == 1  # img2 misses a joint
    assert main(["annotate", "convert", str(tmp_path / "lm"), str(tmp_path / "m.json"), "--to", "mpii"]) == 0
    assert (
        main(
            [
                "annotate",
                "review",
                str(tmp_path / "lm"),
                "--second",
                str(tmp_path / "m.json"),
                "--report",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "r.json").read_text())["agreement_pckh"]["0.5"] == 1.0


@pytest.mark.slow
def test_finetune_on_real_frames_then_extract(shared_data: Path, tmp_path: Path) -> None:
    from posekit.checkpoints import load_checkpoint
    from posekit.pose import ExtractConfig, extract
    from posekit.pose.estimate import MMPoseEstimator
    from posekit.pose.finetune import finetune
    from posekit.pose.testclip import make_tracking_clip

    data = tmp_path / "data"
    shutil.copytree(shared_data / "finediving" / "pose_frames", data)
    # the user's workflow: LabelMe labels -> our converter -> MPII JSON for training
    write_labelme_folder(read_mpii(data / "annotations.json"), tmp_path / "lm")
    write_mpii(read_any(tmp_path / "lm"), data / "annotations.json")
    s = finetune(data, tmp_path / "work", iters=4, batch_size=4, lr=5e-4, val_fraction=0.1, seed=0)
    assert len(s["losses"]) == 4 and s["losses"][-1] < s["losses"][0]  # the loss goes down
    assert 0.0 <= s["val_pckh"]["pckh"] <= 1.0 and s["val_images"] == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # posekit's own checkpoint loads weights-only, with no warning
        ck = load_checkpoint(s["checkpoint"])
    assert "state_dict" in ck and "message_hub" in ck
    est = MMPoseEstimator(s["config"], s["checkpoint"])
    clip = make_tracking_clip(T=3, hidden=None, distractors=0, seed=0).clip
    res = extract(clip, estimator=est, config=ExtractConfig(progress=False))
    assert res.skeleton.data.shape == (3, 16, 3)
    # resume continues from the last checkpoint
    s2 = finetune(data, tmp_path / "work", iters=5, batch_size=4, val_fraction=0.1, seed=0, resume=True)
    assert Path(s2["checkpoint"]).name == "iter_5.pth"
    # a second run in the same process logs into its own folder (mmengine visualizers are singletons)
    s3 = finetune(data, tmp_path / "other", iters=1, batch_size=2, val_fraction=0.1, seed=1)
    assert len(s3["losses"]) == 1
