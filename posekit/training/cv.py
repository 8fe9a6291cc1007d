"""``posekit cv``: grouped k-fold cross-validation with baselines on the same folds.

Every fold trains the config's method (``data.folds = K``, ``data.fold = f``: clips of one
``data.group_by`` group - the athlete, the climber - are never on both sides), and the
held-out predictions of all folds are pooled. On the same folds the classical baselines are
fitted and scored: the training mean, Pose + DCT + ridge and Pose + DCT + SVR
(:mod:`posekit.methods.classical`), and for stage segmentation the mean boundaries of the
training clips. Per fold and pooled: SRCC, MAE, R-l2 x100 and per-stage IoU. A fold whose
predictions exist for the same config is reused, so an interrupted run resumes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.errors import ConfigError
from posekit.io import atomic_write_text, write_json
from posekit.metrics import score_metrics, stage_iou
from posekit.training.config import config_changes, load_config
from posekit.training.data import AQASplits, build_splits, key_str

BASELINES = ("training mean", "dct_ridge", "dct_svr")


@dataclass
class FoldPredictions:
    """Held-out predictions of one fold: the method's and each baseline's."""

    fold: int
    keys: list[str]
    true: np.ndarray
    pred: dict[str, np.ndarray]  # method name -> (n,)
    true_boundaries: np.ndarray  # (n, K - 1), -1 unknown
    pred_boundaries: dict[str, np.ndarray] = field(default_factory=dict)  # segmenter -> (n, K - 1)
    members: np.ndarray | None = None  # (seeds, n): each seed's prediction of the method


def regression_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """SRCC, R-l2 x100 and MSE (:func:`posekit.metrics.score_metrics`) plus the MAE."""
    m = score_metrics(pred, true) if len(true) > 1 and np.ptp(true) > 0 else {"srcc": float("nan")}
    m["mae"] = float(np.mean(np.abs(np.asarray(pred) - np.asarray(true))))
    return m


def _read_predictions(path: Path) -> dict[str, tuple[float, np.ndarray]]:
    out = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            b = row.get("pred_boundaries") or ""
            out[row["key"]] = (float(row["pred"]), np.array([int(v) for v in b.split(";") if v], np.int64))
    return out


def train_or_reuse(
    cfg: dict[str, Any], fold_dir: Path, overwrite: bool = False, splits: AQASplits | None = None
) -> Path:
    """Train one fold (``splits``: other than the config's own), or reuse a finished one with
    the same config, or resume an unfinished one; the path of its test predictions."""
    from posekit.training.trainer import run_training

    preds = fold_dir / "predictions_test.csv"
    stored = fold_dir / "config.yaml"
    same = stored.exists() and not config_changes(stored.read_text(), cfg)
    if preds.exists() and same and not overwrite:
        return preds
    resume = same and (fold_dir / "last.pth").exists() and not overwrite
    run_training(cfg, fold_dir, resume=resume, overwrite=overwrite or (fold_dir.exists() and not resume), splits=splits)
    return preds


def _baselines(splits: AQASplits, cfg: dict[str, Any]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Baseline predictions for the test clips, fitted on train + val of the same fold, and
    the mean-boundary segmentation (``None`` when no training clip has stage labels)."""
    from posekit.methods import build_method

    d, use_diff = cfg["data"], cfg["data"]["use_difficulty"]
    fit, test = splits.train + splits.val, splits.test
    y = np.array([it.target(use_diff) for it in fit], dtype=np.float64)
    scale = np.array([it.difficulty if use_diff else 1.0 for it in test])
    out = {"training mean": np.full(len(test), y.mean()) * scale}
    pose_fit = torch.from_numpy(np.stack([it.pose for it in fit]))
    pose_test = torch.from_numpy(np.stack([it.pose for it in test]))
    for name in ("dct_ridge", "dct_svr"):
        model = build_method(
            name, {"T": d["num_frames"], "K": d["K"], "layout": d["layout"], "in_channels": fit[0].pose.shape[0]}
        )
        model.fit(pose_fit, y, int(cfg["seed"]))
        with torch.no_grad():
            out[name] = model.regress(model.features(pose_test)).double().numpy() * scale
    known = [it.boundaries for it in fit if it.boundaries.size and (it.boundaries >= 0).all()]
    mean_b = np.round(np.mean(known, axis=0)).astype(np.int64) if known else None
    return out, mean_b


def _member_predictions(
    config: str | Path, cfg: dict[str, Any], keys: list[str], fold_dir: Path, seeds: int, overwrite: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Train the fold's ``seeds`` members (seeds ``seed .. seed + seeds - 1``, each in its own
    folder when there are several) and return their test predictions ``(seeds, n)`` and
    predicted boundaries (the first member's)."""
    base_seed, preds, bounds = int(cfg["seed"]), [], []
    for i in range(seeds):
        member = cfg if seeds == 1 else {**cfg, "seed": base_seed + i}
        where = fold_dir if seeds == 1 else fold_dir / f"seed{base_seed + i}"
        got = _read_predictions(train_or_reuse(member, where, overwrite))
        missing = [k for k in keys if k not in got]
        if missing:
            raise ConfigError(f"no prediction for {missing[:3]} in {where}", config)
        preds.append(np.array([got[k][0] for k in keys]))
        bounds.append([got[k][1] for k in keys])
    return np.stack(preds), bounds[0]


def run_fold(
    config: str | Path, fold: int, folds: int, work: Path, overrides: list[str], overwrite: bool, seeds: int = 1
):
    """One outer fold: the method (the mean of ``seeds`` members trained with consecutive
    seeds: a seed ensemble) and the baselines on the same held-out clips."""
    cfg = load_config(config, [*overrides, f"data.folds={folds}", f"data.fold={fold}"])
    splits = build_splits(cfg)
    keys = [key_str(it.key) for it in splits.test]
    members, pb = _member_predictions(config, cfg, keys, work / f"fold{fold}", seeds, overwrite)
    base, mean_b = _baselines(splits, cfg)
    method = cfg.get("method", "hpmcore")
    res = FoldPredictions(
        fold,
        keys,
        np.array([it.score for it in splits.test]),
        {method: members.mean(axis=0), **base},
        np.stack([it.boundaries for it in splits.test]),
    )
    res.members = members
    if res.true_boundaries.shape[1]:
        if all(len(b) == res.true_boundaries.shape[1] for b in pb):
            res.pred_boundaries[method] = np.stack(pb)
        if mean_b is not None:
            res.pred_boundaries["mean boundaries"] = np.tile(mean_b, (len(keys), 1))
    return res, cfg


def _segmentation(folds: list[FoldPredictions], T: int) -> dict[str, dict[str, Any]]:
    """Per-stage IoU of every segmenter, per fold and pooled, over clips with stage labels."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted({n for f in folds for n in f.pred_boundaries}):
        per_fold, pooled = [], []
        for f in folds:
            known = (f.true_boundaries >= 0).all(axis=1)
            if name in f.pred_boundaries and known.any():
                iou = stage_iou(f.pred_boundaries[name][known], f.true_boundaries[known], T)
                per_fold.append(iou.mean(axis=0).tolist())
                pooled.append(iou)
        if pooled:
            out[name] = {"per_fold": per_fold, "pooled": np.concatenate(pooled).mean(axis=0).tolist()}
    return out


def cross_validate(
    config: str | Path,
    folds: int,
    work_dir: str | Path,
    overrides: list[str] | None = None,
    overwrite: bool = False,
    seeds: int = 1,
) -> dict[str, Any]:
    """Run every fold, pool the held-out predictions and score the method against the
    baselines on the same folds; writes ``cv.json``, ``predictions_cv.csv`` and ``cv.png``
    in ``work_dir``. Returns the summary. ``seeds > 1``: the method's prediction is the mean
    of that many members trained with consecutive seeds (each also carves its own
    validation clips); every member's pooled metrics are reported beside the ensemble's."""
    if folds < 2:
        raise ConfigError(f"--folds must be >= 2, got {folds}", config, "data.folds")
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}", config, "seed")
    work = Path(work_dir)
    results, cfg = [], {}
    for f in range(folds):
        res, cfg = run_fold(config, f, folds, work, list(overrides or []), overwrite, seeds)
        results.append(res)
    method = cfg.get("method", "hpmcore")
    names = [method, *BASELINES]
    true = np.concatenate([r.true for r in results])
    summary: dict[str, Any] = {
        "config": str(config),
        "method": method,
        "folds": folds,
        "group_by": build_splits(cfg).info.get("group_by"),
        "n": int(len(true)),
        "per_fold": [
            {"fold": r.fold, "n_test": len(r.keys), **{n: regression_metrics(r.pred[n], r.true) for n in names}}
            for r in results
        ],
        "pooled": {n: regression_metrics(np.concatenate([r.pred[n] for r in results]), true) for n in names},
        "stage_iou": _segmentation(results, int(cfg["data"]["num_frames"])),
        "seeds": seeds,
    }
    if seeds > 1:
        summary["members"] = [
            regression_metrics(np.concatenate([r.members[i] for r in results]), true) for i in range(seeds)
        ]
    from posekit.training.datasets import stage_names

    summary["stage_names"] = stage_names(cfg)
    _write_outputs(work, summary, results, names)
    return summary


def _write_outputs(work: Path, summary: dict[str, Any], results: list[FoldPredictions], names: list[str]) -> None:
    from posekit.viz import plot_cv

    work.mkdir(parents=True, exist_ok=True)
    rows = ["fold,key,true," + ",".join(names)]
    for r in results:
        for i, k in enumerate(r.keys):
            rows.append(f"{r.fold},{k},{r.true[i]:.4f}," + ",".join(f"{r.pred[n][i]:.4f}" for n in names))
    atomic_write_text(work / "predictions_cv.csv", "\n".join(rows) + "\n")
    summary["plot"] = str(plot_cv(summary, work / "cv.png"))
    write_json(work / "cv.json", summary)


def _cv_rows(work: Path, method: str) -> dict[str, tuple[str, float, float]]:
    """key -> (fold, true, the method's prediction) of a finished ``posekit cv`` folder."""
    with open(work / "predictions_cv.csv", newline="") as fh:
        return {r["key"]: (r["fold"], float(r["true"]), float(r[method])) for r in csv.DictReader(fh)}


def _ensemble(work: Path, rows: dict[str, dict[str, tuple[str, float, float]]]) -> dict[str, Any]:
    """The mean of every config's held-out prediction of a clip (no config chosen), scored;
    every prediction side by side in ``predictions_compare.csv``."""
    stems = list(rows)
    keys = list(rows[stems[0]])
    preds = np.array([[rows[s][k][2] for k in keys] for s in stems])
    true = np.array([rows[stems[0]][k][1] for k in keys])
    mean = preds.mean(axis=0)
    lines = ["fold,key,true," + ",".join(stems) + ",ensemble"]
    for i, k in enumerate(keys):
        lines.append(
            f"{rows[stems[0]][k][0]},{k},{true[i]:.4f}," + ",".join(f"{x:.4f}" for x in preds[:, i]) + f",{mean[i]:.4f}"
        )
    atomic_write_text(work / "predictions_compare.csv", "\n".join(lines) + "\n")
    return {"configs": stems, **regression_metrics(mean, true)}


def compare_configs(
    configs: list[str | Path],
    folds: int,
    work_dir: str | Path,
    overrides: list[str] | None = None,
    overwrite: bool = False,
    seeds: int = 1,
) -> dict[str, Any]:
    """:func:`cross_validate` every config (each in ``work_dir/<config name>``) and put them
    side by side: each method's pooled SRCC / MAE / R-l2 x100 (and its seed members), the
    ensemble of all of them (the mean of their held-out predictions of a clip), next to the
    baselines fitted on the same folds. The configs must hold out the same clips in every
    fold (same data, ``data.group_by`` and seed), otherwise the comparison is an error naming
    the config. Writes ``compare.json``, ``compare.png`` and ``predictions_compare.csv`` in
    ``work_dir``."""
    work = Path(work_dir)
    stems = [Path(c).stem for c in configs]
    if len(set(stems)) != len(stems):
        raise ConfigError(f"two configs with one name in {list(map(str, configs))}: rename one", configs[0])
    runs, rows = {}, {}
    for config, stem in zip(configs, stems, strict=True):
        runs[stem] = s = cross_validate(config, folds, work / stem, overrides, overwrite, seeds)
        rows[stem] = _cv_rows(work / stem, s["method"])
        if {k: v[0] for k, v in rows[stem].items()} != {k: v[0] for k, v in rows[stems[0]].items()}:
            raise ConfigError(
                f"holds out other clips than {configs[0]} (data, data.group_by or seed differ): not comparable",
                config,
                "data",
            )
    first = runs[stems[0]]
    summary: dict[str, Any] = {
        "folds": folds,
        "group_by": first["group_by"],
        "n": first["n"],
        "seeds": seeds,
        "methods": {
            stem: {
                "config": s["config"],
                "method": s["method"],
                **s["pooled"][s["method"]],
                "members": s.get("members", []),
            }
            for stem, s in runs.items()
        },
        "baselines": {n: first["pooled"][n] for n in BASELINES},
    }
    work.mkdir(parents=True, exist_ok=True)
    if len(stems) > 1:
        summary["ensemble"] = _ensemble(work, rows)
    from posekit.viz import plot_compare

    summary["plot"] = str(plot_compare(summary, work / "compare.png"))
    write_json(work / "compare.json", summary)
    return summary
