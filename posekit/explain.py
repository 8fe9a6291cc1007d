"""Which joints, frames and stages moved a score: ``posekit.explain``.

``explain(model, query, exemplars)`` scores one query against its exemplars with
multi-exemplar voting (HP-MCoRe eq. 24) and attributes the predicted score to the inputs:

* ``integrated_gradients`` (default) and ``gradient_x_input`` come from captum
  (``IntegratedGradients``, ``InputXGradient``) over the three inputs at once - skeleton
  ``(C, T, V)``, dynamic clip features, static frame features - with the stage boundaries
  held at the query's predicted ones (the segmentation's argmax is not differentiable).
* ``occlusion``: model-agnostic check - each joint is replaced by the baseline over one
  stage at a time and the query rescored; the score change is that joint's attribution in
  that stage (spread evenly over the stage's frames).

Baselines (what an attribution is measured against): ``"aligned"`` (default; the mean of
the exemplars after each one is time-warped stage by stage onto the query's stages - its
take-off resampled onto the query's take-off frames and so on, as TSA resizes steps - a
mean pose *in step with the query*, so a stage is compared with the same stage),
``"exemplar"`` (the first exemplar's skeleton and features: "why does the query score
differently from this exemplar"), ``"mean"`` (the plain mean of the exemplars' inputs: a
mean pose) or ``"zeros"``.
With integrated gradients the attributions add up to ``f(query) - f(baseline)``
(completeness); :attr:`Explanation.convergence_delta` reports how closely.

Signs: a positive attribution raised the score, a negative one lowered it. The skeleton's
attribution is summed over the channels (x, y, confidence) into a joint x frame map, then
per joint, per hierarchy level (torso / inner / outer limbs, from :mod:`graphs`) and per
stage; the RGB features' attribution gives the skeleton / RGB shares of the explanation,
overall and per stage. The per-stage relative scores ``lambda_k (M_fu + M_st)`` and the
learned stage weights (eq. 20, HP-MCoRe Fig. 6) and the pose-guided attention (rho and the
fused attention map per stage, eq. 8) are reported as the model computed them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphs.hierarchy import LEVEL_NAMES, build_hierarchy
from graphs.layout import get_layout
from posekit.io import atomic_write_text
from posekit.models.base import AQAMethod, Encoded
from posekit.models.segmentation import stage_pool

ATTRIBUTIONS = ("integrated_gradients", "gradient_x_input", "occlusion")
BASELINES = ("aligned", "exemplar", "mean", "zeros")
STREAMS = ("pose", "dynamic", "static")


@dataclass
class Explanation:
    """Everything :func:`explain` found out about one prediction (JSON round-trips)."""

    score: float
    exemplar_targets: list[float]
    exemplar_predictions: list[float]
    stage_deltas: list[float]  # mean over exemplars of lambda_k (M_fu + M_st), score units
    stage_weights: list[float]
    boundaries: list[int]
    stage_names: list[str]
    joint_names: list[str]
    level_names: list[str]
    joint_frame: list[list[float]]  # (T, V) signed attribution
    attribution: str  # integrated_gradients | gradient_x_input | occlusion
    baseline: str
    baseline_score: float
    convergence_delta: float | None
    rgb: dict[str, Any] = field(default_factory=dict)  # share / per-stage attribution of RGB inputs
    attention: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    true_score: float | None = None
    layout: str = ""  # the graphs layout of joint_names

    # ------------------------------------------------------------------ derived views
    @property
    def joint_frame_array(self) -> np.ndarray:
        return np.asarray(self.joint_frame, dtype=np.float64)

    @property
    def stage_of_frame(self) -> np.ndarray:
        T = self.joint_frame_array.shape[0]
        return np.searchsorted(np.asarray(self.boundaries, dtype=np.int64), np.arange(T), side="left")

    def per_joint(self, stage: int | None = None) -> np.ndarray:
        a = self.joint_frame_array
        if stage is not None:
            a = a[self.stage_of_frame == stage]
        return a.sum(axis=0)

    def per_stage(self) -> np.ndarray:
        """Skeleton attribution summed per stage ``(K,)``."""
        a = self.joint_frame_array.sum(axis=1)
        return np.array([a[self.stage_of_frame == k].sum() for k in range(len(self.stage_names))])

    def per_level(self) -> np.ndarray:
        """Skeleton attribution summed per hierarchy level (torso, inner, outer limbs)."""
        h = build_hierarchy(self._layout())
        pj = self.per_joint()
        return np.array([pj[h.level_of_joint == lv].sum() for lv in range(3)])

    def _layout(self) -> str:
        """The layout the explanation was made on; for files written before it was stored,
        the registered layout whose joints are exactly ``joint_names`` (never a guess from
        the joint count)."""
        if self.layout:
            return self.layout
        from graphs.layout import available_layouts

        for name in available_layouts():
            if list(get_layout(name).joints) == list(self.joint_names):
                return name
        raise ValueError(f"no registered layout has the joints {self.joint_names}; register the clip's layout")

    def top_joints(self, k: int = 3, stage: int | None = None, sign: str = "abs") -> list[tuple[str, float]]:
        """The ``k`` joints with the largest attribution (``sign``: abs | negative | positive)."""
        pj = self.per_joint(stage)
        order = {"abs": np.argsort(-np.abs(pj)), "negative": np.argsort(pj), "positive": np.argsort(-pj)}[sign]
        return [(self.joint_names[i], float(pj[i])) for i in order[:k]]

    def summary(self) -> str:
        """Plain-language account of the prediction."""
        lines = [f"predicted score {self.score:.2f}" + (f" (true {self.true_score:.2f})" if self.true_score else "")]
        ex = np.mean(self.exemplar_targets)
        lines.append(
            f"against {len(self.exemplar_targets)} exemplar(s) scored {ex:.2f} on average: "
            + (
                ", ".join(f"{n} {d:+.2f}" for n, d in zip(self.stage_names, self.stage_deltas, strict=True))
                if len(self.stage_deltas) == len(self.stage_names)
                else ", ".join(f"{d:+.2f}" for d in self.stage_deltas)  # a whole-clip score
            )
        )
        ps = self.per_stage()
        for k, name in enumerate(self.stage_names):
            verb = "cost" if ps[k] < 0 else "added"
            top = self.top_joints(2, stage=k, sign="negative" if ps[k] < 0 else "positive")
            joints = " and ".join(j.replace("_", " ") for j, v in top if v * ps[k] > 0) or "no joint in particular"
            lines.append(f"{name} stage {verb} {abs(ps[k]):.2f} points (skeleton), mostly {joints}")
        if self.rgb:
            lines.append(f"share of the attribution: skeleton {1 - self.rgb['share']:.0%}, RGB {self.rgb['share']:.0%}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["per_joint"] = dict(zip(self.joint_names, self.per_joint().tolist(), strict=True))
        d["per_level"] = dict(zip(self.level_names, self.per_level().tolist(), strict=True))
        d["per_stage"] = dict(zip(self.stage_names, self.per_stage().tolist(), strict=True))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Explanation:
        names = {f for f in cls.__dataclass_fields__}
        d = {"attribution": d["method"], **d} if "method" in d else d  # explanations written before the rename
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            atomic_write_text(path, text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Explanation:
        p = Path(str(text_or_path))
        text = p.read_text() if len(str(text_or_path)) < 4096 and p.exists() else str(text_or_path)
        return cls.from_dict(json.loads(text))


def _stack(items: list[dict[str, torch.Tensor]] | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if isinstance(items, dict):
        return items
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


class _Scorer(torch.nn.Module):
    """``f(pose, dynamic, static) -> score`` of the query against fixed exemplar encodings."""

    def __init__(self, model: AQAMethod, exemplars: dict[str, torch.Tensor], boundaries: torch.Tensor):
        super().__init__()
        self.model = model
        with torch.no_grad():
            ex = model.encode(exemplars)
        self.ex = [ex.index(torch.tensor([m])) for m in range(exemplars["target"].shape[0])]
        self.targets = exemplars["target"].float()
        self.boundaries = boundaries

    def vote(self, q: Encoded) -> dict[str, torch.Tensor]:
        """Eq. 24 of the encoded query (batch of n variants) against every exemplar."""
        n = q.boundaries.shape[0]
        exs = [e.index(torch.zeros(n, dtype=torch.long)) for e in self.ex]
        return self.model.vote(q, exs, self.targets.expand(n, -1))

    def forward(self, pose: torch.Tensor, dynamic: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        batch = {"pose": pose, "dynamic": dynamic, "static": static}
        pred = self.vote(self.model.encode(batch, fixed_boundaries=self.boundaries))["pred"]
        # an input the score does not use (e.g. SAP-Net's student ignores the skeleton) stays in
        # the graph with zero gradient, so its attribution is exactly 0
        unused = sum(t.flatten(1).sum(1) for t in (pose, dynamic, static))
        return pred + 0.0 * unused


def _inputs(model: AQAMethod, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pose, dynamic, static) with placeholders for streams the model does not use."""
    n = batch["target"].shape[0] if "target" in batch else next(iter(batch.values())).shape[0]
    pose = batch.get("pose", torch.zeros(n, 3, model.cfg.T, get_layout(model.cfg.layout).num_joints))
    dyn = batch.get("dynamic", torch.zeros(n, 1, 1))
    st = batch.get("static", torch.zeros(n, 1, 1))
    return pose.float(), dyn.float(), st.float()


def explain(
    model: AQAMethod,
    query: dict[str, torch.Tensor],
    exemplars: list[dict[str, torch.Tensor]] | dict[str, torch.Tensor],
    attribution: str = "integrated_gradients",
    baseline: str | dict[str, torch.Tensor] = "aligned",
    n_steps: int = 32,
    stage_names: list[str] | None = None,
    key: str | None = None,
) -> Explanation:
    """Explain one prediction. ``query``: tensors of one clip (no batch dimension, as
    :func:`posekit.training.pairs.item_tensors` gives); ``exemplars``: a list of such dicts
    (with ``target``) or a stacked dict."""
    from captum.attr import InputXGradient, IntegratedGradients

    if attribution not in ATTRIBUTIONS:
        raise ValueError(f"attribution must be one of {ATTRIBUTIONS}, got {attribution!r}")
    model = model.eval()
    q = {k: v.unsqueeze(0) for k, v in query.items()}
    ex = _stack(exemplars)
    if "target" not in ex:
        raise ValueError("exemplars need their 'target' (score) to vote")
    with torch.no_grad():
        qe = model.encode(q)
        b = qe.predicted_boundaries[:1]
    scorer = _Scorer(model, ex, b)
    x = _inputs(model, q)
    if isinstance(baseline, dict):
        base = _inputs(model, {k: v.unsqueeze(0) for k, v in baseline.items()})  # unbatched, like query
        base_name = "given"
    elif baseline == "aligned":
        with torch.no_grad():
            eb = model.encode(ex).predicted_boundaries
        base = tuple(
            align_to_stages(t, eb, b, model.cfg.T, time_dim).mean(dim=0, keepdim=True)
            for t, time_dim in zip(_inputs(model, ex), (2, 1, 1), strict=True)
        )
        base_name = "aligned"
    elif baseline == "exemplar":
        base = tuple(t[:1] for t in _inputs(model, ex))
        base_name = "exemplar"
    elif baseline == "mean":
        base = tuple(t.mean(dim=0, keepdim=True) for t in _inputs(model, ex))
        base_name = "mean"
    elif baseline == "zeros":
        base = tuple(torch.zeros_like(t) for t in x)
        base_name = "zeros"
    else:
        raise ValueError(f"baseline must be one of {BASELINES} or a dict of tensors, got {baseline!r}")
    with torch.no_grad():
        score = float(scorer(*x))
        base_score = float(scorer(*base))
        v = scorer.vote(qe)
        per_ex = [float(p) for p in v["per_exemplar"][0]]
        deltas = v["stage_delta"][0]
    delta = None
    if attribution == "integrated_gradients":
        ig = IntegratedGradients(scorer)
        attrs, conv = ig.attribute(x, baselines=base, n_steps=n_steps, return_convergence_delta=True)
        delta = float(conv.abs().max())
    elif attribution == "gradient_x_input":
        diff = tuple((a - b_).detach().requires_grad_() for a, b_ in zip(x, base, strict=True))
        # gradient x (input - baseline): InputXGradient on the shifted inputs
        shifted = _Shifted(scorer, base)
        attrs = InputXGradient(shifted).attribute(diff)
    else:
        attrs = _occlusion(scorer, x, base, b[0], int(b.shape[1]) + 1, score)
    pose_attr = attrs[0][0].sum(dim=0).detach().cpu().numpy()  # (T, V)
    K = int(b.shape[1]) + 1  # stages the model scores (1 for whole-clip methods such as CoRe)
    names = stage_names or (["whole clip"] if K == 1 else [f"stage {k + 1}" for k in range(K)])
    if len(names) != K:
        raise ValueError(f"{len(names)} stage names for a model that scores {K} stage(s): {names}")
    lay = get_layout(model.cfg.layout)
    expl = Explanation(
        score=score,
        exemplar_targets=[float(t) for t in ex["target"]],
        exemplar_predictions=per_ex,
        stage_deltas=[float(d) for d in deltas],
        stage_weights=model.method_outputs()["stage_weights"] or [],
        boundaries=[int(v) for v in b[0].tolist()],
        stage_names=names,
        joint_names=list(lay.joints),
        layout=lay.name,
        level_names=list(LEVEL_NAMES),
        joint_frame=pose_attr.tolist(),
        attribution=attribution,
        baseline=base_name,
        baseline_score=base_score,
        convergence_delta=delta,
        key=key,
        true_score=float(query["target"]) if "target" in query else None,
    )
    expl.rgb = _rgb_part(model, attrs, expl)
    expl.attention = _attention(model, q, b)
    return expl


def align_to_stages(x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, T: int, time_dim: int = 1) -> torch.Tensor:
    """Time-warp videos stage by stage: stage ``k`` of each row of ``x`` (its stages given by
    ``src`` ``(N, K - 1)``) is linearly resampled onto the frames of stage ``k`` under ``dst``
    ``(1 | N, K - 1)``. Boundaries live on the model's ``T``-frame grid and are mapped onto
    the stream's own time axis ``time_dim`` of ``x`` (2 for a pose ``(N, C, T, V)``, 1 for
    features ``(N, T_x, D...)``)."""
    xt = x.movedim(time_dim, 1)  # time-major (N, T_x, ...)
    N, Tx = xt.shape[:2]
    K = src.shape[1] + 1
    if K == 1:
        return x.clone()

    def on_grid(b: torch.Tensor) -> torch.Tensor:  # last frame of a stage, T grid -> T_x grid
        return (torch.div((b.long() + 1) * Tx, T, rounding_mode="floor") - 1).clamp(-1, Tx - 1)

    s, d = on_grid(src), on_grid(dst.expand(N, -1))[0]
    ends = torch.cat([d, torch.tensor([Tx - 1])])
    starts = torch.cat([torch.tensor([0]), d + 1])
    parts = []
    for k in range(K):
        n = int(ends[k] - starts[k] + 1)
        if n > 0:
            parts.append(stage_pool(xt, s, n)[:, k])
    return torch.cat(parts, dim=1).movedim(1, time_dim)


class _Shifted(torch.nn.Module):
    def __init__(self, scorer: _Scorer, base: tuple[torch.Tensor, ...]):
        super().__init__()
        self.scorer, self.base = scorer, base

    def forward(self, *diff: torch.Tensor) -> torch.Tensor:
        return self.scorer(*(d + b for d, b in zip(diff, self.base, strict=True)))


@torch.no_grad()
def _occlusion(
    scorer: _Scorer, x: tuple[torch.Tensor, ...], base: tuple[torch.Tensor, ...], b: torch.Tensor, K: int, score: float
) -> tuple[torch.Tensor, ...]:
    pose, dyn, st = x
    T, V = pose.shape[2], pose.shape[3]
    stage = torch.searchsorted(b, torch.arange(T), right=False) if K > 1 else torch.zeros(T, dtype=torch.long)
    out = torch.zeros_like(pose)
    variants, where = [], []
    for k in range(K):
        frames = stage == k
        if not frames.any():
            continue
        for j in range(V):
            p = pose.clone()
            p[0, :, frames, j] = base[0][0, :, frames, j]
            variants.append(p)
            where.append((k, j, frames))
    scores = []
    for i in range(0, len(variants), 16):
        chunk = torch.cat(variants[i : i + 16])
        n = chunk.shape[0]
        scores.append(scorer(chunk, dyn.expand(n, *dyn.shape[1:]), st.expand(n, *st.shape[1:])))
    scores_t = torch.cat(scores)
    for (_k, j, frames), s in zip(where, scores_t, strict=True):
        out[0, 0, frames, j] = (score - float(s)) / int(frames.sum())
    return out, torch.zeros_like(dyn), torch.zeros_like(st)


def _rgb_part(model: AQAMethod, attrs: tuple[torch.Tensor, ...], e: Explanation) -> dict[str, Any]:
    if not (model.cfg.dve or model.cfg.sve):
        return {}
    T = model.cfg.T
    stage = e.stage_of_frame
    K = len(e.stage_names)
    per_stage = np.zeros(K)
    total_rgb = 0.0
    for _name, a, on in (("dynamic", attrs[1][0], model.cfg.dve), ("static", attrs[2][0], model.cfg.sve)):
        if not on:
            continue
        per_t = a.sum(dim=tuple(range(1, a.dim()))).detach().cpu().numpy()  # (T_in,)
        pos = np.linspace(0, T - 1, len(per_t)).round().astype(int)
        for t, v in zip(pos, per_t, strict=True):
            per_stage[stage[t]] += v
        total_rgb += float(np.abs(per_t).sum())
    sk = float(np.abs(e.joint_frame_array).sum())
    return {
        "share": total_rgb / max(total_rgb + sk, 1e-12),
        "per_stage": per_stage.tolist(),
        "skeleton_per_stage": e.per_stage().tolist(),
    }


@torch.no_grad()
def _attention(model: AQAMethod, q: dict[str, torch.Tensor], b: torch.Tensor) -> dict[str, Any]:
    """The pose-guided attention (HP-MCoRe eq. 8) of the query, through the method's
    :meth:`~posekit.models.base.AQAMethod.method_outputs` hook."""
    fusion = model.method_outputs()["attention"]
    if fusion is None:
        return {}
    model.encode(q, fixed_boundaries=b)  # fills the fusion module's last attention maps
    att = fusion.last_attention  # (K, heads, L, L) for one query
    out: dict[str, Any] = {"kind": fusion.kind, "rho": float(fusion.rho)}
    if att is not None:
        out["per_stage"] = att.mean(dim=1).cpu().numpy().round(4).tolist()
    sk = fusion.last_skeletal_attention
    if sk is not None:
        out["skeletal_per_stage"] = sk.mean(dim=1).cpu().numpy().round(4).tolist()
    return out


@dataclass
class SampleExplanation:
    """What :func:`explain_sample` found and wrote."""

    explanation: Explanation
    exemplars: list[str]  # the keys of the exemplars the score was voted with
    paths: list[Path] = field(default_factory=list)  # the JSON and pictures written


def explain_sample(
    config: str | Path | dict[str, Any],
    checkpoint: str | Path | dict[str, Any],
    sample: str | None = None,
    out: str | Path | None = None,
    *,
    exemplars: int = 10,
    attribution: str = "integrated_gradients",
    baseline: str = "aligned",
    overrides: list[str] | None = None,
) -> SampleExplanation:
    """The one entry point of job 3 (``posekit explain`` and the demo call it): explain the
    score of dataset clip ``sample`` (a key such as ``test/3``; default the first test clip)
    as the checkpoint's model gives it, voted against the same exemplars evaluation uses
    (:func:`posekit.training.data.select_exemplars`: ``data.use_dn``, ``data.exemplar_group``).
    With ``out``, writes ``explanation.json``, ``exemplars.json`` and the pictures there."""
    from posekit.errors import PosekitError
    from posekit.io import write_json
    from posekit.training import build_splits, load_checkpoint, load_config, model_from_checkpoint
    from posekit.training.checkpoint import check_checkpoint_matches
    from posekit.training.data import drawable_pose, key_str, select_exemplars
    from posekit.training.datasets import stage_names
    from posekit.training.pairs import item_tensors
    from posekit.viz import plot_explanation

    cfg = config if isinstance(config, dict) else load_config(config, overrides or [])
    ck = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    check_checkpoint_matches(cfg, ck, "the checkpoint" if isinstance(checkpoint, dict) else checkpoint)
    model = model_from_checkpoint(ck)
    splits = build_splits(cfg)
    items = {key_str(it.key): it for it in splits.all()}
    sample = sample if sample is not None else key_str((splits.test or splits.all())[0].key)
    if sample not in items:
        raise PosekitError(f"sample {sample!r} is not in the dataset (e.g. {', '.join(list(items)[:3])})")
    q, use_diff = items[sample], cfg["data"]["use_difficulty"]
    keys = select_exemplars([q], splits.train, cfg, exemplars)[0]
    by = {it.key: it for it in splits.train}
    torch.manual_seed(int(cfg["seed"]))
    expl = explain(
        model,
        item_tensors(q, use_diff),
        [item_tensors(by[k], use_diff) for k in keys],
        attribution=attribution,
        baseline=baseline,
        key=sample,
    )
    expl.stage_names = stage_names(cfg, len(expl.stage_deltas))  # the dataset's names for the stages scored
    result = SampleExplanation(expl, [key_str(k) for k in keys])
    if out is not None:
        out = Path(out)
        expl.to_json(out / "explanation.json")
        write_json(out / "exemplars.json", result.exemplars)
        pose = drawable_pose(q.pose, cfg["data"]["center"], model.cfg.layout)
        result.paths = [out / "explanation.json", *plot_explanation(expl, pose, out, layout=model.cfg.layout)]
    return result
