"""Self-supervised pre-training of the skeletal encoder (posekit.training.pretrain)."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from posekit.errors import ConfigError
from posekit.training import build_splits, load_config, run_training
from posekit.training.pretrain import chunk_mask, hide, load_pretrained, pretrain_skeleton, skeletal_encoder


def _cfg(tmp_path: Path, tiny_aqa: dict, **train) -> Path:
    tiny_aqa["data"]["motion"] = True
    tiny_aqa["train"].update(train)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_aqa))
    return path


def test_hidden_frames_leave_no_trace_in_the_input() -> None:
    """A hidden frame's position cannot be read from the next frame's motion channels."""
    gen = torch.Generator().manual_seed(0)
    m = chunk_mask(3, 24, 0.5, 4, gen)
    assert m.shape == (3, 24) and (m.sum(1) == 12).all()  # 3 of 6 chunks of 4 frames
    assert (m.view(3, 6, 4).all(2) | ~m.view(3, 6, 4).any(2)).all()  # whole chunks
    x = torch.randn(3, 5, 24, 9)
    x[:, 2] = 1.0
    out = hide(x, m)
    assert (out[:, :, :][m[:, None, :, None].expand_as(out)] == 0).all()
    after = torch.zeros_like(m)
    after[:, 1:] = m[:, :-1]  # the frame after a hidden one
    assert (out[:, 3:5][after[:, None, :, None].expand(-1, 2, -1, 9)] == 0).all()
    seen = ~m & ~after
    seen[:, 0] = False
    d = x[:, :2, 1:] - x[:, :2, :-1]
    assert torch.allclose(
        out[:, 3:5, 1:][seen[:, None, 1:, None].expand(-1, 2, -1, 9)], d[seen[:, None, 1:, None].expand(-1, 2, -1, 9)]
    )


def test_pretraining_learns_to_predict_hidden_motion(tmp_path, tiny_aqa) -> None:
    cfg = load_config(_cfg(tmp_path, tiny_aqa, pretrain_epochs=15, lr=3e-3))
    splits = build_splits(cfg)
    from posekit.training.trainer import build_model

    enc = skeletal_encoder(build_model(cfg, splits))
    poses = np.stack([it.pose for it in splits.train])
    hist = pretrain_skeleton(enc, poses, cfg, torch.device("cpu"))
    assert len(hist) == 15 and hist[-1]["pretrain_loss"] < 0.8 * hist[0]["pretrain_loss"]


def test_pretraining_in_a_run_never_sees_test_clips(tmp_path, tiny_aqa, monkeypatch) -> None:
    """``train.pretrain_epochs`` pre-trains on the run's train + val skeletons only."""
    import posekit.training.pretrain as pt

    seen = {}
    real = pt.pretrain_skeleton

    def spy(enc, poses, cfg, device, show=False):
        seen["poses"] = poses
        return real(enc, poses, cfg, device, show)

    monkeypatch.setattr(pt, "pretrain_skeleton", spy)
    cfg = load_config(_cfg(tmp_path, tiny_aqa, pretrain_epochs=2))
    splits = build_splits(cfg)
    run_training(cfg, tmp_path / "run")
    ours = np.stack([it.pose for it in splits.train + splits.val])
    assert np.array_equal(seen["poses"], ours)
    assert len((tmp_path / "run" / "pretrain.json").read_text()) > 2


def test_posekit_pretrain_then_init_from(tmp_path, tiny_aqa, capsys) -> None:
    from posekit.cli import main
    from posekit.training.trainer import build_model

    path = _cfg(tmp_path, tiny_aqa, pretrain_epochs=2)
    assert main(["pretrain", str(path), "--work-dir", str(tmp_path / "pre")]) == 0
    ckpt = tmp_path / "pre" / "pretrained.pth"
    cfg = load_config(path, [f"train.init_from={ckpt}"])
    model = build_model(cfg, build_splits(cfg))
    load_pretrained(model, ckpt)
    state = torch.load(ckpt, weights_only=True)["skeletal_encoder"]
    for k, v in skeletal_encoder(model).state_dict().items():
        assert torch.equal(v, state[k]), k
    run_training(cfg, tmp_path / "run")  # a run starts from it
    wide = load_config(path, ["model.dim=24"])
    with pytest.raises(ConfigError, match=r"pretrained\.pth.*does not fit"):
        load_pretrained(build_model(wide, build_splits(wide)), ckpt)
    assert main(["pretrain", str(_cfg(tmp_path, tiny_aqa, pretrain_epochs=0)), "--work-dir", str(tmp_path / "p0")]) != 0
    assert "train.pretrain_epochs" in capsys.readouterr().err and not (tmp_path / "p0").exists()
