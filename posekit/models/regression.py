"""Multi-stage contrastive regression (HP-MCoRe eq. 17-20, 24).

Per stage ``k``, a transformer decoder ``D`` reads the query's stage tokens (target) with
cross-attention to the exemplar's stage tokens (memory); the mean of its output is the
difference feature ``f^k`` (eq. 17 for the fused stream, eq. 18 for the static stream -
same structure, separate weights). The decoder is shared over stages, which are told apart
by a learnable stage embedding. An MLP with ReLU maps ``f^k`` to a relative score, and the
stage weights ``lambda = softmax(w)`` (learnable, normalised) combine them:

    CR = sum_k lambda_k (M_fu(f_fu^k) + M_st(f_st^k))                             (eq. 20)
    S_q = S_e + CR                                                                 (eq. 19)

Eq. 24: with ``M`` exemplars the prediction is the mean of the ``M`` such estimates.
"""

from __future__ import annotations

import torch
from torch import nn


class StageDecoder(nn.Module):
    """``D`` of eq. 17/18 plus the MLP ``M`` of eq. 20 for one stream."""

    def __init__(self, dim: int, K: int, layers: int = 2, heads: int = 4, mlp_hidden: int = 64, dropout: float = 0.0):
        super().__init__()
        layer = nn.TransformerDecoderLayer(dim, heads, 2 * dim, dropout=dropout, batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.stage_embedding = nn.Parameter(torch.zeros(1, K, 1, dim))
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_hidden), nn.ReLU(inplace=True), nn.Linear(mlp_hidden, 1))

    def difference(self, q: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """``(N, K, L, D)`` x ``(N, K, L, D)`` -> ``f`` ``(N, K, D)``."""
        N, K, L, D = q.shape
        q = (q + self.stage_embedding).reshape(N * K, L, D)
        e = (e + self.stage_embedding).reshape(N * K, e.shape[2], D)
        return self.decoder(q, e).mean(dim=1).reshape(N, K, D)

    def forward(self, q: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """Relative score of every stage ``(N, K)``."""
        return self.mlp(self.difference(q, e)).squeeze(-1)


class MultiStageRegressor(nn.Module):
    """Eq. 19-20 over the enabled streams (fused and/or static)."""

    def __init__(
        self,
        dim: int,
        K: int,
        fused: bool = True,
        static: bool = True,
        layers: int = 2,
        heads: int = 4,
        mlp_hidden: int = 64,
        dropout: float = 0.0,
    ):
        super().__init__()
        if not (fused or static):
            raise ValueError("the regressor needs the fused or the static stream")
        self.fused = StageDecoder(dim, K, layers, heads, mlp_hidden, dropout) if fused else None
        self.static = StageDecoder(dim, K, layers, heads, mlp_hidden, dropout) if static else None
        self.stage_logits = nn.Parameter(torch.zeros(K))

    @property
    def stage_weights(self) -> torch.Tensor:
        """``lambda``: learnable, normalised stage weights."""
        return self.stage_logits.softmax(dim=0)

    def forward(
        self,
        q_fu: torch.Tensor | None,
        e_fu: torch.Tensor | None,
        q_st: torch.Tensor | None,
        e_st: torch.Tensor | None,
    ) -> torch.Tensor:
        """Per-stage weighted relative scores ``lambda_k (M_fu + M_st)`` ``(N, K)``; their sum is CR."""
        rel = 0.0
        if self.fused is not None:
            rel = rel + self.fused(q_fu, e_fu)
        if self.static is not None:
            rel = rel + self.static(q_st, e_st)
        return rel * self.stage_weights
