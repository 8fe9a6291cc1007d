"""HP-MCoRe: hierarchical pose-guided multi-stage contrastive regression (eq. 1-24).

``encode`` runs everything that depends on one video alone - the encoders (eq. 2-5), the
procedure segmentation (eq. 6), stage pooling and the pose-guided fusion (eq. 8-11) - so
at test time each query and each exemplar is encoded once and only the regressor
(eq. 17-20) runs per pair. ``forward(query, exemplar)`` = ``S_e + CR`` (eq. 19).

Inputs are dicts of tensors (see :mod:`posekit.training.data`): ``pose`` ``(N, C, T, V)``,
``dynamic`` ``(N, T_c, D_d)``, ``static`` ``(N, T_s, D_s)``, ``boundaries`` ``(N, K - 1)``
(-1 where unknown), ``target`` (the score, or the execution score with difficulty).

Every part can be switched off from the config for the ablations of HP-MCoRe Tables
III-IX: ``dve`` / ``sve`` / ``hse``, ``hse_levels``, ``hse_edgeconv``, ``K``, ``fusion``
and (in the loss) the contrastive loss kind.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from posekit.models.base import AQAMethod, Encoded, ModelOptions, Options, relative_vote, uniform_boundaries
from posekit.models.fusion import FUSION_KINDS, PoseGuidedFusion
from posekit.models.losses import contrastive_loss
from posekit.models.regression import MultiStageRegressor
from posekit.models.segmentation import (
    ProcedureSegmentation,
    boundaries_to_labels_t,
    monotone_decode,
    stage_log_prior,
    stage_pool,
)
from posekit.models.skeletal import HierarchicalSkeletalEncoder
from posekit.models.visual import DynamicVisualEncoder, StaticVisualEncoder


@dataclass
class HPMCoReLoss(Options):
    """The weights of eq. 23 (the ``loss:`` section of an AQA config): ``aqa`` (eq. 21),
    ``ce`` (segmentation, eq. 7), ``cont`` (stage-wise contrastive, eq. 16) of kind
    ``cont_kind`` (stage | infonce | none) at temperature ``tau``."""

    section: ClassVar[str] = "loss"
    aqa: float = 1.0
    ce: float = 1.0
    cont: float = 1.0
    cont_kind: str = "stage"
    tau: float = 0.5

    def validate(self, where: str | None = None) -> None:
        from posekit.errors import ConfigError

        super().validate(where)
        if self.tau <= 0:
            raise ConfigError(f"loss.tau must be > 0, got {self.tau}", where, "loss.tau")


@dataclass
class HPMCoReConfig(ModelOptions):
    """The ``model:`` section of an AQA YAML config, with the ``loss:`` weights."""

    layout: str = "mpii16"
    in_channels: int = 3
    dim: int = 64
    T: int = 96  # model time grid (frames of the resampled clip)
    dve: bool = True  # dynamic visual encoder
    sve: bool = True  # static visual encoder
    hse: bool = True  # hierarchical skeletal encoder
    dynamic_dim: int | None = None  # inferred from the data when None
    static_dim: int | None = None
    hse_levels: list[int] = field(default_factory=lambda: [0, 1, 2])
    hse_edgeconv: bool = True
    hse_blocks: int = 2
    hse_norm: str = "group"  # group | batch (posekit.models.skeletal: batch keeps clip-to-clip amplitude)
    temporal_kernel: int = 5
    dve_layers: int = 3
    K: int = 3
    seg_hidden: int = 64
    seg_input: str = "auto"  # auto | dynamic | pose | static (the stream the segmenter reads)
    seg_prior: float = 1.0  # weight of the training stages' prior in the segmentation decode (0: off)
    stage_source: str = "predicted"  # predicted | uniform (datasets without stage labels)
    teacher_forcing: bool = True  # pool training stages on the labelled boundaries
    tokens: int = 4  # tokens per stage
    fusion: str = "weighted"
    fusion_heads: int = 2
    fusion_values: str = "both"  # both | dynamic (eq. 9 as printed: visual values only)
    decoder_layers: int = 2
    decoder_heads: int = 4
    mlp_hidden: int = 64
    dropout: float = 0.0
    loss: HPMCoReLoss = field(default_factory=HPMCoReLoss)

    def validate(self, where: str | None = None) -> None:
        from posekit.errors import ConfigError

        super().validate(where)
        self.loss.validate(where)
        if self.fusion not in FUSION_KINDS:
            raise ConfigError(f"fusion must be one of {FUSION_KINDS}, got {self.fusion!r}", where, "model.fusion")
        if self.stage_source not in ("predicted", "uniform"):
            raise ConfigError(f"stage_source must be predicted or uniform, got {self.stage_source!r}", where)
        if self.seg_input == "skeleton":  # the pose stream's name before the one-name rename
            warnings.warn(f"{where or 'model'}: seg_input 'skeleton' is now 'pose'", FutureWarning, 2)
            self.seg_input = "pose"
        if self.seg_input not in ("auto", "dynamic", "pose", "static"):
            raise ConfigError(f"seg_input must be auto|dynamic|pose|static, got {self.seg_input!r}", where)


class HPMCoRe(AQAMethod):
    name = "hpmcore"
    pairwise = True  # scores a query against exemplars (eq. 19, 24)
    semi_supervised = False
    config_class = HPMCoReConfig

    def __init__(self, cfg: HPMCoReConfig):
        super().__init__(cfg)
        D = cfg.dim
        if cfg.dve and not cfg.dynamic_dim:
            raise ValueError("dve is on but dynamic_dim is unknown (set it or let the trainer infer it)")
        if cfg.sve and not cfg.static_dim:
            raise ValueError("sve is on but static_dim is unknown (set it or let the trainer infer it)")
        self.hse = (
            HierarchicalSkeletalEncoder(
                cfg.in_channels,
                D,
                cfg.layout,
                cfg.hse_levels,
                cfg.hse_edgeconv,
                cfg.hse_blocks,
                cfg.temporal_kernel,
                cfg.hse_norm,
            )
            if cfg.hse
            else None
        )
        self.dve = DynamicVisualEncoder(cfg.dynamic_dim, D, cfg.dve_layers) if cfg.dve else None
        self.sve = StaticVisualEncoder(cfg.static_dim, D) if cfg.sve else None
        self.seg_input = self._seg_input()
        self.segmenter = (
            ProcedureSegmentation(D, cfg.K, cfg.seg_hidden) if cfg.K > 1 and cfg.stage_source == "predicted" else None
        )
        has_fused = cfg.dve or cfg.hse
        fusion_kind = cfg.fusion if (cfg.dve and cfg.hse) else "self"
        self.fusion = (
            PoseGuidedFusion(D, cfg.fusion_heads, fusion_kind, values=cfg.fusion_values) if has_fused else None
        )
        self.regressor = MultiStageRegressor(
            D, cfg.K, has_fused, cfg.sve, cfg.decoder_layers, cfg.decoder_heads, cfg.mlp_hidden, cfg.dropout
        )
        self.register_buffer("stage_log_prior", torch.zeros(cfg.T, cfg.K))  # set by prepare_stages

    def _seg_input(self) -> str:
        c = self.cfg
        if c.seg_input != "auto":
            if not {"dynamic": c.dve, "pose": c.hse, "static": c.sve}[c.seg_input]:
                raise ValueError(f"seg_input={c.seg_input} but that stream is switched off")
            return c.seg_input
        return "dynamic" if c.dve else ("pose" if c.hse else "static")

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        # checkpoints written before the stage prior existed decode without one
        state_dict.setdefault(prefix + "stage_log_prior", torch.zeros_like(self.stage_log_prior))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def prepare_stages(self, boundaries: np.ndarray) -> None:
        """The stage prior of the segmentation decode from the training boundaries."""
        self.stage_log_prior.copy_(stage_log_prior(torch.as_tensor(boundaries), self.cfg.T, self.cfg.K))

    @property
    def segments(self) -> bool:
        """Whether the model predicts stage boundaries (AIoU is reported)."""
        return self.cfg.K > 1 and self.cfg.stage_source == "predicted"

    def stage_weights(self) -> torch.Tensor:
        """Learned normalised stage weights lambda_k (eq. 20)."""
        return self.regressor.stage_weights

    # ------------------------------------------------------------------ encode
    def encode(
        self, batch: dict[str, torch.Tensor], use_labels: bool = False, fixed_boundaries: torch.Tensor | None = None
    ) -> Encoded:
        """Encode videos. ``fixed_boundaries`` ``(N, K - 1)`` pools on given stages instead of
        the segmentation's (explanations hold the stages fixed while inputs vary)."""
        c = self.cfg
        T = c.T
        streams: dict[str, torch.Tensor] = {}
        joints = None
        if self.hse is not None:
            joints, streams["pose"] = self.hse(batch["pose"])
        if self.dve is not None:
            streams["dynamic"] = self.dve(batch["dynamic"], T)
        if self.sve is not None:
            streams["static"] = self.sve(batch["static"], T)
        N = next(iter(streams.values())).shape[0]
        device = next(iter(streams.values())).device
        seg_logits = None
        if c.K == 1:
            pred_b = torch.zeros(N, 0, dtype=torch.long, device=device)
        elif c.stage_source == "uniform":
            pred_b = uniform_boundaries(N, T, c.K, device)
        else:
            seg_logits = self.segmenter(streams[self.seg_input])
            pred_b = monotone_decode(seg_logits, c.seg_prior * self.stage_log_prior).to(device)
        b = pred_b
        if use_labels and c.teacher_forcing and c.K > 1 and "boundaries" in batch:
            gt = batch["boundaries"].to(device)
            if gt.shape != (N, c.K - 1):
                raise ValueError(
                    f"boundaries of shape {tuple(gt.shape)} given for K = {c.K} stages; expected ({N}, {c.K - 1})"
                )
            known = (gt >= 0).all(dim=1, keepdim=True)
            fallback = uniform_boundaries(N, T, c.K, device) if c.stage_source == "uniform" else pred_b
            b = torch.where(known, gt, fallback)
        if fixed_boundaries is not None:
            b = fixed_boundaries.to(device).expand(N, -1)
        pooled = {k: stage_pool(v, b, c.tokens) for k, v in streams.items()}  # (N, K, L, D)
        fused = None
        if self.fusion is not None:
            main = pooled.get("dynamic", pooled.get("pose"))
            other = pooled.get("pose") if "dynamic" in pooled else None
            K, L, D = main.shape[1:]
            fused = self.fusion(
                main.reshape(N * K, L, D), None if other is None else other.reshape(N * K, L, D)
            ).reshape(N, K, L, D)
        return Encoded(fused, pooled.get("static"), seg_logits, b, pred_b, joints)

    # ------------------------------------------------------------------ regress
    def relative(self, q: Encoded, e: Encoded) -> torch.Tensor:
        """Per-stage relative scores ``(N, K)`` in score units (eq. 20 terms)."""
        return self.regressor(q.fused, e.fused, q.static, e.static) * self.score_scale

    def forward(
        self, query: dict[str, torch.Tensor], exemplar: dict[str, torch.Tensor], use_labels: bool = True
    ) -> dict[str, Any]:
        q = self.encode(query, use_labels=use_labels)
        e = self.encode(exemplar, use_labels=use_labels)
        stage_delta = self.relative(q, e)
        pred = exemplar["target"].to(stage_delta) + stage_delta.sum(dim=1)  # eq. 19
        return {"pred": pred, "stage_delta": stage_delta, "query": q, "exemplar": e}

    def vote(self, q: Encoded, exemplars: list[Encoded], exemplar_targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. 24 for one batch of queries: ``exemplars[m]`` is the m-th exemplar of every
        query (encoded), ``exemplar_targets`` ``(N, M)``. Returns the mean prediction ``(N,)``,
        every exemplar's estimate ``(N, M)`` and the mean per-stage deltas ``(N, K)``.
        Differentiable (explanations take gradients through it); wrap in ``torch.no_grad()``
        for plain inference."""
        return relative_vote(self.relative, q, exemplars, exemplar_targets)

    def loss(
        self, out: dict[str, Any], q: dict[str, torch.Tensor], e: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 23 with the config's loss weights: ``w_aqa L_aqa + w_ce L_ce + w_cont L_cont``."""
        w = self.cfg.loss
        l_aqa = torch.mean(((out["pred"] - q["target"]) / self.score_scale) ** 2)  # eq. 21
        l_ce = out["pred"].new_zeros(())
        qe: Encoded = out["query"]
        ee: Encoded = out["exemplar"]
        if self.segmenter is not None and qe.seg_logits is not None:
            T = qe.seg_logits.shape[1]
            for enc, b in ((qe, q["boundaries"]), (ee, e["boundaries"])):
                l_ce = l_ce + self.segmenter.loss(enc.seg_logits, segmentation_labels(b, T))  # eq. 7
        l_cont = out["pred"].new_zeros(())
        if w.cont and w.cont_kind != "none":
            fq, fe = qe.stage_features(), ee.stage_features()
            for s in fq:
                l_cont = l_cont + contrastive_loss(w.cont_kind, fq[s], fe[s], w.tau)  # eq. 16
        total = w.aqa * l_aqa + w.ce * l_ce + w.cont * l_cont
        parts = {"loss": total, "aqa": l_aqa, "ce": l_ce, "cont": l_cont}
        return total, {k: float(v.detach()) for k, v in parts.items()}


def segmentation_labels(boundaries: torch.Tensor, T: int) -> torch.Tensor:
    """Per-frame stage labels for eq. 7; rows with unknown boundaries become -1 (ignored)."""
    labels = boundaries_to_labels_t(boundaries.clamp(min=0), T)
    known = (boundaries >= 0).all(dim=1, keepdim=True)
    return torch.where(known, labels, torch.full_like(labels, -1))
