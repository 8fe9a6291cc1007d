"""Pose-guided attention fusion (HP-MCoRe eq. 8-11).

For the tokens of one stage, queries and keys of the visual (dynamic) stream and of the
skeletal stream give two attention maps; the pose-guided map is

    alpha = softmax(Q_dy K_dy^T / sqrt(d) + rho * Q_sk K_sk^T / sqrt(d))      (eq. 8)

applied to the visual values, multi-head (eq. 9), then ``H = Atten + LN(F_dy)`` (eq. 10)
and ``F_fu = FFN(LN(H)) + H`` (eq. 11). Variants for the ablation of Table IV:
``weighted`` (learnable rho, the default), ``add`` (rho = 1 fixed), ``dot`` (the two maps
multiplied element-wise before the softmax). When one stream is absent the module is plain
self-attention over the other (``self``).

``values``: eq. 9 applies the pose-guided map to the *visual* values only (``"dynamic"``),
so the skeleton can steer where the model looks but carries no content of its own; a
flaw the RGB features do not show (a bent knee under motion blur) cannot reach the score.
``"both"`` (the default) adds the skeletal values, ``alpha (V_dy + V_sk)``, and the
skeletal tokens to the residual of eq. 10; ``"dynamic"`` is eq. 9 as printed (ablation
``configs/aqa/ablations/fusion_values_paper.yaml``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

FUSION_KINDS = ("weighted", "add", "dot", "self")


class PoseGuidedFusion(nn.Module):
    def __init__(self, dim: int = 64, heads: int = 2, kind: str = "weighted", ffn_mult: int = 2, values: str = "both"):
        super().__init__()
        if values not in ("both", "dynamic"):
            raise ValueError(f"fusion values must be 'both' or 'dynamic', got {values!r}")
        self.values = values
        if kind not in FUSION_KINDS:
            raise ValueError(f"fusion kind must be one of {FUSION_KINDS}, got {kind!r}")
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.kind, self.heads, self.dh = kind, heads, dim // heads
        self.q_dy, self.k_dy, self.v_dy = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        if kind != "self":
            self.q_sk, self.k_sk = nn.Linear(dim, dim), nn.Linear(dim, dim)
            if values == "both":
                self.v_sk = nn.Linear(dim, dim)
                self.ln_sk = nn.LayerNorm(dim)
        self.rho = nn.Parameter(torch.ones(1), requires_grad=(kind == "weighted"))
        self.out = nn.Linear(dim, dim)
        self.ln_in, self.ln_mid = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.ReLU(inplace=True), nn.Linear(ffn_mult * dim, dim))
        self.last_attention: torch.Tensor | None = None
        self.last_skeletal_attention: torch.Tensor | None = None

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B, h, L, dh)
        B, L, _ = x.shape
        return x.reshape(B, L, self.heads, self.dh).transpose(1, 2)

    def forward(self, f_dy: torch.Tensor, f_sk: torch.Tensor | None = None) -> torch.Tensor:
        """``f_dy`` / ``f_sk``: ``(B, L, D)`` tokens of one stage (B may be N * K)."""
        scale = 1.0 / math.sqrt(self.dh)
        q, k, v = self._split(self.q_dy(f_dy)), self._split(self.k_dy(f_dy)), self._split(self.v_dy(f_dy))
        logits = q @ k.transpose(-1, -2) * scale
        if self.kind != "self":
            if f_sk is None:
                raise ValueError(f"fusion kind {self.kind!r} needs skeletal tokens")
            qs, ks = self._split(self.q_sk(f_sk)), self._split(self.k_sk(f_sk))
            sk = qs @ ks.transpose(-1, -2) * scale
            self.last_skeletal_attention = (self.rho * sk).softmax(dim=-1).detach()
            logits = logits * sk if self.kind == "dot" else logits + self.rho * sk
        alpha = logits.softmax(dim=-1)
        self.last_attention = alpha.detach()
        residual = self.ln_in(f_dy)
        if self.kind != "self" and self.values == "both":
            v = v + self._split(self.v_sk(f_sk))
            residual = residual + self.ln_sk(f_sk)
        att = (alpha @ v).transpose(1, 2).reshape(f_dy.shape)
        h = self.out(att) + residual  # eq. 10
        return self.ffn(self.ln_mid(h)) + h  # eq. 11
