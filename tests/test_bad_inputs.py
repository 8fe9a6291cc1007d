"""Hostile files and bad input: no crafted file runs code, errors name the file.

Each payload checkpoint would create a marker file when unpickled; no path that loads a
checkpoint may create it unless the user passed ``--trust-checkpoint``.
"""

from __future__ import annotations

import glob
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit import cli
from posekit.checkpoints import allowed_globals, checkpoint_loading, load_checkpoint
from posekit.errors import PosekitError

HRNET_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "pose" / "hrnet_w32_mpii16_256x256.py"


class _Payload:
    """Unpickling this calls ``open(marker, 'w')``: a stand-in for any code a file could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def payload_checkpoint(path: Path, marker: Path, mmengine_like: bool = True) -> Path:
    obj: dict = {"state_dict": {"w": torch.ones(2)}, "x": _Payload(marker)}
    if mmengine_like:
        obj["meta"] = {"epoch": 1, "iter": 2, "dataset_meta": {"num_keypoints": 16}}
    torch.save(obj, path)
    return path


@pytest.fixture()
def payload(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "PAYLOAD_RAN"
    return payload_checkpoint(tmp_path / "evil.pth", marker), marker


def _run(argv: list[str], capsys) -> tuple[int, str]:
    rc = cli.main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def test_payload_refused_by_the_loader(payload) -> None:
    ck, marker = payload
    with pytest.raises(PosekitError, match=r"evil\.pth.*refused.*io\.open.*--trust-checkpoint"):
        load_checkpoint(ck)
    assert not marker.exists()


def test_trust_is_explicit(payload) -> None:
    ck, marker = payload
    with pytest.warns(UserWarning, match="trust"):
        load_checkpoint(ck, trust=True)
    assert marker.exists()  # the user asked for it: the file's code ran


def test_mmengine_metadata_is_allowed_and_nothing_more(tmp_path: Path) -> None:
    from mmengine.logging import HistoryBuffer

    hb = HistoryBuffer()
    hb.update(np.float64(0.5))
    ck = {"state_dict": {"w": torch.ones(2)}, "message_hub": {"log_scalars": {"loss": hb}}, "n": np.int64(3)}
    torch.save(ck, tmp_path / "ok.pth")
    back = load_checkpoint(tmp_path / "ok.pth")
    assert back["message_hub"]["log_scalars"]["loss"].current() == 0.5 and int(back["n"]) == 3
    # the allow-listed getattr answers only HistoryBuffer's four statistics
    getattr_entry = next(g for g in allowed_globals() if isinstance(g, tuple))[0]
    assert getattr_entry(HistoryBuffer, "mean") is HistoryBuffer.mean
    import pickle

    for obj, name in ((HistoryBuffer, "__init__"), (np, "load"), (torch, "load")):
        with pytest.raises(pickle.UnpicklingError):
            getattr_entry(obj, name)


def test_checkpoint_loading_context_restores_torch_load(payload) -> None:
    import pickle

    ck, marker = payload
    with checkpoint_loading(), pytest.raises(pickle.UnpicklingError):
        torch.load(ck)  # even a library's plain torch.load is weights-only inside
    assert torch.load.__module__ == "torch.serialization"
    assert not marker.exists()


def test_extract_mmpose_refuses_payload(payload, tmp_path: Path, capsys) -> None:
    ck, marker = payload
    from posekit.pose.testclip import make_tracking_clip

    clip = make_tracking_clip(T=2, hidden=None, distractors=0, seed=0).clip
    video = tmp_path / "clip"
    video.mkdir()
    from PIL import Image

    for i, f in enumerate(clip.frames):
        Image.fromarray(f).save(video / f"{i:03d}.png")
    args = ["extract", video, "--out", tmp_path / "o.npz", "--pose", "mmpose"]
    rc, err = _run([*args, "--pose-config", HRNET_CONFIG, "--pose-checkpoint", ck], capsys)
    assert rc == 2 and "evil.pth" in err and "--trust-checkpoint" in err
    assert not marker.exists() and not (tmp_path / "o.npz").exists()


def _rtmdet_config() -> str:
    import mmdet

    found = glob.glob(str(Path(mmdet.__file__).parent / ".mim/configs/rtmdet/rtmdet_tiny_8xb32-300e_coco.py"))
    if not found:
        pytest.fail("mmdet ships its configs in .mim/configs: rtmdet_tiny not found")
    return found[0]


def test_mmdet_detector_refuses_payload_and_loads_plain_weights(payload, tmp_path: Path) -> None:
    from posekit.pose.detect import build_detector

    ck, marker = payload
    cfg = _rtmdet_config()
    with pytest.raises(PosekitError, match=r"--det-checkpoint.*evil\.pth.*refused"):
        build_detector("mmdet", cfg, str(ck))
    assert not marker.exists()
    from posekit import compat

    compat.install()
    from mmdet.apis import init_detector

    model = init_detector(cfg, None, device="cpu")
    torch.save(
        {"state_dict": model.state_dict(), "meta": {"dataset_meta": {"classes": ["person"]}}}, tmp_path / "d.pth"
    )
    det = build_detector("mmdet", cfg, str(tmp_path / "d.pth"))
    assert det(np.zeros((64, 96, 3), np.uint8)).shape[1] == 5


def test_extract_dataset_passes_mmdet_options_and_lists_refusal(payload, tmp_path: Path, capsys) -> None:
    ck, marker = payload
    clip = tmp_path / "frames" / "dive1"
    clip.mkdir(parents=True)
    from PIL import Image

    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(clip / "000.png")
    det_args = ["--detector", "mmdet", "--det-config", _rtmdet_config(), "--det-checkpoint", ck]
    rc, _ = _run(
        ["extract-dataset", "--frames-root", tmp_path / "frames", "--out", tmp_path / "out", *det_args], capsys
    )
    assert rc == 1 and not marker.exists()
    failed = json.loads((tmp_path / "out" / "summary.json").read_text())["failed"]
    assert "refused" in json.dumps(failed) and "evil.pth" in json.dumps(failed)


@pytest.fixture()
def six_labelled_frames(shared_data: Path, tmp_path: Path) -> Path:
    src = shared_data / "finediving" / "pose_frames"
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    recs = json.loads((src / "annotations.json").read_text())[:6]
    for r in recs:
        shutil.copy(src / "images" / r["image"], data / "images" / r["image"])
    (data / "annotations.json").write_text(json.dumps(recs))
    return data


def test_pose_finetune_init_refuses_payload(payload, six_labelled_frames: Path, tmp_path: Path, capsys) -> None:
    ck, marker = payload
    argv = ["pose-finetune", "--data", six_labelled_frames, "--out", tmp_path / "w", "--init", ck, "--iters", "1"]
    rc, err = _run(argv, capsys)
    assert rc == 2 and "--init" in err and "evil.pth" in err and "--trust-checkpoint" in err
    assert not marker.exists()


def test_pose_finetune_resume_refuses_payload(payload, six_labelled_frames: Path, tmp_path: Path, capsys) -> None:
    ck, marker = payload
    work = tmp_path / "w"
    work.mkdir()
    (work / "last_checkpoint").write_text(str(ck))
    argv = ["pose-finetune", "--data", six_labelled_frames, "--out", work, "--resume", "--iters", "1"]
    rc, err = _run(argv, capsys)
    assert rc == 2 and "--resume" in err and "evil.pth" in err
    assert not marker.exists()


def test_evaluate_refuses_payload(payload, tmp_path: Path, capsys) -> None:
    ck, marker = payload
    cfg = Path(__file__).resolve().parents[1] / "configs" / "aqa" / "demo.yaml"
    rc, err = _run(["evaluate", cfg, "--checkpoint", ck], capsys)
    assert rc == 2 and "evil.pth" in err
    assert not marker.exists()


def test_features_weights_refuses_payload(payload, tmp_path: Path, capsys) -> None:
    ck, marker = payload
    clip = tmp_path / "frames" / "v" / "0"
    clip.mkdir(parents=True)
    from PIL import Image

    for i in range(2):
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(clip / f"{i:03d}.jpg")
    argv = ["features", "--frames-root", tmp_path / "frames", "--out", tmp_path / "f", "--kind", "static"]
    rc, err = _run([*argv, "--weights", ck, "--arch", "resnet18"], capsys)
    assert rc == 2 and "evil.pth" in err and "--trust-checkpoint" in err
    assert not marker.exists()


def test_config_options_warn_that_configs_run(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["extract", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--pose-config" in out and "runs when it reads it" in out and "--trust-checkpoint" in out


# ---------------------------------------------------------------------- nothing silently lost
def test_training_never_overwrites_an_earlier_run(tmp_path: Path, tiny_aqa: dict) -> None:
    import yaml

    from posekit.errors import ConfigError
    from posekit.training import load_config, run_training

    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump({**tiny_aqa, "train": {**tiny_aqa["train"], "epochs": 1}}))
    work = tmp_path / "work"
    with pytest.raises(ConfigError, match="no last.pth"):
        run_training(load_config(cfg_path), work, resume=True)  # --resume with nothing: not a fresh start
    run_training(load_config(cfg_path), work)
    before = {n: (work / n).read_bytes() for n in ("last.pth", "history.json")}
    with pytest.raises(ConfigError, match=r"work.*earlier run.*--resume.*--overwrite"):
        run_training(load_config(cfg_path), work)
    with pytest.raises(ConfigError, match=r"model\.dim: 16 -> 24"):
        run_training(load_config(cfg_path, ["model.dim=24"]), work, resume=True)
    assert {n: (work / n).read_bytes() for n in before} == before  # nothing was lost
    run_training(load_config(cfg_path, ["train.epochs=2"]), work, resume=True)  # more epochs: fine
    assert len(json.loads((work / "history.json").read_text())) == 2
    run_training(load_config(cfg_path), work, overwrite=True)
    assert len(json.loads((work / "history.json").read_text())) == 1
    # an overwrite that is interrupted must not leave the replaced run's results looking finished
    from posekit.training.trainer import check_work_dir

    assert (work / "predictions_test.csv").exists()
    check_work_dir(work, load_config(cfg_path), resume=False, overwrite=True)
    assert not (work / "predictions_test.csv").exists() and not list(work.glob("metrics_*.json"))


def _labels_two_folders(tmp_path: Path) -> Path:
    from posekit.labels import KeypointLabel, write_coco

    labels = [
        KeypointLabel(f"{m}/7/00001.jpg", 64, 48, np.full((16, 2), 10.0 + i), np.full(16, 2), None)
        for i, m in enumerate(("M1", "M2"))
    ]
    return write_coco(labels, tmp_path / "coco.json")


def test_convert_to_labelme_keeps_images_of_the_same_name_apart(tmp_path: Path, capsys) -> None:
    from posekit.labels import read_any

    src = _labels_two_folders(tmp_path)
    rc, _ = _run(["annotate", "convert", src, tmp_path / "lm", "--to", "labelme"], capsys)
    assert rc == 0
    files = sorted(p.name for p in (tmp_path / "lm").glob("*.json"))
    assert files == ["M1__7__00001.json", "M2__7__00001.json"]
    back = sorted(read_any(tmp_path / "lm"), key=lambda lb: lb.image)
    assert [lb.image for lb in back] == ["M1/7/00001.jpg", "M2/7/00001.jpg"]
    assert back[1].joints[0, 0] == 11.0  # neither label overwrote the other


@pytest.mark.parametrize("bad", ["../evil.jpg", "/etc/evil.jpg", "a/../../evil.jpg"])
def test_label_image_paths_cannot_leave_the_output_folder(tmp_path: Path, bad: str, capsys) -> None:
    from posekit.labels import KeypointLabel, write_coco

    write_coco([KeypointLabel(bad, 64, 48, np.full((16, 2), 5.0), np.full(16, 2), None)], tmp_path / "c.json")
    (tmp_path / "out").mkdir()
    rc, err = _run(["annotate", "convert", tmp_path / "c.json", tmp_path / "out", "--to", "labelme"], capsys)
    assert rc == 2 and ("cannot be a file name" in err or "absolute path" in err)
    assert list((tmp_path / "out").iterdir()) == [] and not (tmp_path / "evil.json").exists()


@pytest.mark.parametrize("key", [("../victim", 1), ("M1", "../../x"), ("/abs", 0), ("a/b", 2)])
def test_annotation_keys_cannot_leave_the_output_folder(tmp_path: Path, key: tuple) -> None:
    from annotations_tools.sample import sample_for_labelling
    from posekit.datasets.records import AQARecord
    from posekit.errors import AnnotationError

    (tmp_path / "victim").mkdir()
    rec = AQARecord(key, 80.0, "107B", 3.0, transits=np.array([1, 5]), frame_labels=np.zeros(8, int))
    with pytest.raises(AnnotationError, match="key.*cannot be a file name"):
        sample_for_labelling({key: rec}, tmp_path / "frames", tmp_path / "out", predict=False)
    assert list((tmp_path / "victim").iterdir()) == []


# ---------------------------------------------------------------------- paths and empty inputs
def _blank_frames(folder: Path, n: int = 2) -> Path:
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(folder / f"{i:03d}.png")
    return folder


@pytest.mark.parametrize(
    "flag, value, expected",
    [("--overlay", "x.txt", "--overlay must be a file ending in .mp4 or .gif"), ("--out", "somedir", "--out must")],
)
def test_extract_checks_outputs_before_any_work(tmp_path: Path, capsys, flag: str, value: str, expected: str) -> None:
    clip = _blank_frames(tmp_path / "clip")
    (tmp_path / "somedir").mkdir()
    argv = ["extract", clip, "--out", tmp_path / "o.npz", flag, tmp_path / value]
    rc, err = _run(argv, capsys)
    assert rc == 2 and expected in err
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "o.npz").exists()


def test_extract_without_any_athlete_fails(tmp_path: Path, capsys) -> None:
    rc, err = _run(["extract", _blank_frames(tmp_path / "clip"), "--out", tmp_path / "o.npz"], capsys)
    assert rc == 1 and "no athlete found in any frame" in err


@pytest.mark.parametrize("make", ["missing", "empty", "no_images"])
def test_extract_dataset_with_nothing_to_do_is_an_error(tmp_path: Path, capsys, make: str) -> None:
    root = tmp_path / "frames"
    if make != "missing":
        root.mkdir()
    if make == "no_images":
        (root / "clip").mkdir()
        (root / "clip" / "notes.txt").write_text("no frames here")
    rc, err = _run(["extract-dataset", "--frames-root", root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and str(root) in err and ("not a folder" in err or "no clip found" in err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_files_respect_the_umask(tmp_path: Path, mask: int) -> None:
    import os

    from posekit.io import write_json

    old = os.umask(mask)
    try:
        write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o666 & ~mask


# ---------------------------------------------------------------------- data
@pytest.mark.parametrize("conf, match", [(5.0, r"\[0, 1\].*5 at frame 1, joint r_knee"), (-0.5, r"\[0, 1\]")])
def test_skeleton_confidence_outside_0_1_is_refused(conf: float, match: str) -> None:
    from posekit.errors import SkeletonFormatError
    from posekit.skeleton import SkeletonSequence

    data = np.random.default_rng(0).uniform(1, 50, (3, 16, 3)).astype(np.float32)
    data[..., 2] = 0.8
    data[1, 1, 2] = conf
    with pytest.raises(SkeletonFormatError, match=match):
        SkeletonSequence(data, layout="mpii16")


def test_skeleton_coordinates_only_mark_zero_joints_missing() -> None:
    from posekit.skeleton import SkeletonSequence

    xy = np.random.default_rng(0).uniform(1, 50, (3, 16, 2)).astype(np.float32)
    xy[2, 5] = 0.0
    seq = SkeletonSequence(xy, layout="mpii16")
    assert seq.confidence[2, 5] == 0 and seq.confidence[0, 0] == 1


# ---------------------------------------------------------------------- labels
def _labelme(path: Path, shapes, **extra) -> Path:
    obj = {"shapes": shapes, "imagePath": "img.jpg", "imageWidth": 64, "imageHeight": 48, **extra}
    path.write_text(json.dumps(obj) if not isinstance(shapes, str) else shapes)
    return path


def _pt(name: str, xy) -> dict:
    return {"label": name, "points": [xy], "shape_type": "point", "flags": {}}


@pytest.mark.parametrize(
    "shapes, expected",
    [
        ([_pt("r_ankle", [float("nan"), 3.0])], "finite coordinates"),
        ([_pt("r_ankle", [float("inf"), 3.0])], "finite coordinates"),
        ([{"label": "r_ankle", "points": [], "shape_type": "point"}], "expected one point"),
        ([_pt("r_ankle", "12,3")], "two numbers"),
        (["not a shape"], "expected"),
        ("[1, 2, 3]", "LabelMe object"),
    ],
)
def test_malformed_labelme_is_reported_per_file_and_validation_goes_on(
    tmp_path: Path, capsys, shapes, expected: str
) -> None:
    from annotations_tools.validate import validate

    folder = tmp_path / "labels"
    folder.mkdir()
    _labelme(folder / "bad.json", shapes)
    _labelme(folder / "good.json", [_pt(n, [10.0 + i, 20.0]) for i, n in enumerate(("r_ankle", "r_knee"))])
    rep = validate(folder)
    bad = [i for i in rep.issues if i.image == "bad.json"]
    assert bad and any(expected in i.message for i in bad), rep.issues
    assert rep.images == 2  # the good file was read and checked too
    rc, err = _run(["annotate", "convert", folder, tmp_path / "out.json", "--to", "coco"], capsys)
    assert rc == 2 and "bad.json" in err and not (tmp_path / "out.json").exists()  # no NaN written


def test_labelme_without_image_size_uses_image_dir(tmp_path: Path) -> None:
    from PIL import Image

    from posekit.labels import read_any

    (tmp_path / "labels").mkdir()
    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.zeros((30, 50, 3), np.uint8)).save(tmp_path / "imgs" / "img.jpg")
    f = tmp_path / "labels" / "a.json"
    f.write_text(json.dumps({"shapes": [_pt("r_ankle", [1.0, 2.0])], "imagePath": "img.jpg"}))
    (lb,) = read_any(tmp_path / "labels", image_dir=tmp_path / "imgs")
    assert (lb.width, lb.height) == (50, 30)
    with pytest.raises(PosekitError, match=r"a\.json: field 'imageWidth'.*--image-dir"):
        read_any(tmp_path / "labels")


# ---------------------------------------------------------------------- configs
@pytest.mark.parametrize(
    "override, field, allowed",
    [
        ("train.epochs=three", "train.epochs", "an integer >= 1"),
        ("train.lr=[1, 2]", "train.lr", "a finite number"),
        ("train.lr=.nan", "train.lr", "a finite number"),
        ("train.epochs=0", "train.epochs", "an integer >= 1"),
        ("train.epochs=-1", "train.epochs", "an integer >= 1"),
        ("train.batch_size=0", "train.batch_size", "an integer >= 1"),
        ("model.dim=0", "model.dim", "an integer >= 1"),
        ("data.num_frames=1", "data.num_frames", "an integer >= 2"),
        ("data.use_dn=maybe", "data.use_dn", "true or false"),
        ("train.optimizer=adamax", "train.optimizer", "one of"),
    ],
)
def test_config_values_are_typed(override: str, field: str, allowed: str) -> None:
    from posekit.errors import ConfigError
    from posekit.training import load_config

    cfg = Path(__file__).resolve().parents[1] / "configs" / "aqa" / "demo.yaml"
    with pytest.raises(ConfigError, match=rf"demo\.yaml: field '{field}'.*{allowed}.*got") as e:
        load_config(cfg, [override])
    assert override.split("=", 1)[1].strip("[]").split(",")[0] in str(e.value) or "nan" in str(e.value)


def test_empty_config_file_is_an_error(tmp_path: Path) -> None:
    from posekit.errors import ConfigError
    from posekit.training import load_config

    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match=r"empty\.yaml.*empty config"):
        load_config(tmp_path / "empty.yaml")


# ---------------------------------------------------------------------- annotation data
@pytest.mark.parametrize(
    "which, field, value, match",
    [
        ("coarse", "dive_score", float("nan"), r"dive_score must be finite"),
        ("coarse", "difficulty", "hard", r"difficulty must be a number"),
        ("fine", "sub-action_types", ["Entry", "Pike"], r"sub-action_types must be a dict"),
    ],
)
def test_finediving_bad_values_name_the_clip(shared_data: Path, tmp_path: Path, which, field, value, match) -> None:
    import pickle

    from posekit.datasets import FineDiving
    from posekit.errors import AnnotationError
    from posekit.io import restricted_pickle_load

    src = shared_data / "finediving" / "annotations"
    root = tmp_path / "ann"
    shutil.copytree(src, root)
    name = {"coarse": "FineDiving_coarse_annotation.pkl", "fine": "FineDiving_fine-grained_annotation.pkl"}[which]
    data = restricted_pickle_load(root / name)
    key = sorted(data, key=repr)[0]
    data[key][field] = value
    (root / name).write_bytes(pickle.dumps(data))
    with pytest.raises(AnnotationError, match=rf"{name}: field '{field}': record .*{key[0]}.*{match}"):
        FineDiving(root)


# ---------------------------------------------------------------------- video
def _faststart_mp4(path: Path, n: int = 30) -> Path:
    import av

    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as out:
        st = out.add_stream("mpeg4", rate=10)
        st.width, st.height, st.pix_fmt = 96, 64, "yuv420p"
        for i in range(n):
            for pk in st.encode(av.VideoFrame.from_ndarray(np.full((64, 96, 3), i * 8, np.uint8), format="rgb24")):
                out.mux(pk)
        for pk in st.encode():
            out.mux(pk)
    return path


@pytest.mark.parametrize("kind", ["mp4", "gif"])
def test_truncated_video_is_flagged(tmp_path: Path, shared_data: Path, kind: str) -> None:
    from posekit.pose.video import read_clip

    if kind == "mp4":
        data = _faststart_mp4(tmp_path / "full.mp4").read_bytes()
        cut = tmp_path / "half.mp4"
        cut.write_bytes(data[: len(data) // 2])
    else:
        data = (shared_data / "videos" / "mtl_aqa_diving_sample.gif").read_bytes()
        cut = tmp_path / "cut.gif"
        cut.write_bytes(data[: len(data) // 8])
    with pytest.warns(UserWarning, match="truncated video"):
        clip = read_clip(cut)
    assert clip.meta["truncated"]["decoded_frames"] == len(clip) < (30 if kind == "mp4" else 21)


def test_num_frames_above_the_clip_needs_repeat_frames(tmp_path: Path) -> None:
    from posekit.pose.video import VideoReadError, read_clip

    video = _faststart_mp4(tmp_path / "v.mp4", n=12)
    with pytest.raises(VideoReadError, match=r"v\.mp4.*--num-frames 96 but the clip has 12.*--repeat-frames"):
        read_clip(video, num_frames=96)
    assert len(read_clip(video, num_frames=96, repeat=True)) == 96


def test_frames_of_different_sizes_in_one_clip_are_refused(tmp_path: Path) -> None:
    from PIL import Image

    from posekit.pose.video import VideoReadError, read_clip

    (tmp_path / "clip").mkdir()
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(tmp_path / "clip" / "000.png")
    Image.fromarray(np.zeros((50, 64, 3), np.uint8)).save(tmp_path / "clip" / "001.png")
    with pytest.raises(VideoReadError, match=r"001\.png.*64x50 differs from the first frame's 64x48"):
        read_clip(tmp_path / "clip")


def test_evaluate_and_explain_refuse_a_config_that_does_not_describe_the_checkpoint(
    tmp_path: Path, tiny_aqa: dict, capsys
) -> None:
    import yaml

    from posekit.training import load_config, run_training

    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump({**tiny_aqa, "train": {**tiny_aqa["train"], "epochs": 1}}))
    run_training(load_config(cfg_path), tmp_path / "w")
    ck = tmp_path / "w" / "best.pth"
    for argv in (
        ["evaluate", cfg_path, "--checkpoint", ck, "--set", "data.num_frames=32"],
        ["explain", cfg_path, "--checkpoint", ck, "--sample", "test/0", "--out", tmp_path / "x", "--set", "data.K=2"],
    ):
        rc, err = _run(argv, capsys)
        assert rc == 2 and "does not describe this checkpoint" in err and ("data.num_frames" in err or "data.K" in err)
    assert not (tmp_path / "x").exists()


def test_speed21_bad_files_are_named(tmp_path: Path) -> None:
    from posekit.datasets.speed_climbing import SpeedClimbing, read_speed21_file
    from posekit.errors import AnnotationError, SkeletonFormatError

    pts = ";".join(["1,2"] * 16)
    (tmp_path / "latin1.data").write_bytes(f"0#{pts}\n1#{pts} caf\xe9\n".encode("latin-1"))
    with pytest.raises(SkeletonFormatError, match=r"latin1\.data.*not UTF-8.*0xe9"):
        read_speed21_file(tmp_path / "latin1.data")
    (tmp_path / "back.data").write_text(f"0#{pts}\n5#{pts}\n3#{pts}\n")
    with pytest.raises(SkeletonFormatError, match=r"back\.data: field 'line': line 3: frame 3 after frame 5"):
        read_speed21_file(tmp_path / "back.data")
    root = tmp_path / "speed"
    (root / "skeletons").mkdir(parents=True)
    (root / "metadata.txt").write_text("r1;1;2021-01-01;1;url;0;10;6.5;162;1;left;25\n")
    with pytest.raises(AnnotationError, match=r"metadata\.txt: field 'id_run': unknown run id 'r9'"):
        SpeedClimbing(root).load("r9")
    (root / "metadata.txt").write_bytes(b"r1;1;2021;1;\xff;0;10;6.5;162;1;left;25\n")
    with pytest.raises(AnnotationError, match=r"metadata\.txt.*not UTF-8"):
        SpeedClimbing(root)


def test_extract_dataset_refuses_clip_ids_that_collide(tmp_path: Path, capsys) -> None:
    vids = tmp_path / "videos"
    vids.mkdir()
    _faststart_mp4(vids / "dive.mp4", n=3)
    shutil.copy(vids / "dive.mp4", vids / "dive.mov")
    rc, err = _run(["extract-dataset", "--videos", vids, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and "dive.mov" in err and "dive.mp4" in err and "would both be clip 'dive'" in err
    assert not (tmp_path / "out").exists()
