"""CoRe - contrastive regression with a group-aware regression tree (Yu et al., ICCV 2021).

* Contrastive regression: the score of a query ``X`` is the exemplar's score plus the
  predicted *relative* score, ``y_X = y_Z + Delta(f_X, f_Z, y_Z)``, from the concatenation
  of the two clip features and the exemplar's score.
* Group-aware regression tree: the range of relative scores is split into ``2^depth``
  groups (leaves) at quantiles of the relative scores of training pairs (so every group
  holds as many pairs). A binary tree of MLP nodes - each node passes its hidden state to
  its two children and says left or right with a sigmoid - gives the probability of every
  leaf (product along its path); each leaf regresses the offset ``r`` in ``[0, 1]`` inside its
  group. Training: the negative log-probability of the true leaf (the binary
  cross-entropies along its path) plus the squared error of that leaf's offset. Inference:
  the most probable leaf, ``Delta = lo + r (hi - lo)``.
* Multi-exemplar voting over ``M`` exemplars; for MTL-AQA the exemplars share the query's
  difficulty degree (``data.exemplar_group: difficulty``), CoRe's difficulty-aware choice.

Departures: clip features are posekit's per-frame features (skeleton and/or precomputed
RGB through the shared encoders) averaged over time, not an end-to-end I3D.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from posekit.methods.base import AQAMethod, FrameEncoder, MethodConfig, parts_dict
from posekit.models.base import Encoded


@dataclass
class CoReConfig(MethodConfig):
    depth: int = 3  # 2^depth groups
    w_cls: float = 1.0
    w_reg: float = 1.0
    bin_pairs: int = 20000  # training pairs sampled for the group quantiles


def quantile_edges(deltas: np.ndarray, n_groups: int) -> np.ndarray:
    """Group edges at the quantiles of the training relative scores: ``n_groups + 1``
    increasing values; equal quantiles are spread apart so no group is empty."""
    q = np.quantile(np.asarray(deltas, dtype=np.float64), np.linspace(0, 1, n_groups + 1))
    eps = 1e-6 * max(1.0, float(np.abs(q).max()))
    for i in range(1, len(q)):
        q[i] = max(q[i], q[i - 1] + eps)
    return q


def group_of(delta: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """The leaf holding each relative score (values outside the range go to the end groups)."""
    n = edges.numel() - 1
    return (torch.searchsorted(edges.contiguous(), delta.contiguous(), right=True) - 1).clamp(0, n - 1)


class RegressionTree(nn.Module):
    """Binary tree of MLP nodes: hidden ``(N, H)`` -> leaf log-probabilities ``(N, 2^d)``
    and in-leaf offsets ``(N, 2^d)`` in ``[0, 1]``."""

    def __init__(self, hidden: int, depth: int):
        super().__init__()
        self.depth = depth
        self.nodes = nn.ModuleList(
            [
                nn.ModuleList([nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU()) for _ in range(2**lv)])
                for lv in range(depth)
            ]
        )
        self.split = nn.ModuleList([nn.ModuleList([nn.Linear(hidden, 1) for _ in range(2**lv)]) for lv in range(depth)])
        self.leaf = nn.ModuleList([nn.Linear(hidden, 1) for _ in range(2**depth)])

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states, logp = [h], [h.new_zeros(h.shape[0])]
        for lv in range(self.depth):
            nxt_s, nxt_p = [], []
            for i, (s, lp) in enumerate(zip(states, logp, strict=True)):
                hid = self.nodes[lv][i](s)
                z = self.split[lv][i](hid).squeeze(-1)  # logit of going right
                nxt_s += [hid, hid]
                nxt_p += [lp + F.logsigmoid(-z), lp + F.logsigmoid(z)]
            states, logp = nxt_s, nxt_p
        offsets = torch.stack([torch.sigmoid(self.leaf[i](s).squeeze(-1)) for i, s in enumerate(states)], dim=1)
        return torch.stack(logp, dim=1), offsets


class CoRe(AQAMethod):
    name = "core"
    pairwise = True
    config_class = CoReConfig

    def __init__(self, cfg: CoReConfig):
        super().__init__(cfg)
        c = cfg
        self.encoder = FrameEncoder(c)
        self.trunk = nn.Sequential(
            nn.Linear(2 * c.dim + 1, c.mlp_hidden),
            nn.ReLU(),
            nn.Dropout(c.dropout),
            nn.Linear(c.mlp_hidden, c.mlp_hidden),
            nn.ReLU(),
        )
        self.tree = RegressionTree(c.mlp_hidden, c.depth)
        self.register_buffer("edges", torch.linspace(-1.0, 1.0, 2**c.depth + 1))

    def prepare(self, targets: np.ndarray, seed: int) -> None:
        """Score scale, and the group edges from the relative scores of random training pairs."""
        super().prepare(targets, seed)
        t = np.asarray(targets, dtype=np.float64)
        rng = np.random.default_rng(int(seed))
        n = min(self.cfg.bin_pairs, len(t) * (len(t) - 1))
        i, j = rng.integers(0, len(t), n), rng.integers(0, len(t), n)
        keep = i != j
        d = (t[i[keep]] - t[j[keep]]) / float(self.score_scale)
        self.edges.copy_(torch.from_numpy(quantile_edges(d, 2**self.cfg.depth)).float())

    def encode(
        self, batch: dict[str, torch.Tensor], use_labels: bool = False, fixed_boundaries: torch.Tensor | None = None
    ) -> Encoded:
        x = self.encoder.fuse(batch).mean(dim=1)  # clip feature (N, D)
        N = x.shape[0]
        b = torch.zeros(N, 0, dtype=torch.long, device=x.device)
        return Encoded(x[:, None, None, :], None, None, b, b, None)

    def _tree(self, q: Encoded, e: Encoded, ey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.cat([q.fused[:, 0, 0], e.fused[:, 0, 0], ((ey - self.score_mean) / self.score_scale)[:, None]], 1)  # type: ignore[index]
        return self.tree(self.trunk(f))

    def relative(self, q: Encoded, e: Encoded, ey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Relative score ``(N, 1)`` in score units from the most probable group, and the
        tree's leaf log-probabilities and offsets."""
        logp, off = self._tree(q, e, ey)
        leaf = logp.argmax(dim=1)
        lo, hi = self.edges[leaf], self.edges[leaf + 1]
        r = off.gather(1, leaf[:, None]).squeeze(1)
        return ((lo + r * (hi - lo)) * self.score_scale)[:, None], logp, off

    def forward(
        self, query: dict[str, torch.Tensor], exemplar: dict[str, torch.Tensor], use_labels: bool = True
    ) -> dict[str, Any]:
        q, e = self.encode(query), self.encode(exemplar)
        ey = exemplar["target"].float()
        d, logp, off = self.relative(q, e, ey)
        return {"pred": ey + d[:, 0], "stage_delta": d, "logp": logp, "offsets": off, "query": q, "exemplar": e}

    def vote(self, q: Encoded, exemplars: list[Encoded], exemplar_targets: torch.Tensor) -> dict[str, torch.Tensor]:
        preds, deltas = [], []
        for m, e in enumerate(exemplars):
            ey = exemplar_targets[:, m].float()
            d = self.relative(q, e, ey)[0]
            deltas.append(d)
            preds.append(ey + d[:, 0])
        P = torch.stack(preds, dim=1)
        return {"pred": P.mean(dim=1), "per_exemplar": P, "stage_delta": torch.stack(deltas, 1).mean(1)}

    def loss(
        self, out: dict[str, Any], q: dict[str, torch.Tensor], e: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Group classification (NLL of the true leaf) + in-leaf offset regression."""
        delta = (q["target"] - e["target"]).float() / self.score_scale
        g = group_of(delta, self.edges)
        cls = -out["logp"].gather(1, g[:, None]).mean()
        lo, hi = self.edges[g], self.edges[g + 1]
        r_true = ((delta - lo) / (hi - lo)).clamp(0, 1)
        reg = ((out["offsets"].gather(1, g[:, None]).squeeze(1) - r_true) ** 2).mean()
        total = self.cfg.w_cls * cls + self.cfg.w_reg * reg
        return total, parts_dict(loss=total, cls=cls, reg=reg)
