"""``train.select: inner_cv``: choose the number of epochs by grouped cross-validation on the
training clips, then train once on all of them.

On a small dataset a validation split of a few clips is noise: ``best.pth`` is whichever
epoch happened to rank those clips well (the own-sport report: epoch 1 in 3 of 4 folds).
Inner cross-validation (Stone 1974, "Cross-validatory choice and assessment of statistical
predictions"; nested CV as in Varma & Simon 2006) uses every training clip for the choice:
the training and validation clips are cut into ``train.inner_folds`` folds by
``data.group_by`` (an athlete never on both sides); each fold trains the config for
``train.epochs`` and records its held-out SRCC after every epoch; the epoch count ``E*`` that
maximises the mean held-out SRCC over the inner folds is kept, and the final model trains on
all training and validation clips for ``E*`` epochs (the last epoch is the model). The test
split is never seen before that final model is evaluated. It costs ``inner_folds + 1``
trainings; ``inner_cv.json`` in the work folder holds every fold's curve and the choice.
The final run's learning-rate schedule spans its own ``E*`` epochs (a cosine schedule ends
at ``E*``), as a user who had set ``train.epochs: E*`` would train.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import ConfigError
from posekit.io import write_json
from posekit.training.data import AQAItem, AQASplits, held_out_keys


def inner_splits(splits: AQASplits, cfg: dict[str, Any], k: int) -> list[AQASplits]:
    """``k`` grouped folds of the training + validation clips; each fold's held-out clips are
    its validation and test split (the outer test split is not among them)."""
    from posekit.training.datasets import dataset_kind, fold_groups

    d = cfg["data"]
    pool: list[AQAItem] = splits.train + splits.val
    groups = fold_groups(pool, d, dataset_kind(d["kind"]), cfg.get("_source"))
    if len(set(groups.values())) < k:
        raise ConfigError(
            f"train.inner_folds = {k} but the training clips hold {len(set(groups.values()))} group(s)",
            cfg.get("_source"),
            "train.inner_folds",
        )
    out = []
    for f in range(k):
        held = held_out_keys({"folds": k, "fold": f}, pool, groups, int(cfg["seed"]))
        tr = [it for it in pool if it.key not in held]
        va = [it for it in pool if it.key in held]
        out.append(AQASplits(tr, va, va, {**splits.info, "inner_fold": f}, splits.unlabelled))
    return out


def mean_curve(histories: list[list[dict[str, Any]]]) -> np.ndarray:
    """Mean held-out SRCC per epoch over the inner folds (NaN where a fold has none)."""
    n = max(len(h) for h in histories)
    curves = np.full((len(histories), n), np.nan)
    for i, h in enumerate(histories):
        for rec in h:
            curves[i, int(rec["epoch"])] = rec.get("val_srcc", np.nan)
    with np.errstate(all="ignore"):
        return np.nanmean(curves, axis=0)


def _inner_history(cfg: dict[str, Any], split: AQASplits, work: Path) -> list[dict[str, Any]]:
    """Train one inner fold (reusing or resuming one with the same config, as ``posekit cv``
    does) and return its per-epoch history."""
    from posekit.training.cv import train_or_reuse

    train_or_reuse(cfg, work, splits=split)
    return json.loads((work / "history.json").read_text())


def run_inner_cv(cfg: dict[str, Any], splits: AQASplits, work: Path) -> dict[str, Any]:
    """The ``inner_cv`` selection (module docstring); returns the final run's summary with
    ``inner_cv`` (the chosen epoch count and the mean curve) added. Inner folds finished with
    the same config are reused, so an interrupted run resumes."""
    from posekit.io import atomic_write_text
    from posekit.training.config import dump_config
    from posekit.training.trainer import run_training

    k = int(cfg["train"]["inner_folds"])
    inner_cfg = copy.deepcopy(cfg)
    inner_cfg["train"].update(select="best", eval_every=1)
    histories = [
        _inner_history(inner_cfg, s, work / "inner_cv" / f"fold{i}") for i, s in enumerate(inner_splits(splits, cfg, k))
    ]
    curve = mean_curve(histories)
    if not np.isfinite(curve).any():
        raise ConfigError("inner_cv: no inner fold gave a held-out SRCC", cfg.get("_source"), "train.select")
    epochs = int(np.nanargmax(curve)) + 1
    choice = {"inner_folds": k, "epochs": epochs, "mean_val_srcc": [float(v) for v in curve]}
    write_json(work / "inner_cv.json", {**choice, "histories": histories})
    print(f"inner_cv: {k} folds, mean held-out SRCC peaks after {epochs} epoch(s) ({curve[epochs - 1]:.3f})")
    final_cfg = copy.deepcopy(cfg)
    final_cfg["train"].update(epochs=epochs, select="last")
    pool = splits.train + splits.val
    info = {**splits.info, "n_train": len(pool), "n_val": 0, "select": "inner_cv"}
    final = AQASplits(pool, [], splits.test, info, splits.unlabelled)
    summary = run_training(final_cfg, work, overwrite=True, splits=final)
    atomic_write_text(work / "config.yaml", dump_config(cfg))  # the user's config, not the final run's
    return {**summary, "inner_cv": choice}
