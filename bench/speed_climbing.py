"""Real skeletons: predict the official speed-climbing time (SPEED21) from the pose alone.

    python bench/speed_climbing.py [--quick] [--epochs N]

5-fold cross-validation by climber (no climber in both train and test). Sequences are
resampled to a fixed length first: the raw length *is* the time, so a model that saw it
would learn nothing about technique. Compared in the same folds:

* HP-MCoRe's skeleton branch (configs/aqa/speed_climbing.yaml: hierarchical skeletal
  encoder, one stage, contrastive regression against 10 exemplars);
* Pose + DCT + SVR (Pirsiavash et al. 2014), posekit.models.baselines.

Prints SRCC, MAE (s) and R-l2 x100 per fold and pooled over folds, and the HP-MCoRe /
DCT-SVR ratio; writes bench/results/speed_climbing.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from posekit.io import write_json
from posekit.metrics import score_metrics
from posekit.models.baselines import dct_features, dct_svr
from posekit.paths import shared_data
from posekit.training import build_splits, load_config, run_training

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 folds, 3 epochs")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "speed_climbing.json")
    args = ap.parse_args(argv)
    root = shared_data("speed_climbing")
    if root is None:
        print("../shared/data/speed_climbing not found", file=sys.stderr)
        return 1
    epochs = 3 if args.quick else args.epochs
    folds = range(2 if args.quick else args.folds)
    pooled: dict[str, list] = {"true": [], "hp-mcore": [], "dct-svr": []}
    per_fold = []
    for f in folds:
        over = [
            f"data.root={root}",
            f"data.folds={args.folds}",
            f"data.fold={f}",
            f"train.epochs={epochs}",
            "train.progress=false",
        ]
        cfg = load_config(ROOT / "configs" / "aqa" / "speed_climbing.yaml", over)
        splits = build_splits(cfg)
        train = splits.train + splits.val
        svr = dct_svr().fit(np.stack([dct_features(it.pose) for it in train]), [it.score for it in train])
        p_svr = svr.predict(np.stack([dct_features(it.pose) for it in splits.test]))
        with tempfile.TemporaryDirectory() as work:
            s = run_training(cfg, work, overwrite=True)
            import csv

            with open(Path(work) / "predictions_test.csv") as fh:
                rows = {r["key"]: float(r["pred"]) for r in csv.DictReader(fh)}
        true = np.array([it.score for it in splits.test])
        p_hp = np.array([rows[str(it.key)] for it in splits.test])
        m_hp, m_svr = score_metrics(p_hp, true), score_metrics(p_svr, true)
        m_hp["mae_s"], m_svr["mae_s"] = float(np.abs(p_hp - true).mean()), float(np.abs(p_svr - true).mean())
        per_fold.append(
            {"fold": f, "n_test": len(true), "hp-mcore": m_hp, "dct-svr": m_svr, "best_epoch": s["best_epoch"]}
        )
        print(
            f"fold {f}: n={len(true)} HP-MCoRe SRCC {m_hp['srcc']:.3f} MAE {m_hp['mae_s']:.3f}s | "
            f"DCT+SVR SRCC {m_svr['srcc']:.3f} MAE {m_svr['mae_s']:.3f}s",
            flush=True,
        )
        pooled["true"] += true.tolist()
        pooled["hp-mcore"] += p_hp.tolist()
        pooled["dct-svr"] += p_svr.tolist()
    t = np.array(pooled["true"])
    summary = {}
    for name in ("hp-mcore", "dct-svr"):
        p = np.array(pooled[name])
        summary[name] = {
            **score_metrics(p, t),
            "mae_s": float(np.abs(p - t).mean()),
            "srcc_fold_mean": float(np.mean([r[name]["srcc"] for r in per_fold])),
        }
    ratio = summary["hp-mcore"]["srcc"] / summary["dct-svr"]["srcc"]
    print(f"\npooled over {len(per_fold)} folds ({len(t)} runs):")
    for name, m in summary.items():
        print(
            f"  {name:<9} SRCC {m['srcc']:.3f} (fold mean {m['srcc_fold_mean']:.3f})  MAE {m['mae_s']:.3f}s  "
            f"R-l2x100 {m['r_l2_x100']:.3f}"
        )
    print(f"  SRCC ratio HP-MCoRe / DCT+SVR: {ratio:.3f}")
    write_json(
        args.out, {"epochs": epochs, "folds": args.folds, "per_fold": per_fold, "pooled": summary, "srcc_ratio": ratio}
    )
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
