"""Quality-score decoupling (Gao et al., Sci Rep 16, 15795, 2026).

* Two streams fused late: a dynamic one (clip features through the dynamic encoder, plus the
  skeleton's temporal encoding when the skeleton is on) and a static one (frame features
  through the static encoder; a per-frame pose embedding when a dataset has no RGB).
  Each stream's frames are pooled into ``segments`` segments.
* Score decoupling per stream: a high-quality and a low-quality learnable prototype attend
  over the segments (softmax of scaled dot products), giving a high- and a low-quality
  summary; a neutral branch averages the segments. Each branch has its own score head.
* Late fusion: the final score comes from the high/low summaries of both streams.
* Training on pairs: margin ranking losses (the better clip of a pair must score at least
  ``margin`` higher) for the final score and for every branch, plus a margin asking the
  decoupled branches (mean of high and low) to separate the pair by more than the average
  branch does; a diversity term - the cosine similarity of the two prototypes' attention
  over segments - pushes them onto different segments; and, because posekit reports
  SRCC *and* R-l2, the squared error of the final score (``w_mse``; 0 keeps it ranking-only).
* Inference is one video (no exemplar).

Departures: the paper's exact layers and margins are not in our sources (a summary); the
encoders are posekit's shared ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from posekit.methods.base import AQAMethod, FrameEncoder, MethodConfig, mlp, parts_dict
from posekit.models.base import Encoded


@dataclass
class DecouplingConfig(MethodConfig):
    segments: int = 8
    margin: float = 0.1  # in units of the training score spread
    margin_dec: float = 0.05
    w_rank: float = 1.0
    w_dec: float = 0.5
    w_div: float = 0.1
    w_mse: float = 1.0


def ranking_hinge(a: torch.Tensor, b: torch.Tensor, ya: torch.Tensor, yb: torch.Tensor, margin: float) -> torch.Tensor:
    """``max(0, margin - sign(ya - yb) (a - b))`` averaged over pairs with different scores."""
    sign = torch.sign(ya - yb)
    keep = sign != 0
    if not keep.any():
        return a.sum() * 0.0
    return F.relu(margin - sign * (a - b))[keep].mean()


def decoupling_margin(
    dec: tuple[torch.Tensor, torch.Tensor],
    avg: tuple[torch.Tensor, torch.Tensor],
    ya: torch.Tensor,
    yb: torch.Tensor,
    margin: float,
) -> torch.Tensor:
    """The decoupled branch must rank the pair by ``margin`` more than the average branch:
    ``max(0, margin - sign (dec_a - dec_b) + sign (avg_a - avg_b))``."""
    sign = torch.sign(ya - yb)
    keep = sign != 0
    if not keep.any():
        return dec[0].sum() * 0.0
    gap = sign * (dec[0] - dec[1]) - sign * (avg[0] - avg[1])
    return F.relu(margin - gap)[keep].mean()


class PrototypeAttention(nn.Module):
    """High / low-quality prototypes attending over segments + the average branch."""

    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.proto = nn.Parameter(torch.randn(2, dim) / dim**0.5)
        self.key = nn.Linear(dim, dim)
        self.heads = nn.ModuleList([mlp(dim, hidden, 1, dropout) for _ in range(3)])  # hi, lo, avg

    def forward(self, seg: torch.Tensor) -> dict[str, torch.Tensor]:  # (N, S, D)
        att = torch.einsum("nsd,pd->nps", self.key(seg), self.proto) / seg.shape[-1] ** 0.5
        att = att.softmax(dim=-1)  # (N, 2, S)
        z = torch.einsum("nps,nsd->npd", att, seg)
        avg = seg.mean(dim=1)
        s = [h(v).squeeze(-1) for h, v in zip(self.heads, (z[:, 0], z[:, 1], avg), strict=True)]
        return {"att": att, "z_hi": z[:, 0], "z_lo": z[:, 1], "hi": s[0], "lo": s[1], "avg": s[2]}


class ScoreDecoupling(AQAMethod):
    name = "decoupling"
    pairwise = False
    config_class = DecouplingConfig

    def __init__(self, cfg: DecouplingConfig):
        super().__init__(cfg)
        c = cfg
        dyn = tuple(s for s, on in (("pose", c.hse), ("dynamic", c.dve)) if on)
        self.dynamic = FrameEncoder(c, dyn) if dyn else None
        self.static = FrameEncoder(c, ("static",)) if c.sve else None
        from graphs.layout import get_layout

        self.pose_frame = (
            None if (c.sve or not c.hse) else nn.Linear(c.in_channels * get_layout(c.layout).num_joints, c.dim)
        )
        self.streams = nn.ModuleDict()
        if self.dynamic is not None:
            self.streams["dynamic"] = PrototypeAttention(c.dim, c.mlp_hidden, c.dropout)
        if self.static is not None or self.pose_frame is not None:
            self.streams["static"] = PrototypeAttention(c.dim, c.mlp_hidden, c.dropout)
        self.late = mlp(2 * c.dim * len(self.streams), c.mlp_hidden, 1, c.dropout)

    def _frames(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        if self.dynamic is not None:
            out["dynamic"] = self.dynamic.fuse(batch)
        if self.static is not None:
            out["static"] = self.static.fuse(batch)
        elif self.pose_frame is not None:
            p = batch["pose"]
            out["static"] = torch.relu(self.pose_frame(p.permute(0, 2, 1, 3).flatten(2)))
        return out

    def encode(
        self, batch: dict[str, torch.Tensor], use_labels: bool = False, fixed_boundaries: torch.Tensor | None = None
    ) -> Encoded:
        frames = self._frames(batch)
        extra: dict[str, torch.Tensor] = {}
        zs = []
        for name, x in frames.items():
            seg = F.adaptive_avg_pool1d(x.transpose(1, 2), self.cfg.segments).transpose(1, 2)
            r = self.streams[name](seg)
            extra.update({f"{name}_{k}": v for k, v in r.items()})
            zs += [r["z_hi"], r["z_lo"]]
        extra["z"] = self.late(torch.cat(zs, dim=-1)).squeeze(-1)
        N = extra["z"].shape[0]
        b = torch.zeros(N, 0, dtype=torch.long, device=extra["z"].device)
        return Encoded(None, None, None, b, b, None, extra)

    def score(self, q: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        z = q.extra["z"]  # type: ignore[index]
        return self.score_mean + z * self.score_scale, (z * self.score_scale)[:, None]

    def loss(
        self, out: dict[str, Any], q: dict[str, torch.Tensor], e: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.cfg
        a, b = out["query"].extra, out["exemplar"].extra
        ya, yb = q["target"], e["target"]
        l_rank = ranking_hinge(a["z"], b["z"], ya, yb, c.margin)
        l_dec, l_div = l_rank.new_zeros(()), l_rank.new_zeros(())
        for s in self.streams:
            for br in ("hi", "lo", "avg"):
                l_rank = l_rank + ranking_hinge(a[f"{s}_{br}"], b[f"{s}_{br}"], ya, yb, c.margin)
            dec = ((a[f"{s}_hi"] + a[f"{s}_lo"]) / 2, (b[f"{s}_hi"] + b[f"{s}_lo"]) / 2)
            l_dec = l_dec + decoupling_margin(dec, (a[f"{s}_avg"], b[f"{s}_avg"]), ya, yb, c.margin_dec)
            for x in (a, b):
                att = x[f"{s}_att"]
                l_div = l_div + F.cosine_similarity(att[:, 0], att[:, 1], dim=-1).mean()
        mse = sum(F.mse_loss(x["z"], (y - self.score_mean) / self.score_scale) for x, y in ((a, ya), (b, yb)))
        total = c.w_rank * l_rank + c.w_dec * l_dec + c.w_div * l_div + c.w_mse * mse
        return total, parts_dict(loss=total, rank=l_rank, dec=l_dec, div=l_div, mse=mse)
