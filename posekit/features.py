"""``posekit features``: RGB features of every clip, as AQA training reads them.

* ``static`` - per-frame features of an image backbone (ResNet-50 by default, the static
  visual encoder's ``R`` of HP-MCoRe eq. 2): ``(num_frames, 2048)`` per clip.
* ``dynamic`` - clip features of a video backbone (torchvision's R3D-18 by default; I3D is
  not in torchvision - precomputed I3D features can be used as they are): ``num_clips``
  windows of ``clip_len`` frames spread over the clip, ``(num_clips, 512)`` (eq. 3's ``I``).

Weights come from a local path (``--weights``: a torchvision state dict) - nothing is
downloaded. Without weights the backbone is randomly initialised, which is only good for
tests of the plumbing, and the run says so. Writes ``<out>/<video>/<idx>.npy`` atomically;
finished clips are skipped, so an interrupted run resumes; a clip that fails is reported
and the others go on.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.checkpoints import load_checkpoint
from posekit.errors import ConfigError
from posekit.io import atomic_write

MEAN = {"static": (0.485, 0.456, 0.406), "dynamic": (0.43216, 0.394666, 0.37645)}
STD = {"static": (0.229, 0.224, 0.225), "dynamic": (0.22803, 0.22145, 0.216989)}


def build_backbone(kind: str, arch: str | None = None, weights: str | Path | None = None) -> torch.nn.Module:
    """A torchvision backbone with its classifier removed; weights from a local file."""
    from posekit import compat

    compat.install_torchvision_ops()
    import torchvision

    if kind == "static":
        arch = arch or "resnet50"
        if arch not in ("resnet50", "resnet18", "resnet34", "resnet101"):
            raise ConfigError(f"static arch must be a torchvision ResNet, got {arch!r}", field="--arch")
        net = getattr(torchvision.models, arch)(weights=None)
    elif kind == "dynamic":
        arch = arch or "r3d_18"
        if arch not in ("r3d_18", "r2plus1d_18", "mc3_18"):
            raise ConfigError(f"dynamic arch must be r3d_18 | r2plus1d_18 | mc3_18, got {arch!r}", field="--arch")
        net = getattr(torchvision.models.video, arch)(weights=None)
    else:
        raise ConfigError(f"kind must be static or dynamic, got {kind!r}", field="--kind")
    if weights is not None:
        path = Path(weights)
        if not path.exists():
            raise ConfigError("weights file not found", path, "--weights")
        state = load_checkpoint(path)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        try:
            missing, _unexpected = net.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise ConfigError(f"weights do not fit {arch}: {str(exc).splitlines()[0]}", path, "--weights") from None
        if [k for k in missing if not k.startswith("fc.")]:
            raise ConfigError(f"weights do not fit {arch}: missing {missing[:5]}", path, "--weights")
    else:
        warnings.warn(f"no --weights: {arch} is randomly initialised (for tests only)", stacklevel=2)
    net.fc = torch.nn.Identity()
    return net.eval()


def _to_tensor(frames: list[np.ndarray], kind: str, size: int) -> torch.Tensor:
    import torch.nn.functional as F

    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0  # (T, 3, H, W)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor(MEAN[kind]).view(1, 3, 1, 1)
    std = torch.tensor(STD[kind]).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def clip_features(
    net: torch.nn.Module,
    frames: list[np.ndarray],
    kind: str,
    clip_len: int = 16,
    num_clips: int = 9,
    batch_size: int = 16,
    device: str = "cpu",
) -> np.ndarray:
    """Features of one clip's frames: ``(T, D)`` (static) or ``(num_clips, D)`` (dynamic)."""
    if kind == "static":
        x = _to_tensor(frames, kind, 224)
        outs = [net(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
        return torch.cat(outs).numpy().astype(np.float32)
    x = _to_tensor(frames, kind, 112)  # (T, 3, 112, 112)
    T = len(frames)
    starts = np.linspace(0, max(0, T - clip_len), num_clips).round().astype(int)
    windows = []
    for s in starts:
        idx = np.clip(np.arange(s, s + clip_len), 0, T - 1)
        windows.append(x[idx].permute(1, 0, 2, 3))  # (3, L, H, W)
    v = torch.stack(windows)
    outs = [net(v[i : i + batch_size].to(device)).cpu() for i in range(0, len(v), batch_size)]
    return torch.cat(outs).numpy().astype(np.float32)


def extract_features_dataset(
    frames_root: str | Path,
    out: str | Path,
    kind: str,
    weights: str | Path | None = None,
    arch: str | None = None,
    num_frames: int = 96,
    clip_len: int = 16,
    num_clips: int = 9,
    device: str = "cpu",
    batch_size: int = 16,
) -> dict[str, Any]:
    """Every clip folder under ``frames_root`` -> ``out/<video>/<idx>.npy``; resumable."""
    from tqdm import tqdm

    from posekit.pose.batch import find_clips
    from posekit.pose.video import read_clip

    root, out = Path(frames_root), Path(out)
    clips = find_clips(frames_root=root)
    if not clips:
        raise ConfigError("no clip folders with images found", root, "--frames-root")
    net = build_backbone(kind, arch, weights).to(device)
    written, skipped, failed = 0, 0, {}
    for cid, path in tqdm(sorted(clips.items()), desc=f"{kind} features"):
        dst = out / Path(*cid.split("__")).with_suffix(".npy")
        if dst.exists():
            skipped += 1
            continue
        try:
            clip = read_clip(path, num_frames=num_frames, repeat=True)  # a fixed-length network input
            feats = clip_features(net, clip.frames, kind, clip_len, num_clips, batch_size, device)
        except Exception as exc:  # noqa: BLE001 - a batch job records the failure and goes on
            failed[cid] = f"{type(exc).__name__}: {exc}"
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dst, lambda f, a=feats: np.save(f, a))
        written += 1
    return {"written": written, "skipped": skipped, "failed": failed}
