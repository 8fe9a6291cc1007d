"""SAP-Net - self-supervised sub-action parsing for semi-supervised AQA (eq. 1-11, Alg. 1).

* Teacher-student (eq. 1-2): the teacher sees the actor-centred input - the normalised
  skeleton (root-centred, torso-scaled: posekit's analogue of the paper's detected actor
  crop) - and the student the whole scene (the RGB clip / frame features; the skeleton
  with frames masked out when a dataset has no RGB features). One regressor ``R`` serves
  both branches (eq. 2, 9); it classifies the score into ``bins`` groups and reads the score
  as the expectation over them, so ``max R`` is a class probability: for an unlabelled clip
  the teacher's score is the student's target when that probability is at least ``tau``
  (consistency regression ``L_un``, eq. 2).
* Self-supervised sub-action parsing (eq. 3-6): channel attention refinement (global
  average pooling, a convolution across channels, a sigmoid, channel-wise product);
  k-means with ``M`` centres on the refined frame features of the batch; greedy subset
  selection of ``K`` of the ``M`` states minimising eq. 3 (Algorithm 1); every frame's
  pseudo-label is its nearest selected state (states numbered in temporal order, so labels
  mean the same across batches); an up-sampling decoder + MLP predicts per-frame state
  probabilities, trained with the BCE of eq. 6. The parsed sub-actions (ordered decoding of
  those probabilities) pool the features the regressor sees.
* Group contrastive learning (eq. 7-8): an MLP projection head; per pseudo-label ``p`` the
  mean projection of the frames labelled ``p`` over the mini-batch, per branch (``G_a^p``,
  ``G_u^p``); positives are the same sub-action across the two branches, negatives the
  other sub-actions; InfoNCE on cosine similarities with temperature ``iota``.
* Total loss eq. 11: ``L_reg + l1 L_ubc + l2 L_un + l3 L_gc`` (``L_reg`` on labelled clips,
  eq. 10, applied to both branches, plus the cross-entropy of the score group).

Departures: the two branches take different modalities (the paper shares one I3D over
actor crops and whole frames); eq. 8 is read as the usual InfoNCE (``exp(cos / iota)``;
as printed it has no exponential); both branches group frames by the teacher's
pseudo-labels (same video, same frames); the score at test time is the student's
(``predict_with``: student | teacher | mean).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from posekit.methods.base import AQAMethod, FrameEncoder, MethodConfig, labelled_mask, masked_mse, mlp, parts_dict
from posekit.methods.tsa import DownUp
from posekit.models.base import Encoded
from posekit.models.segmentation import monotone_decode, stage_pool


@dataclass
class SAPNetConfig(MethodConfig):
    M: int = 8  # k-means centres (latent states)
    bins: int = 8  # score groups of the shared regressor
    tau: float = 0.5  # pseudo-label confidence threshold (eq. 2)
    iota: float = 0.1  # group-contrastive temperature (eq. 8)
    lambda1: float = 1.0  # L_ubc
    lambda2: float = 1.0  # L_un
    lambda3: float = 1.0  # L_gc
    mask_ratio: float = 0.25  # student frames masked when it sees the skeleton too
    predict_with: str = "student"  # student | teacher | mean
    use_unlabelled: bool = True  # false: the supervised-only baseline on the same labelled clips

    def validate(self, where: str | None = None) -> None:
        from posekit.errors import ConfigError

        super().validate(where)
        if not self.hse:
            raise ConfigError("SAP-Net's teacher needs the skeleton (hse: true)", where, "model.hse")
        if self.K > self.M:
            raise ConfigError(f"K = {self.K} sub-actions cannot be chosen from M = {self.M} states", where, "model.M")
        if self.predict_with not in ("student", "teacher", "mean"):
            raise ConfigError(f"predict_with must be student|teacher|mean, got {self.predict_with!r}", where)


def subset_cost(x: np.ndarray, centres: np.ndarray, subset: list[int]) -> float:
    """Eq. 3: mean over frames of the distance to the nearest selected state."""
    if not subset:
        return float("inf")
    d = np.linalg.norm(x[:, None, :] - centres[None, subset, :], axis=-1)
    return float(d.min(axis=1).mean())


def greedy_subset(x: np.ndarray, centres: np.ndarray, K: int) -> list[int]:
    """Algorithm 1: grow the active set one state at a time, each time adding the state
    that lowers eq. 3 the most (the largest gain ``Z(G) - Z(G + {z})``)."""
    chosen: list[int] = []
    for _ in range(min(K, len(centres))):
        rest = [z for z in range(len(centres)) if z not in chosen]
        costs = [subset_cost(x, centres, [*chosen, z]) for z in rest]
        chosen.append(rest[int(np.argmin(costs))])
    return chosen


def kmeans(x: np.ndarray, M: int, seed: int = 0, iters: int = 25) -> np.ndarray:
    """k-means (k-means++ seeding, Lloyd iterations; scikit-learn) -> ``(M, D)`` centres."""
    from sklearn.cluster import KMeans

    M = min(M, len(np.unique(x, axis=0)))
    return KMeans(n_clusters=M, n_init=1, max_iter=iters, random_state=seed).fit(x).cluster_centers_


def parse_pseudo_labels(feats: np.ndarray, M: int, K: int, seed: int = 0) -> np.ndarray:
    """Per-frame pseudo-labels ``(N, T)`` in ``0..K-1`` for a batch of refined frame features
    ``(N, T, D)``: k-means (M) -> greedy subset of K states (Alg. 1) -> nearest selected
    state, states renumbered by their mean (normalised) frame time."""
    N, T, D = feats.shape
    x = feats.reshape(N * T, D).astype(np.float64)
    centres = kmeans(x, M, seed)
    sel = greedy_subset(x, centres, K)
    d = np.linalg.norm(x[:, None, :] - centres[None, sel, :], axis=-1)
    lab = d.argmin(axis=1)
    t = np.tile(np.arange(T) / max(T - 1, 1), N)
    mean_t = np.array([t[lab == k].mean() if (lab == k).any() else 2.0 + k for k in range(len(sel))])
    rank = np.empty(len(sel), dtype=np.int64)
    rank[np.argsort(mean_t)] = np.arange(len(sel))
    return rank[lab].reshape(N, T)


def group_contrastive(ha: torch.Tensor, hu: torch.Tensor, labels: torch.Tensor, K: int, iota: float) -> torch.Tensor:
    """Eq. 7-8: group means of the projected frames of both branches per pseudo-label over
    the mini-batch; InfoNCE with the same sub-action of the other branch as the positive."""
    onehot = F.one_hot(labels, K).float()  # (N, T, K)
    count = onehot.sum(dim=(0, 1))
    present = count > 0
    if present.sum() < 2:
        return ha.sum() * 0.0
    Ga = torch.einsum("ntk,ntd->kd", onehot, ha) / count.clamp(min=1)[:, None]  # eq. 7
    Gu = torch.einsum("ntk,ntd->kd", onehot, hu) / count.clamp(min=1)[:, None]
    Ga, Gu = F.normalize(Ga[present], dim=-1), F.normalize(Gu[present], dim=-1)
    sim = Ga @ Gu.T / iota  # (P, P): diagonal = positives
    return F.cross_entropy(sim, torch.arange(sim.shape[0], device=sim.device))


class ChannelAttention(nn.Module):
    """Attention refinement: GAP over time -> conv across channels -> sigmoid -> product."""

    def __init__(self, k: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, T, D)
        a = torch.sigmoid(self.conv(x.mean(dim=1, keepdim=True)))  # (N, 1, D)
        return x * a


class Branch(nn.Module):
    def __init__(self, cfg: SAPNetConfig, streams: tuple[str, ...]):
        super().__init__()
        self.enc = FrameEncoder(cfg, streams)
        self.att = ChannelAttention()
        self.parse = DownUp(cfg.dim, cfg.K, cfg.T)  # up-sampling decoder + MLP (eq. 4)
        self.proj = nn.Sequential(
            nn.Linear(cfg.dim, cfg.dim), nn.ReLU(), nn.Linear(cfg.dim, cfg.dim), nn.ReLU(), nn.Linear(cfg.dim, cfg.dim)
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.att(self.enc.fuse(batch))
        return x, self.parse(x)


class SAPNet(AQAMethod):
    name = "sapnet"
    pairwise = False
    config_class = SAPNetConfig

    @property
    def semi_supervised(self) -> bool:  # type: ignore[override]
        """The trainer feeds the unlabelled training clips too."""
        return self.cfg.use_unlabelled

    def __init__(self, cfg: SAPNetConfig):
        super().__init__(cfg)
        c = cfg
        rgb = tuple(s for s, on in (("dynamic", c.dve), ("static", c.sve)) if on)
        self.student_streams = rgb or ("pose",)
        self.teacher = Branch(c, ("pose",))
        self.student = Branch(c, self.student_streams)
        self.regressor = mlp(c.K * c.dim, c.mlp_hidden, c.bins, c.dropout)  # R, shared (eq. 2, 9)
        self.register_buffer("bin_centres", torch.linspace(-1.5, 1.5, c.bins))
        self._step = 0

    def prepare(self, targets: np.ndarray, seed: int) -> None:
        super().prepare(targets, seed)
        t = np.asarray(targets, dtype=np.float64)
        z = (t - float(self.score_mean)) / float(self.score_scale)
        q = np.quantile(z, (np.arange(self.cfg.bins) + 0.5) / self.cfg.bins)
        self.bin_centres.copy_(torch.from_numpy(q).float())

    @property
    def segments(self) -> bool:
        return self.cfg.K > 1

    def _student_input(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.student_streams != ("pose",) or not self.training or not self.cfg.mask_ratio:
            return batch
        pose = batch["pose"].clone()  # a scene-like view of the skeleton: frames masked out
        g = torch.Generator().manual_seed(self._step)
        keep = (torch.rand(pose.shape[0], 1, pose.shape[2], 1, generator=g) >= self.cfg.mask_ratio).to(pose)
        return {**batch, "pose": pose * keep}

    def _score(self, feats: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = stage_pool(feats, b, self.cfg.tokens).mean(dim=2)  # (N, K, D) parsed sub-actions
        logits = self.regressor(pooled.flatten(1))
        z = (logits.softmax(dim=-1) * self.bin_centres).sum(dim=-1)
        return logits, z

    def encode(
        self, batch: dict[str, torch.Tensor], use_labels: bool = False, fixed_boundaries: torch.Tensor | None = None
    ) -> Encoded:
        fa, pa = self.teacher(batch)
        fu, pu = self.student(self._student_input(batch))
        N = fa.shape[0]
        pred_b = monotone_decode(pa) if self.cfg.K > 1 else torch.zeros(N, 0, dtype=torch.long)
        b = pred_b.to(fa.device) if fixed_boundaries is None else fixed_boundaries.to(fa.device).expand(N, -1)
        la, za = self._score(fa, b)
        lu, zu = self._score(fu, b)
        extra = {"za": za, "zu": zu, "la": la, "lu": lu, "parse_a": pa, "parse_u": pu}
        if self.training:
            extra.update(fa=fa, fu=fu)
        return Encoded(None, None, pa, b, pred_b.to(fa.device), None, extra)

    def score(self, q: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        x = q.extra  # type: ignore[assignment]
        z = {"student": x["zu"], "teacher": x["za"], "mean": (x["zu"] + x["za"]) / 2}[self.cfg.predict_with]
        pred = self.score_mean + z * self.score_scale
        return pred, (z * self.score_scale)[:, None]

    def loss(
        self, out: dict[str, Any], q: dict[str, torch.Tensor], e: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 11 over both clips of the pair (the exemplar is a labelled clip)."""
        c = self.cfg
        self._step += 1
        zero = out["pred"].new_zeros(())
        l_reg, l_ubc, l_un, l_gc = zero, zero, zero, zero
        for enc, batch in ((out["query"], q), (out["exemplar"], e)):
            x = enc.extra
            lab = labelled_mask(batch)
            z_true = (batch["target"] - self.score_mean) / self.score_scale
            g_true = (z_true[:, None] - self.bin_centres[None]).abs().argmin(dim=1)
            for zz, ll in ((x["za"], x["la"]), (x["zu"], x["lu"])):  # eq. 10 on both branches
                l_reg = l_reg + masked_mse(zz, z_true, lab)
                if lab.any():
                    l_reg = l_reg + F.cross_entropy(ll[lab], g_true[lab])
            # eq. 2: confident teacher scores are the student's targets on unlabelled clips
            conf = x["la"].softmax(dim=-1).max(dim=-1).values.detach()
            use = (~lab) & (conf >= c.tau)
            l_un = l_un + masked_mse(x["zu"], x["za"].detach(), use)
            if c.K > 1:
                pl = parse_pseudo_labels(x["fa"].detach().cpu().numpy(), c.M, c.K, seed=self._step)
                plt_ = torch.from_numpy(pl).to(x["fa"].device)
                target = F.one_hot(plt_, c.K).float()
                for p in (x["parse_a"], x["parse_u"]):  # eq. 6
                    l_ubc = l_ubc + F.binary_cross_entropy_with_logits(p, target)
                ha, hu = self.teacher.proj(x["fa"]), self.student.proj(x["fu"])
                l_gc = l_gc + group_contrastive(ha, hu, plt_, c.K, c.iota)  # eq. 7-8
        total = l_reg + c.lambda1 * l_ubc + c.lambda2 * l_un + c.lambda3 * l_gc
        return total, parts_dict(loss=total, reg=l_reg, ubc=l_ubc, un=l_un, gc=l_gc)
