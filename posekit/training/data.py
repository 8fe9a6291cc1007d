"""Training data: every dataset kind becomes a list of :class:`AQAItem` on one time grid.

An item holds the normalised skeleton ``(C, T, V)`` (resampled to ``T`` frames, centred on
the root and scaled by the torso, :meth:`SkeletonSequence.normalise`), the precomputed RGB
features when configured, the ``K - 1`` stage boundaries on the same grid (-1 when the
dataset has no stage labels), the score, the difficulty and the group (dive number).

Each dataset kind (``data.kind``) has a loader in the registry :mod:`posekit.training.datasets`.

Bad data fails early with the file and the problem: a missing clip, a feature of the
wrong shape, NaN or inf.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.exemplars import ExemplarSampler, stable_hash
from posekit.errors import AnnotationError, ConfigError, SkeletonFormatError
from posekit.skeleton import SkeletonSequence


def key_str(key: Any) -> str:
    """A dataset key as users type it: ``(video, idx)`` -> ``"video/idx"``."""
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


@dataclass
class AQAItem:
    key: Hashable
    pose: np.ndarray  # (C, T, V) float32
    dynamic: np.ndarray | None
    static: np.ndarray | None
    boundaries: np.ndarray  # (K - 1,) int64, -1 unknown
    score: float
    difficulty: float
    group: str | None = None
    source: str | None = None
    layout: str = "mpii16"  # the graphs layout of ``pose``
    columns: dict[str, str] = field(default_factory=dict)  # other labels.csv columns (data.group_by)

    def target(self, use_difficulty: bool) -> float:
        return self.score / self.difficulty if use_difficulty else self.score


@dataclass
class AQASplits:
    train: list[AQAItem]
    val: list[AQAItem]
    test: list[AQAItem]
    info: dict[str, Any]
    unlabelled: list[AQAItem] = field(default_factory=list)  # training clips whose score is hidden

    def all(self) -> list[AQAItem]:
        return [*self.train, *self.val, *self.test]


def prepare_skeleton(seq: SkeletonSequence, T: int, center: str = "frame", motion: bool = False) -> np.ndarray:
    """Resample to ``T`` frames, normalise, return ``(3, T, V)`` float32: x, y, confidence.

    ``motion`` appends the joint motion stream of pyskl / 2s-AGCN ("Two-Stream Adaptive
    Graph Convolutional Networks for Skeleton-Based Action Recognition", Shi et al. 2019,
    sec. 3.4: the difference of a joint's coordinates between consecutive frames) as two more
    channels -> ``(5, T, V)``: x, y, confidence, dx, dy; 0 at the first frame and wherever
    the joint is missing in either frame."""
    s = seq.resample(T).normalise(center=center)  # type: ignore[arg-type]
    out = np.ascontiguousarray(s.data.transpose(2, 0, 1)).astype(np.float32)
    return np.concatenate([out, joint_motion(out)]) if motion else out


def joint_motion(pose: np.ndarray) -> np.ndarray:
    """``(C >= 3, T, V)`` x, y, confidence -> ``(2, T, V)`` frame-to-frame displacement."""
    xy, ok = pose[:2], pose[2] > 0
    d = np.zeros_like(xy)
    d[:, 1:] = xy[:, 1:] - xy[:, :-1]
    d[:, 1:] *= (ok[1:] & ok[:-1])[None]
    return d


def drawable_pose(pose: np.ndarray, center: str, layout: str) -> np.ndarray:
    """A model-input skeleton ``(C, T, V)`` as a skeleton to draw: with ``body_oriented``
    the root joint holds the body's orientation, not a position - put it back at the origin."""
    if center != "body_oriented":
        return pose
    from graphs.layout import get_layout

    out = pose.copy()
    out[:2, :, get_layout(layout).root_index()] = 0.0
    return out


def load_feature(path: Path, what: str, key: Any) -> np.ndarray:
    if not path.exists():
        raise AnnotationError(f"no {what} features for clip {key!r} (expected a .npy file)", path)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise AnnotationError(f"cannot read {what} features: {exc}", path) from None
    if arr.ndim not in (2, 4):
        raise AnnotationError(f"{what} features must be (T, D) or (T, D, h, w), got shape {arr.shape}", path)
    if not np.isfinite(arr).all():
        raise AnnotationError(f"{what} features contain NaN or inf", path)
    return arr.astype(np.float32)


def _check_consistent(items: list[AQAItem], where: str) -> None:
    for attr in ("pose", "dynamic", "static"):
        shapes = {}
        for it in items:
            a = getattr(it, attr)
            if a is not None:
                shapes.setdefault(a.shape if attr == "pose" else a.shape[1:], it)
        if len(shapes) > 1:
            (s1, i1), (s2, i2) = list(shapes.items())[:2]
            raise AnnotationError(
                f"{attr} shapes differ between clips: {i1.key!r} {s1} vs {i2.key!r} {s2} "
                f"({attr} must have the same feature size in every clip)",
                i2.source or where,
                attr,
            )


def _check_layout(items: list[AQAItem], layout: str, where: str | None) -> None:
    """Every clip is in ``data.layout`` (nothing is assumed: a clip in another layout is an
    error naming it and the line to put in the config)."""
    for it in items:
        if it.layout != layout:
            raise SkeletonFormatError(
                f"clip {it.key!r} is in layout {it.layout!r} but data.layout is {layout!r}"
                f" (set data.layout: {it.layout} in {where or 'the config'})",
                it.source or where,
                "layout",
            )


def _split_by_group(keys: list[Hashable], groups: dict[Hashable, Any], frac: float, seed: int) -> set[Hashable]:
    """Keys of a held-out part holding ``~frac`` of the groups (stable across runs)."""
    uniq = sorted({groups[k] for k in keys}, key=repr)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    n = max(1, int(round(frac * len(uniq))))
    held = {uniq[i] for i in order[:n]}
    return {k for k in keys if groups[k] in held}


def held_out_keys(d: dict[str, Any], items: list[AQAItem], groups: dict[Hashable, Any], seed: int) -> set[Hashable]:
    """Test keys: fold ``data.fold`` of a grouped k-fold (``data.folds``) or a grouped
    random share ``data.test_fraction``. Whole groups (climbers, ...) stay on one side."""
    keys = [it.key for it in items]
    if d.get("folds"):
        from sklearn.model_selection import GroupKFold

        k, f = int(d["folds"]), int(d.get("fold", 0))
        if not 0 <= f < k:
            raise ConfigError(f"data.fold must be in 0..{k - 1}, got {f}", field="data.fold")
        g = [repr(groups[key]) for key in keys]
        splits = list(GroupKFold(n_splits=k).split(keys, groups=g))
        return {keys[i] for i in splits[f][1]}
    return _split_by_group(keys, groups, float(d.get("test_fraction", 0.2)), seed)


def carve_val(train: list[AQAItem], frac: float, seed: int) -> tuple[list[AQAItem], list[AQAItem]]:
    """A validation split carved from train (model selection never sees the test split)."""
    if frac <= 0:
        return train, []
    order = sorted(train, key=lambda it: (stable_hash((seed, it.key)), repr(it.key)))
    n_val = max(1, int(round(frac * len(train))))
    if len(train) - n_val < 2:
        raise ConfigError(f"val_fraction {frac} leaves {len(train) - n_val} training clips", field="data.val_fraction")
    val_keys = {it.key for it in order[:n_val]}
    return [it for it in train if it.key not in val_keys], [it for it in train if it.key in val_keys]


def build_splits(cfg: dict[str, Any]) -> AQASplits:
    """Train / validation / test (and unlabelled) clips of the config's ``data.kind``, read
    by that kind's loader in :mod:`posekit.training.datasets`."""
    from posekit.training.datasets import dataset_kind, split_by_groups

    d, seed = cfg["data"], int(cfg["seed"])
    K = int(cfg["data"]["K"])
    kind = dataset_kind(d["kind"], cfg.get("_source"))
    if kind.needs_root and not d.get("root"):
        raise ConfigError(f"data.kind={kind.name} needs data.root", cfg.get("_source"), "data.root")
    train, test, info = kind.load(d, K, seed)
    train, test, group_info = split_by_groups(train, test, d, kind, seed, cfg.get("_source"))
    info.update(group_info)
    if d.get("max_items"):
        train, test = train[: int(d["max_items"])], test[: int(d["max_items"])]
    _check_consistent(train + test, str(d.get("root")))
    _check_layout(train + test, d["layout"], cfg.get("_source"))
    train, val = carve_val(train, float(d["val_fraction"]), seed)
    if d["use_difficulty"] and any(it.difficulty <= 0 for it in train + val + test):
        raise ConfigError("use_difficulty needs a positive difficulty for every clip", cfg.get("_source"), "data")
    train, unlabelled = split_labelled(train, float(d["labelled_fraction"]), cfg.get("_source"))
    info.update(n_train=len(train), n_val=len(val), n_test=len(test), n_unlabelled=len(unlabelled))
    return AQASplits(train, val, test, info, unlabelled)


def split_labelled(
    train: list[AQAItem], fraction: float, where: str | None = None
) -> tuple[list[AQAItem], list[AQAItem]]:
    """Semi-supervised protocol (``data.labelled_fraction``): keep the scores of a
    ``fraction`` of the training clips spread evenly over the score range (SAP-Net samples
    labelled clips uniformly by score); the rest become unlabelled clips."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"data.labelled_fraction must be in (0, 1], got {fraction}", where, "data.labelled_fraction")
    if fraction >= 1:
        return train, []
    n = max(2, int(round(fraction * len(train))))
    order = sorted(range(len(train)), key=lambda i: (train[i].score, repr(train[i].key)))
    pick = {order[int(round(j))] for j in np.linspace(0, len(order) - 1, n)}
    return [it for i, it in enumerate(train) if i in pick], [it for i, it in enumerate(train) if i not in pick]


def exemplar_groups(items: list[AQAItem], cfg: dict[str, Any]) -> dict[Hashable, str]:
    """What exemplars are matched on (``data.exemplar_group``): ``group`` (the dive number)
    or ``difficulty`` (the degree of difficulty: CoRe's choice for MTL-AQA)."""
    how = cfg["data"].get("exemplar_group", "group")
    if how == "difficulty":
        return {it.key: f"{it.difficulty:.2f}" for it in items}
    if how != "group":
        raise ConfigError(
            f"data.exemplar_group must be group or difficulty, got {how!r}", cfg.get("_source"), "data.exemplar_group"
        )
    return {it.key: it.group for it in items if it.group}


@dataclass(frozen=True)
class ExemplarQuery:
    """A query that is not a dataset item (e.g. a generated or edited dive): what
    :func:`select_exemplars` needs of it."""

    key: Hashable
    group: str = ""
    difficulty: float = 0.0


def select_exemplars(
    queries: list[Any], pool: list[AQAItem], cfg: dict[str, Any], M: int | str
) -> list[list[Hashable]]:
    """The one exemplar rule of evaluation, explanation, the demo and the benches: for each
    query (an :class:`AQAItem` or :class:`ExemplarQuery`), ``M`` training clips of ``pool`` to
    vote with (HP-MCoRe eq. 24, TSA eq. 10). With ``data.use_dn`` they share the query's
    ``data.exemplar_group`` (dive number or difficulty) and are filled up from the rest when
    too few do; a query is never its own exemplar; draws depend on ``(seed, key)`` only.
    ``M`` is capped by the candidates the pool has; ``"all"``: every training clip (the score
    then no longer depends on an exemplar draw)."""
    import warnings

    if not pool:
        raise ConfigError("no training clips to draw exemplars from", cfg.get("_source"), "data")
    keys = {it.key for it in pool}
    M = len(pool) if M == "all" else int(M)
    M = min(M, len(pool) - (1 if any(q.key in keys for q in queries) else 0))
    sampler = ExemplarSampler([it.key for it in pool], exemplar_groups(pool, cfg), cfg["seed"])
    groups = exemplar_groups(queries, cfg)
    use_dn = bool(cfg["data"]["use_dn"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "fewer than M exemplars with this dive number" is expected on small sets
        return [
            sampler.test_exemplars(q.key, M, use_dn=use_dn and bool(groups.get(q.key)), dive_number=groups.get(q.key))
            for q in queries
        ]


def infer_dims(items: list[AQAItem]) -> dict[str, int | None]:
    it = items[0]
    return {
        "in_channels": int(it.pose.shape[0]),
        "dynamic_dim": None if it.dynamic is None else int(it.dynamic.shape[1]),
        "static_dim": None if it.static is None else int(it.static.shape[1]),
    }
