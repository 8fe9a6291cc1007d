"""TSA - temporal segmentation attention (FineDiving, Xu et al., CVPR 2022, eq. 1-10).

* Procedure segmentation ``S`` (eq. 2): a "down-up" block ``b1`` - four sub-blocks, each
  two temporal convolutions and a max-pool over channels, that double the temporal length
  (from ``T / 16`` back to ``T``) while halving the channels - and a "linear" block ``b2``
  (three-layer MLP) giving, for every frame, the logit that step transition ``k`` happens
  there (``L = K - 1`` transitions). Trained with the binary cross-entropy of eq. 4 against
  the one-hot ground-truth transition frame.
* Ordered transitions (eq. 3): ``t_k = argmax p_k(t)`` over the window
  ``T/L (k-1) < t <= T/L k``, so ``t_1 <= ... <= t_L``.
* Procedure-aware cross-attention (eq. 5-6): the ``L + 1`` steps of query and exemplar are
  resized to ``tokens`` frames each; ``R`` pre-LN transformer decoder layers, the query
  step attending to the exemplar step, then a GELU MLP, residuals around both.
* Fine-grained contrastive regression (eq. 7): ``y_X = y_Z + 1/(L+1) sum_l R(S_l)``; MSE
  (eq. 8); objective eq. 9 = ``sum_k L_BCE + L_MSE``; multi-exemplar voting (eq. 10).
* ``oracle: true`` is TSA-dagger: the ground-truth transitions parse the procedure at test
  time too.

Departures: the input is posekit's per-frame features (skeleton and/or precomputed RGB
features through the shared encoders) instead of end-to-end I3D; the "up" part of ``b1``
works on the ``T``-frame grid (pooled to ``T / 16`` first), not I3D's 9 clips; training
pools on the labelled transitions (teacher forcing, as the released code does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from posekit.methods.base import AQAMethod, FrameEncoder, MethodConfig, mlp, parts_dict
from posekit.models.base import Encoded, relative_vote
from posekit.models.segmentation import stage_pool


@dataclass
class TSAConfig(MethodConfig):
    decoder_layers: int = 2  # R in eq. 5-6
    heads: int = 4
    oracle: bool = False  # TSA-dagger: ground-truth transitions at test time
    w_bce: float = 1.0


class DownUp(nn.Module):
    """``b1`` + ``b2`` of eq. 2: ``(N, T, D)`` -> transition logits ``(N, T, L)``."""

    def __init__(self, dim: int, L: int, T: int, blocks: int = 4):
        super().__init__()
        self.T, self.blocks = T, blocks
        layers, c = [], dim
        for _ in range(blocks):
            layers.append(
                nn.Sequential(nn.Conv1d(c, c, 3, padding=1), nn.ReLU(), nn.Conv1d(c, c, 3, padding=1), nn.ReLU())
            )
            c = c // 2 if c // 2 >= 8 else c  # the max-pool over channels below halves them
        self.sub = nn.ModuleList(layers)
        self.linear = nn.Sequential(nn.Linear(c, c), nn.ReLU(), nn.Linear(c, c), nn.ReLU(), nn.Linear(c, L))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)  # (N, D, T)
        h = F.adaptive_avg_pool1d(h, max(1, self.T // 2**self.blocks))
        for i, blk in enumerate(self.sub):
            size = max(1, round(self.T / 2 ** (self.blocks - 1 - i)))  # T/8, T/4, T/2, T: the "up"
            h = blk(F.interpolate(h, size=size, mode="linear", align_corners=True))
            c = h.shape[1]
            h = F.max_pool1d(h.transpose(1, 2), 2, 2).transpose(1, 2) if c // 2 >= 8 else h  # "down" over channels
        return self.linear(h.transpose(1, 2))


def ordered_transitions(logits: torch.Tensor) -> torch.Tensor:
    """Eq. 3: ``(N, T, L)`` -> transition frames ``(N, L)``; transition ``k`` (1-based) is the
    argmax over frames ``T/L (k-1) < t <= T/L k`` (1-based frames), so they are ordered."""
    N, T, L = logits.shape
    out = torch.empty(N, L, dtype=torch.long, device=logits.device)
    for k in range(1, L + 1):
        lo, hi = int(T / L * (k - 1)), int(T / L * k)  # 1-based (lo, hi] -> 0-based [lo, hi)
        out[:, k - 1] = logits[:, lo:hi, k - 1].argmax(dim=1) + lo
    return out


def transitions_to_boundaries(t: torch.Tensor) -> torch.Tensor:
    """Transition frame (first frame of the next step) -> last frame of the step before."""
    return t - 1


def transition_bce(logits: torch.Tensor, boundaries: torch.Tensor) -> torch.Tensor:
    """Eq. 4 summed over the ``L`` transitions (mean over frames and clips); clips with
    unknown transitions (-1) are left out."""
    N, T, L = logits.shape
    known = (boundaries >= 0).all(dim=1)
    if not known.any():
        return logits.sum() * 0.0
    target = torch.zeros_like(logits)
    t = (boundaries.clamp(min=0) + 1).clamp(max=T - 1)
    target.scatter_(1, t[:, None, :], 1.0)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=1).sum(dim=1)
    return bce[known].mean()


class CrossAttentionLayer(nn.Module):
    """Eq. 5-6: ``S' = MCA(LN(S), S_Z) + S``; ``S = MLP(LN(S')) + S'`` (GELU MLP)."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.ln1, self.ln_z, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.mca = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        z = self.ln_z(z)
        s = self.mca(self.ln1(s), z, z, need_weights=False)[0] + s
        return self.mlp(self.ln2(s)) + s


class TSA(AQAMethod):
    name = "tsa"
    pairwise = True
    config_class = TSAConfig

    def __init__(self, cfg: TSAConfig):
        super().__init__(cfg)
        c = cfg
        self.encoder = FrameEncoder(c)
        self.seg = DownUp(c.dim, c.K - 1, c.T) if c.K > 1 else None
        heads = c.heads if c.dim % c.heads == 0 else 1
        self.decoder = nn.ModuleList(
            [CrossAttentionLayer(c.dim, heads, c.mlp_hidden, c.dropout) for _ in range(c.decoder_layers)]
        )
        self.regress = mlp(c.dim, c.mlp_hidden, 1, c.dropout)

    @property
    def segments(self) -> bool:
        return self.cfg.K > 1 and not self.cfg.oracle

    def encode(
        self, batch: dict[str, torch.Tensor], use_labels: bool = False, fixed_boundaries: torch.Tensor | None = None
    ) -> Encoded:
        c = self.cfg
        x = self.encoder.fuse(batch)  # (N, T, D)
        N = x.shape[0]
        logits = None
        if self.seg is None:
            pred_b = torch.zeros(N, 0, dtype=torch.long, device=x.device)
        else:
            logits = self.seg(x)
            pred_b = transitions_to_boundaries(ordered_transitions(logits.detach()))
        b = pred_b
        if (use_labels or c.oracle) and "boundaries" in batch and c.K > 1:
            gt = batch["boundaries"].to(x.device)
            b = torch.where((gt >= 0).all(dim=1, keepdim=True), gt, pred_b)
        if fixed_boundaries is not None:
            b = fixed_boundaries.to(x.device).expand(N, -1)
        steps = stage_pool(x, b, c.tokens)  # (N, L+1, tokens, D): steps resized to a fixed length
        return Encoded(steps, None, logits, b, pred_b, None)

    def relative(self, q: Encoded, e: Encoded) -> torch.Tensor:
        """Per-step terms ``R(S_l) / (L + 1)`` of eq. 7, in score units ``(N, L + 1)``."""
        N, K, L, D = q.fused.shape  # type: ignore[union-attr]
        s = q.fused.reshape(N * K, L, D)  # type: ignore[union-attr]
        z = e.fused.reshape(N * K, L, D)  # type: ignore[union-attr]
        for layer in self.decoder:
            s = layer(s, z)
        r = self.regress(s.mean(dim=1)).reshape(N, K)
        return r / K * self.score_scale

    def forward(
        self, query: dict[str, torch.Tensor], exemplar: dict[str, torch.Tensor], use_labels: bool = True
    ) -> dict[str, Any]:
        q = self.encode(query, use_labels=use_labels)
        e = self.encode(exemplar, use_labels=use_labels)
        d = self.relative(q, e)
        return {"pred": exemplar["target"].to(d) + d.sum(dim=1), "stage_delta": d, "query": q, "exemplar": e}

    def vote(self, q: Encoded, exemplars: list[Encoded], exemplar_targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. 10."""
        return relative_vote(self.relative, q, exemplars, exemplar_targets)

    def loss(
        self, out: dict[str, Any], q: dict[str, torch.Tensor], e: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 9: ``sum_k L_BCE(p_k) + L_MSE`` (MSE in units of the training score spread)."""
        mse = torch.mean(((out["pred"] - q["target"]) / self.score_scale) ** 2)
        bce = mse.new_zeros(())
        for enc, batch in ((out["query"], q), (out["exemplar"], e)):
            if enc.seg_logits is not None:
                bce = bce + transition_bce(enc.seg_logits, batch["boundaries"])
        total = mse + self.cfg.w_bce * bce
        return total, parts_dict(loss=total, aqa=mse, bce=bce)
