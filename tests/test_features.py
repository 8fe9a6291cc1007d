"""posekit features: torchvision backbones with weights from a local path, resumable batch."""

import numpy as np
import pytest
import torch
from PIL import Image

from posekit.errors import ConfigError
from posekit.features import build_backbone, extract_features_dataset


def _frames(root, n_clips=2, n=6):
    rng = np.random.default_rng(0)
    for c in range(n_clips):
        d = root / "VID01" / str(c)
        d.mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(d / f"{i:05d}.jpg")


def test_static_features_from_a_weights_file(tmp_path):
    _frames(tmp_path / "frames")
    with pytest.warns(UserWarning, match="randomly initialised"):
        net = build_backbone("static", "resnet18")
    torch.save(net.state_dict(), tmp_path / "r18.pth")
    done = extract_features_dataset(
        tmp_path / "frames", tmp_path / "out", "static", weights=tmp_path / "r18.pth", arch="resnet18", num_frames=4
    )
    assert done == {"written": 2, "skipped": 0, "failed": {}}
    f = np.load(tmp_path / "out" / "VID01" / "0.npy")
    assert f.shape == (4, 512) and np.isfinite(f).all()
    # the weights file decides the features: the same file gives the same numbers
    again = extract_features_dataset(
        tmp_path / "frames", tmp_path / "out2", "static", weights=tmp_path / "r18.pth", arch="resnet18", num_frames=4
    )
    assert again["written"] == 2
    np.testing.assert_allclose(np.load(tmp_path / "out2" / "VID01" / "0.npy"), f, rtol=1e-4, atol=1e-5)
    # resumable: finished clips are skipped
    assert (
        extract_features_dataset(
            tmp_path / "frames", tmp_path / "out", "static", weights=tmp_path / "r18.pth", arch="resnet18", num_frames=4
        )["skipped"]
        == 2
    )


def test_dynamic_features_shape(tmp_path):
    _frames(tmp_path / "frames", n_clips=1, n=8)
    with pytest.warns(UserWarning):
        done = extract_features_dataset(
            tmp_path / "frames", tmp_path / "out", "dynamic", num_frames=8, clip_len=4, num_clips=3
        )
    assert done["written"] == 1
    assert np.load(tmp_path / "out" / "VID01" / "0.npy").shape == (3, 512)


def test_bad_weights_and_arch(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        build_backbone("static", "resnet18", tmp_path / "none.pth")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ConfigError, match="do not fit"):
        build_backbone("static", "resnet18", tmp_path / "bad.pth")
    with pytest.raises(ConfigError, match="arch"):
        build_backbone("static", "vgg16")
