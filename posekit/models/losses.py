"""Contrastive losses over stage features (HP-MCoRe eq. 12-16 and the ablation baselines).

All take query and exemplar stage features ``(N, K, D)`` (the mean of each stage's tokens).

* :func:`stage_contrastive_loss` - eq. 12-16. The critic is ``delta = cos(norm(a), norm(b))``
  with ``norm`` a per-vector standardisation (zero mean, unit variance over ``D``), so
  ``delta`` is the Pearson correlation of the two features. Positives: the same stage of
  query and exemplar. Negatives: other stages of the other video (inter) and of the same
  video (intra). ``tau = 0.5``. Eq. 14 prints the negatives as ``exp(-delta / tau)``; with
  that sign, minimising the loss would pull different stages *together*, contrary to the
  text ("enhance the differentiation between sub-actions"), so the usual NT-Xent sign
  ``exp(+delta / tau)`` is used. The loss is ``-1/(2K) sum_k [l(q, e, k) + l(e, q, k)]``
  (eq. 16 with the sign that makes it a loss), averaged over the batch.
* :func:`info_nce_loss` - InfoNCE (van den Oord et al. 2018): for each stage, the query's
  positive is its own exemplar, the other exemplars of the batch are negatives.
* :func:`triplet_stage_loss` - triplet loss (Schroff et al. 2015) on cosine distance:
  anchor ``q_k``, positive ``e_k``, the hardest other-stage feature as the negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CONTRASTIVE_KINDS = ("stage", "infonce", "triplet", "none")


def _norm(x: torch.Tensor) -> torch.Tensor:
    x = x - x.mean(dim=-1, keepdim=True)
    return x / (x.std(dim=-1, keepdim=True) + 1e-6)


def critic(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Eq. 12: ``delta(a, b) = cos(norm(a), norm(b))`` over the last dimension, all pairs:
    ``(N, K, D) x (N, K, D) -> (N, K, K)``."""
    a, b = F.normalize(_norm(a), dim=-1), F.normalize(_norm(b), dim=-1)
    return a @ b.transpose(-1, -2)


def _pair_objective(q: torch.Tensor, e: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. 13-15: ``l(q, e, k)`` for every k -> ``(N, K)``."""
    K = q.shape[1]
    inter = critic(q, e) / tau  # (N, K, K): q_k vs e_l
    intra = critic(q, q) / tau  # q_k vs q_l
    off = ~torch.eye(K, dtype=torch.bool, device=q.device)
    pos = torch.diagonal(inter, dim1=-2, dim2=-1)  # (N, K)
    neg_logits = torch.cat([inter.masked_fill(~off, float("-inf")), intra.masked_fill(~off, float("-inf"))], dim=-1)
    denom = torch.logsumexp(torch.cat([pos[..., None], neg_logits], dim=-1), dim=-1)
    return pos - denom


def stage_contrastive_loss(q: torch.Tensor, e: torch.Tensor, tau: float = 0.5) -> torch.Tensor:
    """Eq. 16 (see the module docstring for the sign conventions)."""
    if q.shape[1] < 2:
        return q.sum() * 0.0  # one stage: no negatives
    K = q.shape[1]
    total = _pair_objective(q, e, tau).sum(dim=1) + _pair_objective(e, q, tau).sum(dim=1)
    return -(total / (2 * K)).mean()


def info_nce_loss(q: torch.Tensor, e: torch.Tensor, tau: float = 0.5) -> torch.Tensor:
    N, K, _ = q.shape
    if N < 2:
        return q.sum() * 0.0
    qs, es = F.normalize(_norm(q), dim=-1), F.normalize(_norm(e), dim=-1)
    loss = 0.0
    target = torch.arange(N, device=q.device)
    for k in range(K):
        logits = qs[:, k] @ es[:, k].T / tau
        loss = loss + 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    return loss / K


def triplet_stage_loss(q: torch.Tensor, e: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    K = q.shape[1]
    if K < 2:
        return q.sum() * 0.0
    d_pos = 1 - torch.diagonal(critic(q, e), dim1=-2, dim2=-1)  # (N, K)
    off = ~torch.eye(K, dtype=torch.bool, device=q.device)
    d_inter = (1 - critic(q, e)).masked_fill(~off, float("inf"))
    d_intra = (1 - critic(q, q)).masked_fill(~off, float("inf"))
    d_neg = torch.minimum(d_inter.min(dim=-1).values, d_intra.min(dim=-1).values)
    return F.relu(d_pos - d_neg + margin).mean()


def contrastive_loss(kind: str, q: torch.Tensor, e: torch.Tensor, tau: float = 0.5) -> torch.Tensor:
    if kind == "stage":
        return stage_contrastive_loss(q, e, tau)
    if kind == "infonce":
        return info_nce_loss(q, e, tau)
    if kind == "triplet":
        return triplet_stage_loss(q, e)
    if kind == "none":
        return q.sum() * 0.0
    raise ValueError(f"contrastive loss kind must be one of {CONTRASTIVE_KINDS}, got {kind!r}")
