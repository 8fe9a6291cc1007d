"""The one AQA method interface: what the trainer, the metrics and :mod:`posekit.explain` drive.

Every method - HP-MCoRe (:mod:`posekit.models.hpmcore`) and those of :mod:`posekit.methods`
(TSA, CoRe, SAP-Net, progressive, decoupling) - is an :class:`AQAMethod`, built from a typed
config dataclass (:class:`Options`) that holds its options *and* its loss weights. A method
never sees the YAML dict: the trainer passes the training targets and the seed to
:meth:`AQAMethod.prepare` and calls :meth:`AQAMethod.loss` with the batch alone.

* ``encode(batch, use_labels=False, fixed_boundaries=None) -> Encoded`` - everything that
  depends on one video alone; ``fixed_boundaries`` pools on given stages (explanations);
* ``forward(query, exemplar) -> {"pred", "stage_delta", "query", "exemplar", ...}`` - one
  training pair (single-video methods score both videos of the pair);
* ``loss(out, query, exemplar) -> (total, parts)`` - the method's own objective;
* ``vote(q, exemplars, targets) -> {"pred", "per_exemplar", "stage_delta"}`` - test-time
  scoring (multi-exemplar voting for pairwise methods; the direct score for the others,
  repeated per exemplar so the outputs have one shape);
* ``prepare(targets, seed)`` - set-up from the training split (score scale, bins);
  ``prepare_stages(boundaries)`` - from its stage labels (a segmentation prior);
* ``segments`` (predicts stage boundaries: AIoU is reported);
* ``method_outputs()`` - the one hook for what only some methods have: the learned stage
  weights lambda_k, the pose-guided attention's rho and its last attention maps.

Inputs are the dicts of :func:`posekit.training.pairs.item_tensors`: ``pose`` ``(N, C, T, V)``,
``dynamic`` ``(N, T_c, D_d)``, ``static`` ``(N, T_s, D_s)``, ``boundaries`` ``(N, K - 1)``,
``target``; semi-supervised training adds ``labelled`` ``(N,)`` (0 for unlabelled clips).
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn


class Options:
    """A config section as a dataclass: unknown options and values of the wrong type are
    :class:`~posekit.errors.ConfigError` naming the file and the option. A field whose
    default is itself an :class:`Options` is read from a nested dict."""

    section: ClassVar[str] = "model"

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str | None = None) -> Any:
        from posekit.errors import ConfigError

        if not isinstance(d, dict):
            raise ConfigError(f"{cls.section} must be a mapping, got {d!r}", where, cls.section)
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(
                f"unknown {cls.section} option(s) {unknown}; expected some of {sorted(names)}", where, cls.section
            )
        d = dict(d)
        for f in fields(cls):  # type: ignore[arg-type]
            sub = _nested(f)
            if sub is not None and f.name in d and not isinstance(d[f.name], sub):
                d[f.name] = sub.from_dict(d[f.name], where)
        cfg = cls(**d)
        cfg.validate(where)
        return cfg

    def validate(self, where: str | None = None) -> None:
        self._check_types(where)

    def _check_types(self, where: str | None) -> None:
        """Each option has its default's type: booleans, strings, integers (>= 1 where the
        default is, else >= 0) and finite numbers >= 0."""
        from posekit.errors import ConfigError

        for f in fields(self):  # type: ignore[arg-type]
            v, d = getattr(self, f.name), f.default
            if isinstance(d, bool):
                ok, what = isinstance(v, bool), "true or false"
            elif isinstance(d, int):
                lo = 1 if d >= 1 else 0
                ok, what = isinstance(v, int) and not isinstance(v, bool) and v >= lo, f"an integer >= {lo}"
            elif isinstance(d, float):
                ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                what = "a finite number >= 0"
            elif isinstance(d, str):
                ok, what = isinstance(v, str), "a string"
            else:
                continue
            if not ok:
                name = f"{self.section}.{f.name}"
                raise ConfigError(f"{name} must be {what}, got {v!r}", where, name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


def _nested(f: Any) -> type[Options] | None:
    """The :class:`Options` class of a field whose default factory makes one."""
    if f.default_factory is MISSING:
        return None
    value = f.default_factory()
    return type(value) if isinstance(value, Options) else None


class ModelOptions(Options):
    """The ``model:`` section: every method has the three input streams and ``K`` stages."""

    dve: bool
    sve: bool
    hse: bool
    K: int

    def validate(self, where: str | None = None) -> None:
        from posekit.errors import ConfigError

        super().validate(where)
        if not (self.dve or self.sve or self.hse):
            raise ConfigError("at least one of dve, sve, hse must be on", where, "model")
        if self.K < 1:
            raise ConfigError(f"K must be >= 1, got {self.K}", where, "model.K")
        from posekit.models.skeletal import NORMS

        norm = getattr(self, "hse_norm", "group")
        if norm not in NORMS:
            raise ConfigError(f"hse_norm must be one of {list(NORMS)}, got {norm!r}", where, "model.hse_norm")


@dataclass
class Encoded:
    """What :meth:`AQAMethod.encode` returns for a batch of videos."""

    fused: torch.Tensor | None  # (N, K, L, D) fused (or single-stream) stage tokens
    static: torch.Tensor | None  # (N, K, L, D)
    seg_logits: torch.Tensor | None  # (N, T, K)
    boundaries: torch.Tensor  # (N, K - 1) used for pooling
    predicted_boundaries: torch.Tensor  # (N, K - 1)
    joints: torch.Tensor | None  # (N, T, V, D) skeletal joint features
    extra: dict[str, torch.Tensor] | None = None  # method-specific per-video tensors (posekit.methods)

    def stage_features(self) -> dict[str, torch.Tensor]:
        """Mean of each stage's tokens ``(N, K, D)`` per stream (for the contrastive loss)."""
        out = {}
        if self.fused is not None:
            out["fused"] = self.fused.mean(dim=2)
        if self.static is not None:
            out["static"] = self.static.mean(dim=2)
        return out

    def index(self, idx: torch.Tensor) -> Encoded:
        pick = lambda x: None if x is None else x[idx]  # noqa: E731
        return Encoded(
            pick(self.fused),
            pick(self.static),
            pick(self.seg_logits),
            self.boundaries[idx],
            self.predicted_boundaries[idx],
            pick(self.joints),
            None if self.extra is None else {k: v[idx] for k, v in self.extra.items()},
        )

    @staticmethod
    def cat(encs: list[Encoded]) -> Encoded:
        """Concatenate batches (joint features are dropped: evaluation does not need them)."""
        cat = lambda xs: None if xs[0] is None else torch.cat(xs)  # noqa: E731
        extra = encs[0].extra
        return Encoded(
            cat([x.fused for x in encs]),
            cat([x.static for x in encs]),
            cat([x.seg_logits for x in encs]),
            torch.cat([x.boundaries for x in encs]),
            torch.cat([x.predicted_boundaries for x in encs]),
            None,
            None if extra is None else {k: torch.cat([x.extra[k] for x in encs]) for k in extra},  # type: ignore[index]
        )


def uniform_boundaries(N: int, T: int, K: int, device: torch.device | None = None) -> torch.Tensor:
    """``K`` stages of (nearly) equal length."""
    b = torch.tensor([round((k + 1) * T / K) - 1 for k in range(K - 1)], dtype=torch.long, device=device)
    return b.expand(N, K - 1).clone()


def relative_vote(
    relative: Any, q: Encoded, exemplars: list[Encoded], exemplar_targets: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Multi-exemplar voting (HP-MCoRe eq. 24, TSA eq. 10): each exemplar's score plus the
    summed per-stage relative scores ``relative(q, e)`` ``(N, K)``, averaged over exemplars."""
    preds, deltas = [], []
    for m, e in enumerate(exemplars):
        d = relative(q, e)
        deltas.append(d)
        preds.append(exemplar_targets[:, m].to(d) + d.sum(dim=1))
    P = torch.stack(preds, dim=1)
    return {"pred": P.mean(dim=1), "per_exemplar": P, "stage_delta": torch.stack(deltas, 1).mean(1)}


class AQAMethod(nn.Module):
    """Base of every AQA method (see the module docstring for the interface)."""

    name: ClassVar[str] = "method"
    pairwise: ClassVar[bool] = False  # scores a query against exemplars
    semi_supervised: ClassVar[bool] = False  # trains on unlabelled clips too
    closed_form: ClassVar[bool] = False  # fitted by fit(pose, targets, seed) instead of epochs
    config_class: ClassVar[type[ModelOptions]]

    def __init__(self, cfg: Any):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.register_buffer("score_scale", torch.ones(()))

    @property
    def segments(self) -> bool:
        """Whether the method predicts stage boundaries (AIoU is reported)."""
        return False

    @property
    def device(self) -> torch.device:
        """Where the model lives (a closed-form method has buffers and no parameters)."""
        return self.score_scale.device

    def stage_weights(self) -> torch.Tensor | None:
        """Learned normalised stage weights (HP-MCoRe eq. 20), where the method has them."""
        return None

    def method_outputs(self) -> dict[str, Any]:
        """What only some methods compute, in one place for the trainer's summary and the
        explanations: ``stage_weights`` (lambda_k, eq. 20), ``rho`` (the pose-guided
        attention's mixing weight, eq. 8) and ``attention`` (the fusion module itself, whose
        ``last_attention`` holds the maps of the last encoded query); ``None`` where absent."""
        sw = self.stage_weights()
        fusion = getattr(self, "fusion", None)  # pose-guided attention (HP-MCoRe eq. 8-11), where a method has it
        return {
            "stage_weights": None if sw is None else [float(w) for w in sw.detach().cpu()],
            "rho": None if fusion is None else float(fusion.rho.detach()),  # type: ignore[attr-defined]
            "attention": fusion,
        }

    def prepare(self, targets: np.ndarray, seed: int) -> None:
        """Score spread (and mean, for methods with a ``score_mean`` buffer) of the labelled
        training clips' targets: outputs are regressed in units of the spread."""
        t = torch.tensor(targets, dtype=torch.float32)
        if isinstance(getattr(self, "score_mean", None), torch.Tensor):
            self.score_mean.fill_(float(t.mean()))
        self.score_scale.fill_(float(max(t.std(), 1e-3)))

    def prepare_stages(self, boundaries: np.ndarray) -> None:
        """Set-up from the training clips' ``(N, K - 1)`` stage boundaries (-1 unknown), e.g.
        a stage prior for the segmentation; nothing by default."""

    def encode(
        self, batch: dict[str, torch.Tensor], use_labels: bool = False, fixed_boundaries: torch.Tensor | None = None
    ) -> Encoded:
        raise NotImplementedError

    def vote(self, q: Encoded, exemplars: list[Encoded], exemplar_targets: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def loss(
        self, out: dict[str, Any], q: dict[str, torch.Tensor], e: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError
