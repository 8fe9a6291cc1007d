"""Self-supervised pre-training of the skeletal encoder on skeletons alone (no scores).

Masked motion prediction after "Masked Motion Predictions for Self-supervised 3D Skeleton
Representation Learning" (Mao et al., ICCV 2023, MAMP): chunks of frames are hidden from the
encoder (every channel zeroed, confidence 0, and the motion channels recomputed so the next
frame's motion does not give a hidden position away) and a linear head on the encoder's
per-frame readout predicts, for every joint of every hidden frame, its position and its
motion (the frame-to-frame displacement that MAMP takes as the target); the loss is their
mean squared error over hidden frames where the joint was seen, each target standardised
over the clips. Departures: posekit's hierarchical graph encoder instead of MAMP's
transformer, the positions predicted beside the motion, and frame chunks hidden at random
(MAMP's motion-aware masking needs 3-D skeletons with many more frames).

``train.pretrain_epochs: N`` runs it inside ``posekit train`` (and so per fold in
``posekit cv``) on the training, validation and unlabelled clips of the run - never its test
clips - before the scored training starts; ``posekit pretrain`` runs it alone and writes the
encoder, which ``train.init_from`` loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from posekit.errors import ConfigError
from posekit.models.skeletal import HierarchicalSkeletalEncoder


def skeletal_encoder(model: nn.Module, where: str | None = None) -> HierarchicalSkeletalEncoder:
    """The model's one hierarchical skeletal encoder (an error naming the config otherwise)."""
    found = [m for m in model.modules() if isinstance(m, HierarchicalSkeletalEncoder)]
    if len(found) != 1:
        raise ConfigError(
            f"pre-training needs exactly one skeletal encoder in the model, found {len(found)} (is model.hse on?)",
            where,
            "train.pretrain_epochs",
        )
    return found[0]


def chunk_mask(n: int, T: int, ratio: float, chunk: int, gen: torch.Generator) -> torch.Tensor:
    """``(n, T)`` True where a frame is hidden: ``round(ratio * chunks)`` random chunks of
    ``chunk`` frames per clip."""
    chunks = -(-T // chunk)
    k = max(1, int(round(ratio * chunks)))
    order = torch.rand(n, chunks, generator=gen).argsort(dim=1)[:, :k]
    hidden = torch.zeros(n, chunks, dtype=torch.bool).scatter_(1, order, True)
    return hidden.repeat_interleave(chunk, dim=1)[:, :T]


def _motion(xy: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """``(N, 2, T, V)`` displacement to the previous frame; 0 at frame 0 and where either
    frame lacks the joint (:func:`posekit.training.data.joint_motion` on tensors)."""
    d = torch.zeros_like(xy)
    d[:, :, 1:] = (xy[:, :, 1:] - xy[:, :, :-1]) * (seen[:, None, 1:] & seen[:, None, :-1])
    return d


def hide(pose: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """The encoder's input with ``hidden`` frames ``(N, T)`` removed; channels 3-4 (the motion
    stream of ``data.motion``) are recomputed from what is left."""
    out = pose * (~hidden)[:, None, :, None]
    if pose.shape[1] >= 5:
        out[:, 3:5] = _motion(out[:, :2], out[:, 2] > 0)
    return out


class MaskedMotionHead(nn.Module):
    """Per-frame readout ``(N, T, D)`` -> position and motion of every joint ``(N, 4, T, V)``."""

    def __init__(self, dim: int, num_joints: int):
        super().__init__()
        self.V = num_joints
        self.proj = nn.Linear(dim, 4 * num_joints)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        N, T, _ = h.shape
        return self.proj(h).view(N, T, 4, self.V).permute(0, 2, 1, 3)


def _targets(pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    seen = pose[:, 2] > 0
    return torch.cat([pose[:, :2], _motion(pose[:, :2], seen)], dim=1), seen


def pretrain_poses(splits: Any) -> np.ndarray:
    """The skeletons pre-training may see: a run's training, validation and unlabelled clips
    ``(N, C, T, V)`` - never its test clips."""
    return np.stack([it.pose for it in splits.train + splits.val + splits.unlabelled])


def pretrain_skeleton(
    encoder: HierarchicalSkeletalEncoder,
    poses: np.ndarray,
    cfg: dict[str, Any],
    device: torch.device,
    progress: bool = False,
) -> list[dict[str, float]]:
    """Train ``encoder`` in place on ``poses`` ``(N, C, T, V)`` for ``train.pretrain_epochs``
    epochs of masked motion prediction (module docstring); returns the loss per epoch."""
    from tqdm import tqdm

    t = cfg["train"]
    gen = torch.Generator().manual_seed(int(cfg["seed"]))
    x = torch.from_numpy(np.ascontiguousarray(poses, dtype=np.float32))
    target, seen = _targets(x)
    w = seen[:, None].expand_as(target)
    mean = (target * w).sum((0, 2, 3)) / w.sum((0, 2, 3)).clamp(min=1)
    std = (((target - mean[None, :, None, None]) ** 2) * w).sum((0, 2, 3)) / w.sum((0, 2, 3)).clamp(min=1)
    scale = (mean[None, :, None, None], std.sqrt().clamp(min=1e-6)[None, :, None, None])
    head = MaskedMotionHead(encoder.dim, encoder.num_joints).to(device)
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=float(t["lr"]), weight_decay=float(t["weight_decay"]))
    bs, history = int(t["batch_size"]), []
    encoder.train()
    for epoch in tqdm(range(int(t["pretrain_epochs"])), desc="pretrain", disable=not progress):
        order, total = torch.randperm(len(x), generator=gen), 0.0
        for i in range(0, len(x), bs):
            idx = order[i : i + bs]
            if len(idx) < 2:
                continue  # BatchNorm needs two clips
            hidden = chunk_mask(len(idx), x.shape[2], float(t["pretrain_mask"]), 4, gen)
            pred = head(encoder(hide(x[idx], hidden).to(device))[1])
            where = (hidden[:, None, :, None] & seen[idx][:, None]).expand_as(pred).to(device)
            err = (pred - ((target[idx] - scale[0]) / scale[1]).to(device)) ** 2
            loss = (err * where).sum() / where.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append({"epoch": epoch, "pretrain_loss": total / len(x)})
    return history


def run_pretrain(cfg: dict[str, Any], work_dir: str | Path) -> dict[str, Any]:
    """``posekit pretrain``: masked motion prediction on the config's training, validation and
    unlabelled skeletons (``train.pretrain_epochs``, at least 1) for the config's method;
    writes ``pretrained.pth`` (the skeletal encoder, for ``train.init_from``) and
    ``pretrain.json`` (the loss per epoch) in ``work_dir``. Returns the summary."""
    from posekit.io import write_json
    from posekit.training.checkpoint import save_checkpoint
    from posekit.training.data import build_splits
    from posekit.training.trainer import build_model, pick_device, seed_everything

    t = cfg["train"]
    if int(t["pretrain_epochs"]) < 1:
        raise ConfigError(
            "posekit pretrain needs train.pretrain_epochs >= 1", cfg.get("_source"), "train.pretrain_epochs"
        )
    seed_everything(int(cfg["seed"]))
    splits = build_splits(cfg)
    device = pick_device(cfg)
    enc = skeletal_encoder(build_model(cfg, splits).to(device), cfg.get("_source"))
    poses = pretrain_poses(splits)
    history = pretrain_skeleton(enc, poses, cfg, device, bool(t["progress"]))
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    meta = {"layout": cfg["data"]["layout"], "in_channels": int(poses.shape[1]), "dim": enc.dim}
    path = save_checkpoint(
        work / "pretrained.pth", {"skeletal_encoder": enc.state_dict(), "model_config": meta, "clips": len(poses)}
    )
    write_json(work / "pretrain.json", history)
    return {"checkpoint": str(path), "clips": len(poses), "history": history}


def load_pretrained(model: nn.Module, path: str | Path, where: str | None = None) -> None:
    """``train.init_from``: a ``posekit pretrain`` encoder into the model's skeletal encoder;
    an encoder of another layout, width or input is an error naming the file."""
    from posekit.training.checkpoint import load_checkpoint

    path = Path(path)
    if not path.exists():
        raise ConfigError("pre-trained encoder not found", where, f"train.init_from ({path})")
    state = load_checkpoint(path)
    if not isinstance(state, dict) or "skeletal_encoder" not in state:
        raise ConfigError("not a posekit pretrain file (no 'skeletal_encoder')", path, "skeletal_encoder")
    enc = skeletal_encoder(model, where)
    layout = (state.get("model_config") or {}).get("layout")
    ours = getattr(getattr(model, "cfg", None), "layout", None)
    if layout and ours and layout != ours:
        raise ConfigError(f"pre-trained on layout {layout!r}, this model uses {ours!r}", path, "model_config.layout")
    try:
        enc.load_state_dict(state["skeletal_encoder"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(
            f"does not fit this model's skeletal encoder (layout, model.dim, hse_blocks, hse_norm or "
            f"data.motion differ): {first}",
            path,
            "skeletal_encoder",
        ) from None
