"""The dataset registry: every ``data.kind`` in one place.

A kind is a :class:`DatasetKind`: its name (the one spelling used by the YAML ``data.kind``,
``posekit dataset-info`` and the API), a loader that turns ``data:`` into training items, and
optionally a summary of its annotations. Adding a dataset means a reader in
:mod:`posekit.datasets` and one :func:`register_dataset` call here (or in your own code,
before ``posekit.cli.main``): the config's choices, the CLI and the error messages follow.

Built-in kinds:

* ``synthetic`` - :mod:`posekit.synthetic` (the embedded default: no files needed).
* ``finediving`` - the FineDiving layout ``root/annotations/*.pkl`` (official split),
  ``root/<pose_dir>/<video>/<idx>.npz``, ``root/<dynamic_dir>/<video>/<idx>.npy`` (``(T_c, D)``),
  ``root/<static_dir>/<video>/<idx>.npy`` (``(T_s, D)``). Stage boundaries come from the
  fine-grained step transitions (:mod:`posekit.datasets.stages`).
* ``mtl_aqa`` - ``root/annotations`` holds the MTL-AQA pickles; the same pose / feature
  layout with ``<video>`` written as two digits (``01/12.npz``). No stage labels.
* ``generic`` - :class:`~posekit.datasets.generic.SkeletonFolderDataset` (``labels.csv``);
  test split drawn with ``data.test_fraction`` or ``data.folds``.
* ``speed_climbing`` - SPEED21 (``root/skeletons``); the target is the official time; the
  test split holds out whole climbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import AnnotationError, ConfigError
from posekit.skeleton import SkeletonSequence
from posekit.training.data import AQAItem, held_out_keys, load_feature, prepare_skeleton

Loader = Callable[[dict[str, Any], int, int], tuple[list[AQAItem], list[AQAItem], dict[str, Any]]]


@dataclass(frozen=True)
class DatasetKind:
    """One ``data.kind``: ``load(data_section, K, seed) -> (train, test, info)``;
    ``summary(root) -> dict`` for ``posekit dataset-info`` (``None``: not summarised)."""

    name: str
    load: Loader
    needs_root: bool = True
    summary: Callable[[Path], dict[str, Any]] | None = None
    description: str = ""
    stage_names: tuple[str, ...] | None = None  # the stages of its sport, when K matches
    official_split: bool = False  # the loader's train / test split is the dataset's own
    default_group: str = "group"  # what data.group_by means when unset (clips of a group stay together)


DIVING_STAGES = ("take-off", "flight", "entry")


DATASETS: dict[str, DatasetKind] = {}


def register_dataset(kind: DatasetKind, replace: bool = False) -> DatasetKind:
    """Add a dataset kind (an existing name is an error unless ``replace``)."""
    if kind.name in DATASETS and not replace and DATASETS[kind.name] is not kind:
        raise ConfigError(f"dataset kind {kind.name!r} is already registered", field="data.kind")
    DATASETS[kind.name] = kind
    return kind


def stage_names(cfg: dict[str, Any], K: int | None = None) -> list[str]:
    """Names of the ``K`` stages a model scores (default ``data.K``): ``data.stage_names``
    when set, else the dataset's own (diving: take-off, flight, entry), else "stage 1" ...;
    a whole-clip model (``K = 1``) has "whole clip". Used by plots, the predictions CSV,
    metrics and explanations."""
    d = cfg["data"]
    K = int(d["K"]) if K is None else K
    given = d.get("stage_names")
    if given is not None:
        if not isinstance(given, list) or not all(isinstance(n, str) and n for n in given) or len(given) != d["K"]:
            raise ConfigError(
                f"data.stage_names must be a list of data.K = {d['K']} names, got {given!r}",
                cfg.get("_source"),
                "data.stage_names",
            )
        if K == len(given):
            return list(given)
    own = DATASETS[d["kind"]].stage_names if d["kind"] in DATASETS else None
    if given is None and own is not None and len(own) == K:
        return list(own)
    return ["whole clip"] if K == 1 else [f"stage {k + 1}" for k in range(K)]


def fold_groups(items: list[AQAItem], d: dict[str, Any], kind: DatasetKind, where: str | None) -> dict[Hashable, str]:
    """What keeps clips together on one side of a split (``data.group_by``, default the
    kind's own: the climber, the ``group`` column, the competition video): ``clip`` (none),
    ``group`` (the group / dive number / climber), ``video`` (the first part of a
    ``(video, index)`` key) or any other ``labels.csv`` column (the athlete, ...)."""
    how = d.get("group_by") or kind.default_group
    explicit = bool(d.get("group_by"))
    if how == "clip" or (how == "group" and not explicit and not all(it.group for it in items)):
        return {it.key: repr(it.key) for it in items}  # no group column: each clip alone
    out: dict[Hashable, str] = {}
    for it in items:
        if how == "group":
            value = it.group
        elif how == "video":
            value = it.key[0] if isinstance(it.key, tuple) else None
        else:
            value = it.columns.get(how)
        if value in (None, ""):
            raise AnnotationError(
                f"clip {it.key!r} has no {how!r} to group by (data.group_by: {how})", it.source or where, how
            )
        out[it.key] = str(value)
    return out


def split_by_groups(
    train: list[AQAItem], test: list[AQAItem], d: dict[str, Any], kind: DatasetKind, seed: int, where: str | None
) -> tuple[list[AQAItem], list[AQAItem], dict[str, Any]]:
    """The test split: the dataset's official one, unless ``data.folds`` (grouped k-fold,
    fold ``data.fold``) or the dataset has none (a grouped ``data.test_fraction``)."""
    if kind.official_split and not d.get("folds"):
        return train, test, {}
    items = train + test
    groups = fold_groups(items, d, kind, where)
    held = held_out_keys(d, items, groups, seed)
    info = {"group_by": d.get("group_by") or kind.default_group, "groups": len(set(groups.values()))}
    return [it for it in items if it.key not in held], [it for it in items if it.key in held], info


def dataset_kind(name: str, where: str | Path | None = None) -> DatasetKind:
    if name not in DATASETS:
        raise ConfigError(f"unknown data.kind {name!r}; expected one of {sorted(DATASETS)}", where, "data.kind")
    return DATASETS[name]


# ---------------------------------------------------------------------- loaders
def synthetic_generator(d: dict[str, Any]):
    """The :class:`posekit.synthetic.DiveGenerator` of a config's ``data`` section (what
    ``data.kind: synthetic`` trains on; benches generate their probe dives with it too)."""
    from posekit.synthetic import DiveGenerator

    s = d["synthetic"]
    return DiveGenerator(
        num_frames=int(s.get("num_frames") or d["num_frames"]),
        num_clips=s["num_clips"],
        static_dim=s["feature_dim"],
        dynamic_dim=s["feature_dim"],
        stage_fractions=tuple(map(tuple, s.get("stage_fractions") or ((0.2, 0.32), (0.16, 0.26)))),
    )


def _synthetic(d: dict[str, Any], K: int, seed: int) -> tuple[list[AQAItem], list[AQAItem], dict[str, Any]]:
    if K not in (1, 2, 3):
        raise ConfigError(f"the synthetic dives have 3 stages; K must be 1, 2 or 3, got {K}", field="data.K")
    s = d["synthetic"]
    gen = synthetic_generator(d)
    T = gen.T

    def conv(dives: list) -> list[AQAItem]:
        out = []
        for dv in dives:
            b = dv.boundaries if K == 3 else (dv.boundaries[1:] if K == 2 else dv.boundaries[:0])
            out.append(
                AQAItem(
                    key=dv.key,
                    pose=prepare_skeleton(dv.skeleton, d["num_frames"], d["center"], d["motion"]),
                    dynamic=dv.dynamic if d.get("dynamic_dir") else None,
                    static=dv.static if d.get("static_dir") else None,
                    boundaries=np.round(b * (d["num_frames"] - 1) / max(1, T - 1)).astype(np.int64),
                    score=dv.score,
                    difficulty=dv.difficulty,
                    group=dv.dive_number,
                    source=f"synthetic seed {s['seed']}",
                    layout=dv.skeleton.layout,
                )
            )
        return out

    train = conv(gen.dataset(int(s["n_train"]), seed=int(s["seed"]), split="train"))
    test = conv(gen.dataset(int(s["n_test"]), seed=int(s["seed"]) + 10_000, split="test"))
    return train, test, {"kind": "synthetic", "generator_num_frames": T}


def _layout_items(
    d: dict[str, Any], root: Path, ann: Any, keys: list[Hashable], K: int, fmt: Any, boundaries: Any
) -> list[AQAItem]:
    items = []
    from tqdm import tqdm

    for key in tqdm(keys, desc="loading clips", leave=False, disable=len(keys) < 200):
        rec = ann[key]
        rel = fmt(key)
        pose_path = root / d["pose_dir"] / f"{rel}.npz"
        if not pose_path.exists():
            raise AnnotationError(
                f"no skeleton for clip {key!r}: expected {pose_path} (cut and extract every dive with `posekit "
                f"extract-dataset --videos <untrimmed videos> --annotations <coarse annotation .pkl> "
                f"--out {root / d['pose_dir']}`)",
                pose_path,
                "pose",
            )
        seq = SkeletonSequence.load(pose_path)
        dyn = load_feature(root / d["dynamic_dir"] / f"{rel}.npy", "dynamic", key) if d.get("dynamic_dir") else None
        st = load_feature(root / d["static_dir"] / f"{rel}.npy", "static", key) if d.get("static_dir") else None
        b = boundaries(key) if K > 1 else np.zeros(0, np.int64)
        diff = rec.difficulty if rec.difficulty else 1.0
        items.append(
            AQAItem(
                key,
                prepare_skeleton(seq, d["num_frames"], d["center"], d["motion"]),
                dyn,
                st,
                b,
                rec.score,
                diff,
                rec.dive_number,
                str(pose_path),
                seq.layout,
            )
        )
    return items


def _finediving(d: dict[str, Any], K: int, seed: int) -> tuple[list[AQAItem], list[AQAItem], dict[str, Any]]:
    from posekit.datasets.finediving import FineDiving

    root = Path(d["root"])
    fd = FineDiving(root / "annotations")
    fmt = lambda k: f"{k[0]}/{k[1]}"  # noqa: E731
    bnd = lambda k: fd.stage_boundaries(k, K=K, T=d["num_frames"])  # noqa: E731
    tr = _layout_items(d, root, fd, fd.split("train"), K, fmt, bnd)
    te = _layout_items(d, root, fd, fd.split("test"), K, fmt, bnd)
    return tr, te, {"kind": "finediving", "root": str(root), "invalid_transits": len(fd.issues)}


def _mtl_aqa(d: dict[str, Any], K: int, seed: int) -> tuple[list[AQAItem], list[AQAItem], dict[str, Any]]:
    from posekit.datasets.mtl_aqa import MTLAQA

    root = Path(d["root"])
    ds = MTLAQA(root / "annotations")
    fmt = lambda k: f"{k[0]:02d}/{k[1]}"  # noqa: E731
    none = lambda k: np.full(K - 1, -1, np.int64)  # noqa: E731
    tr = _layout_items(d, root, ds, ds.split("train"), K, fmt, none)
    te = _layout_items(d, root, ds, ds.split("test"), K, fmt, none)
    return tr, te, {"kind": "mtl_aqa", "root": str(root)}


def _generic(d: dict[str, Any], K: int, seed: int) -> tuple[list[AQAItem], list[AQAItem], dict[str, Any]]:
    from posekit.datasets.generic import SkeletonFolderDataset

    ds = SkeletonFolderDataset(d["root"])
    items = []
    for sample in ds:
        rec, seq = sample.record, sample.skeleton
        if sample.boundaries is not None and K > 1:
            if len(sample.boundaries) != K - 1:
                raise AnnotationError(
                    f"{rec.key}: {len(sample.boundaries)} boundaries, K = {K} needs {K - 1}",
                    ds.labels_path,
                    "boundaries",
                )
            b = np.round(sample.boundaries * (d["num_frames"] - 1) / max(1, seq.num_frames - 1)).astype(np.int64)
        else:
            b = np.full(max(0, K - 1), -1, np.int64)
        items.append(
            AQAItem(
                rec.key,
                prepare_skeleton(seq, d["num_frames"], d["center"], d["motion"]),
                None,
                None,
                b,
                rec.score,
                rec.difficulty or 1.0,
                rec.dive_number,
                seq.path,
                seq.layout,
                dict(rec.extra.get("columns", {})),
            )
        )
    return items, [], {"kind": "generic"}  # held out by data.group_by in build_splits


def _speed_climbing(d: dict[str, Any], K: int, seed: int) -> tuple[list[AQAItem], list[AQAItem], dict[str, Any]]:
    from posekit.datasets.speed_climbing import SpeedClimbing

    sc = SpeedClimbing(d["root"])
    climbers = sc.climbers()
    items = [
        AQAItem(
            r,
            prepare_skeleton(sc.load(r), d["num_frames"], d["center"], d["motion"]),
            None,
            None,
            np.full(max(0, K - 1), -1, np.int64),
            sc.runs[r].time_sec,
            1.0,
            str(climbers[r]),
            str(sc.root / "skeletons" / f"{r}.data"),
        )
        for r in sc.run_ids()
    ]
    return items, [], {"kind": "speed_climbing"}  # held out by climber (data.group_by) in build_splits


# ---------------------------------------------------------------------- summaries
def _diving_summary(ds: Any) -> dict[str, Any]:
    dns = Counter(r.dive_number for r in ds)
    scores = [r.score for r in ds]
    return {
        "records": len(ds),
        "train": len(ds.split("train")),
        "test": len(ds.split("test")),
        "dive_numbers": len(dns),
        "most_common": dns.most_common(5),
        "score_range": [min(scores), max(scores)],
    }


def _finediving_summary(root: Path) -> dict[str, Any]:
    from posekit.datasets.finediving import FineDiving

    ds = FineDiving(root)
    issues = ds.issues
    if isinstance(issues, dict):  # keyed by (video, index): JSON needs string keys
        issues = {"/".join(map(str, k)) if isinstance(k, tuple) else str(k): v for k, v in issues.items()}
    return {**_diving_summary(ds), "annotation_issues": issues}


def _mtl_aqa_summary(root: Path) -> dict[str, Any]:
    from posekit.datasets.mtl_aqa import MTLAQA

    return _diving_summary(MTLAQA(root))


def _speed_climbing_summary(root: Path) -> dict[str, Any]:
    from posekit.datasets.speed_climbing import SpeedClimbing

    ds = SpeedClimbing(root)
    times = list(ds.times().values())
    return {"runs": len(ds), "climbers": len(set(ds.climbers().values())), "time_sec": [min(times), max(times)]}


def _generic_summary(root: Path) -> dict[str, Any]:
    from posekit.datasets.generic import SkeletonFolderDataset

    ds = SkeletonFolderDataset(root)
    scores = [s.record.score for s in ds]
    return {"clips": len(scores), "score_range": [min(scores), max(scores)] if scores else None}


for _kind in (
    DatasetKind(
        "synthetic",
        _synthetic,
        needs_root=False,
        description="generated dives (no files)",
        stage_names=DIVING_STAGES,
        official_split=True,
    ),
    DatasetKind(
        "finediving",
        _finediving,
        summary=_finediving_summary,
        description="FineDiving",
        stage_names=DIVING_STAGES,
        official_split=True,
        default_group="video",
    ),
    DatasetKind(
        "mtl_aqa", _mtl_aqa, summary=_mtl_aqa_summary, description="MTL-AQA", official_split=True, default_group="video"
    ),
    DatasetKind("generic", _generic, summary=_generic_summary, description="a folder of skeletons + labels.csv"),
    DatasetKind("speed_climbing", _speed_climbing, summary=_speed_climbing_summary, description="SPEED21"),
):
    register_dataset(_kind)
