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
