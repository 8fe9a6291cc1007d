"""What the methods of :mod:`posekit.methods` share: their config, the per-frame encoder and
a base that keeps a score mean. The interface itself is :class:`posekit.models.base.AQAMethod`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from posekit.models.base import AQAMethod as _Interface
from posekit.models.base import Encoded, ModelOptions, uniform_boundaries
from posekit.models.skeletal import HierarchicalSkeletalEncoder
from posekit.models.visual import DynamicVisualEncoder, StaticVisualEncoder


@dataclass
class MethodConfig(ModelOptions):
    """Options every method has (the ``model:`` section; subclasses add their own)."""

    layout: str = "mpii16"
    in_channels: int = 3
    dim: int = 64
    T: int = 96
    K: int = 3  # stages / sub-actions
    dve: bool = True  # uses the dynamic (clip) features
    sve: bool = True  # uses the static (frame) features
    hse: bool = True  # uses the skeleton
    dynamic_dim: int | None = None
    static_dim: int | None = None
    hse_blocks: int = 1
    hse_norm: str = "group"  # group | batch (posekit.models.skeletal)
    temporal_kernel: int = 5
    tokens: int = 4  # tokens per stage after resizing
    mlp_hidden: int = 64
    dropout: float = 0.0
    stage_source: str = "predicted"  # kept for the trainer / explanation API


class FrameEncoder(nn.Module):
    """Per-frame features ``(N, T, D)`` of every input stream the config switches on, from
    the shared encoders: skeleton -> hierarchical skeletal encoder readout (HP-MCoRe eq. 4-5),
    clip features -> dynamic encoder (eq. 3), frame features -> static encoder (eq. 2), each
    on the model's ``T`` grid. ``forward`` returns the streams; :meth:`fuse` sums them."""

    def __init__(self, cfg: MethodConfig, streams: tuple[str, ...] | None = None):
        super().__init__()
        on = streams or tuple(s for s, f in (("pose", cfg.hse), ("dynamic", cfg.dve), ("static", cfg.sve)) if f)
        self.T = cfg.T
        if "dynamic" in on and not cfg.dynamic_dim:
            raise ValueError("dve is on but dynamic_dim is unknown (set it or let the trainer infer it)")
        if "static" in on and not cfg.static_dim:
            raise ValueError("sve is on but static_dim is unknown (set it or let the trainer infer it)")
        self.skeleton = (
            HierarchicalSkeletalEncoder(
                cfg.in_channels, cfg.dim, cfg.layout, [0, 1, 2], True, cfg.hse_blocks, cfg.temporal_kernel, cfg.hse_norm
            )
            if "pose" in on
            else None
        )
        self.dynamic = DynamicVisualEncoder(cfg.dynamic_dim, cfg.dim) if "dynamic" in on else None  # type: ignore[arg-type]
        self.static = StaticVisualEncoder(cfg.static_dim, cfg.dim) if "static" in on else None  # type: ignore[arg-type]
        self.names = on

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        if self.skeleton is not None:
            out["pose"] = self.skeleton(batch["pose"])[1]
        if self.dynamic is not None:
            out["dynamic"] = self.dynamic(batch["dynamic"], self.T)
        if self.static is not None:
            out["static"] = self.static(batch["static"], self.T)
        return out

    def fuse(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.stack(list(self(batch).values())).sum(dim=0)


def mlp(i: int, h: int, o: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Dropout(dropout), nn.Linear(h, o))


class AQAMethod(_Interface):
    """Base of the methods in :mod:`posekit.methods`: the interface plus a score mean (outputs
    are regressed in units of the spread around it) and pair training that scores both videos."""

    config_class: ClassVar[type[MethodConfig]] = MethodConfig

    def __init__(self, cfg: MethodConfig):
        super().__init__(cfg)
        self.register_buffer("score_mean", torch.zeros(()))

    def _uniform(self, N: int, device: torch.device) -> torch.Tensor:
        return uniform_boundaries(N, self.cfg.T, self.cfg.K, device)

    # single-video methods: score(q) -> (pred (N,), per-stage scores (N, K))
    def score(self, q: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(
        self, query: dict[str, torch.Tensor], exemplar: dict[str, torch.Tensor], use_labels: bool = True
    ) -> dict[str, Any]:
        q = self.encode(query, use_labels=use_labels)
        e = self.encode(exemplar, use_labels=use_labels)
        pq, sq = self.score(q)
        pe, se = self.score(e)
        return {"pred": pq, "stage_delta": sq, "pred_exemplar": pe, "query": q, "exemplar": e}

    def vote(self, q: Encoded, exemplars: list[Encoded], exemplar_targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Single-video inference: the exemplars are not needed (kept for one interface)."""
        pred, stages = self.score(q)
        M = max(len(exemplars), 1)
        return {"pred": pred, "per_exemplar": pred[:, None].expand(-1, M), "stage_delta": stages}


def labelled_mask(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``(N,)`` bool: the clips whose score may be used (all unless ``labelled`` says)."""
    lab = batch.get("labelled")
    n = batch["target"].shape[0]
    return torch.ones(n, dtype=torch.bool, device=batch["target"].device) if lab is None else lab > 0.5


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if not mask.any():
        return pred.sum() * 0.0
    return ((pred - target)[mask] ** 2).mean()


def parts_dict(**parts: torch.Tensor) -> dict[str, float]:
    return {k: float(v.detach()) for k, v in parts.items()}
