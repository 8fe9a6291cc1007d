"""Procedure segmentation (HP-MCoRe eq. 6-7) and stage pooling.

A Bi-GRU over the per-frame features, a linear layer and a softmax give, for every frame,
the probability of each of ``K`` stages. Stages are ordered (take-off, flight, entry), so
the decoded labelling is the best *monotone* one: a Viterbi pass over a left-to-right
chain (stay in stage k or move to k + 1) maximising the summed log-probabilities. Its
``K - 1`` change points are the predicted stage transitions ``a_i = 1`` of eq. 6. The
per-frame cross-entropy against the ground-truth stage labels is eq. 7's ``L_ce``.

Stage pooling: the frames of each stage are resampled to a fixed number of tokens by
linear interpolation, so every stage yields ``(N, L, D)`` whatever its length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ProcedureSegmentation(nn.Module):
    """Bi-GRU + linear + softmax over frames (eq. 6)."""

    def __init__(self, in_dim: int, K: int = 3, hidden: int = 64, num_layers: int = 1):
        super().__init__()
        self.K = K
        self.gru = nn.GRU(in_dim, hidden, num_layers=num_layers, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T, D)`` -> stage logits ``(N, T, K)``."""
        h, _ = self.gru(x)
        return self.head(h)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Eq. 7: cross-entropy of per-frame stage labels; frames labelled -1 are ignored."""
        if (labels < 0).all():
            return logits.sum() * 0.0
        return F.cross_entropy(logits.reshape(-1, self.K), labels.reshape(-1), ignore_index=-1)


def monotone_decode(logits: torch.Tensor, log_prior: torch.Tensor | None = None) -> torch.Tensor:
    """Best non-decreasing stage labelling (Viterbi on a left-to-right chain) ->
    ``(N, K - 1)`` boundaries (last frame of each stage but the final one). ``log_prior``
    ``(T, K)`` is added to the per-frame log-probabilities (a MAP decode under the stage
    prior of :func:`stage_log_prior`)."""
    logp = F.log_softmax(logits.detach().float(), dim=-1).cpu()
    if log_prior is not None:
        logp = logp + log_prior.detach().float().cpu()[None]
    N, T, K = logp.shape
    if K == 1:
        return torch.zeros(N, 0, dtype=torch.long)
    neg = torch.tensor(float("-inf"))
    score = torch.full((N, K), float("-inf"))
    score[:, 0] = logp[:, 0, 0]
    back = torch.zeros(N, T, K, dtype=torch.long)
    for t in range(1, T):
        stay = score
        move = torch.cat([neg.expand(N, 1), score[:, :-1]], dim=1)
        take_move = move > stay
        back[:, t] = torch.arange(K) - take_move.long()
        score = torch.maximum(stay, move) + logp[:, t]
    # force every stage to appear when T >= K: end in the last stage
    state = torch.full((N,), K - 1, dtype=torch.long) if T >= K else score.argmax(dim=1)
    labels = torch.empty(N, T, dtype=torch.long)
    for t in range(T - 1, -1, -1):
        labels[:, t] = state
        state = back[torch.arange(N), t, state]
    return labels_to_boundaries_t(labels, K)


def stage_log_prior(boundaries: torch.Tensor, T: int, K: int, smoothing: float = 1.0) -> torch.Tensor:
    """``(T, K)`` log of the fraction of training clips in stage ``k`` at frame ``t``
    (Laplace-smoothed), from their ``(N, K - 1)`` boundaries (rows with -1 are skipped). A
    segmenter with no evidence then decodes the typical stages - at least as good as the
    mean boundaries - and a confident one overrides the prior."""
    b = boundaries[(boundaries >= 0).all(dim=1)] if boundaries.numel() else boundaries
    if K == 1 or len(b) == 0:
        return torch.zeros(T, K)
    counts = F.one_hot(boundaries_to_labels_t(b.long(), T), K).sum(dim=0).float()  # (T, K)
    return torch.log((counts + smoothing) / (len(b) + K * smoothing))


def labels_to_boundaries_t(labels: torch.Tensor, K: int) -> torch.Tensor:
    """``(N, T)`` non-decreasing labels -> ``(N, K - 1)`` last index of stages 0..K-2."""
    T = labels.shape[1]
    idx = torch.arange(T).expand_as(labels)
    out = []
    for k in range(K - 1):
        m = torch.where(labels <= k, idx, torch.full_like(idx, -1))
        out.append(m.max(dim=1).values)
    return torch.stack(out, dim=1) if out else torch.zeros(labels.shape[0], 0, dtype=torch.long)


def boundaries_to_labels_t(boundaries: torch.Tensor, T: int) -> torch.Tensor:
    """``(N, K - 1)`` -> ``(N, T)`` stage labels."""
    t = torch.arange(T, device=boundaries.device)
    return (t[None, :, None] > boundaries[:, None, :]).sum(dim=-1)


def stage_pool(x: torch.Tensor, boundaries: torch.Tensor, tokens: int) -> torch.Tensor:
    """Resample the frames of every stage to ``tokens`` tokens.

    ``x`` ``(N, T, ...)``, ``boundaries`` ``(N, K - 1)`` -> ``(N, K, tokens, ...)``. A stage
    with no frame (boundary equal to the previous one) takes the nearest frame.
    """
    N, T = x.shape[:2]
    K = boundaries.shape[1] + 1
    b = boundaries.to(x.device).float().clamp(-1, T - 1)
    starts = torch.cat([torch.zeros(N, 1, device=x.device), b + 1], dim=1)  # (N, K)
    ends = torch.cat([b, torch.full((N, 1), T - 1.0, device=x.device)], dim=1)
    ends = torch.maximum(ends, starts.clamp(max=T - 1))
    starts = starts.clamp(max=T - 1)
    frac = torch.linspace(0, 1, tokens, device=x.device) if tokens > 1 else torch.full((1,), 0.5, device=x.device)
    pos = starts[..., None] + (ends - starts)[..., None] * frac  # (N, K, L)
    lo = pos.floor().long().clamp(0, T - 1)
    hi = (lo + 1).clamp(max=T - 1)
    w = (pos - lo.float()).reshape(N, K * tokens, *([1] * (x.ndim - 2)))
    flat_shape = (N, K * tokens)
    gather = lambda ix: x[torch.arange(N, device=x.device)[:, None], ix.reshape(flat_shape)]  # noqa: E731
    out = (1 - w) * gather(lo) + w * gather(hi)
    return out.reshape(N, K, tokens, *x.shape[2:])
