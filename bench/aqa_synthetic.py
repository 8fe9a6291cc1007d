"""HP-MCoRe on the known-answer synthetic diving benchmark: fused vs one modality vs MLP.

    python bench/aqa_synthetic.py [--quick] [--epochs N] [--seeds 0 1]

Same data, same seeds, same epochs for every variant (configs/aqa/synthetic.yaml and the
ablations skeleton_only / visual_only), plus a plain MLP regressor (scikit-learn) on
pooled features (per-joint mean and std over time of the normalised skeleton, mean RGB
features) as the baseline measured in the same run. Prints SRCC, R-l2 x100, AIoU@0.5/0.75
on the test split and each SRCC's ratio to the MLP's, and the score of the same-dive-number
exemplars alone (zero deltas: what the regression adds beyond choosing exemplars);
writes bench/results/aqa_synthetic.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from posekit.io import write_json
from posekit.metrics import score_metrics
from posekit.training import build_splits, load_config, run_training

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "fused (HP-MCoRe)": "configs/aqa/synthetic.yaml",
    "skeleton only": "configs/aqa/ablations/skeleton_only.yaml",
    "visual only": "configs/aqa/ablations/visual_only.yaml",
}


def pooled(items) -> np.ndarray:
    rows = []
    for it in items:
        p = it.pose[:2]  # (2, T, V)
        parts = [p.mean(axis=1).ravel(), p.std(axis=1).ravel()]
        for f in (it.dynamic, it.static):
            if f is not None:
                parts.append(f.mean(axis=0))
        rows.append(np.concatenate(parts))
    return np.asarray(rows)


def mlp_baseline(cfg: dict, seed: int) -> dict[str, float]:
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    s = build_splits(cfg)
    train = s.train + s.val
    model = make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(128, 64), max_iter=2000, early_stopping=True, random_state=seed),
    )
    model.fit(pooled(train), [it.score for it in train])
    pred = model.predict(pooled(s.test))
    return score_metrics(pred, [it.score for it in s.test])


def exemplar_mean(cfg: dict, M: int = 10) -> dict[str, float]:
    """The score of the chosen exemplars alone (w/ DN): what voting gives with zero deltas."""
    from posekit.training.data import select_exemplars

    s = build_splits(cfg)
    score = {it.key: it.score for it in s.train}
    pred = [np.mean([score[k] for k in keys]) for keys in select_exemplars(s.test, s.train, cfg, M)]
    return score_metrics(pred, [it.score for it in s.test])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 epochs, small data")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "aqa_synthetic.json")
    args = ap.parse_args(argv)
    over = [f"train.epochs={3 if args.quick else args.epochs}", "train.progress=false"]
    if args.quick:
        over += ["data.synthetic.n_train=60", "data.synthetic.n_test=30", "model.dim=32"]
    results: dict[str, list[dict]] = {
        name: [] for name in [*VARIANTS, "MLP on pooled features", "exemplar mean (no model)"]
    }
    for seed in args.seeds:
        for name, path in VARIANTS.items():
            cfg = load_config(ROOT / path, [*over, f"seed={seed}", f"data.synthetic.seed={seed}"])
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as work:
                s = run_training(cfg, work, overwrite=True)
            m = dict(s["metrics"], train_seconds=time.perf_counter() - t0)
            results[name].append(m)
            print(f"seed {seed} {name}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items()), flush=True)
        cfg = load_config(ROOT / VARIANTS["fused (HP-MCoRe)"], [*over, f"seed={seed}", f"data.synthetic.seed={seed}"])
        results["MLP on pooled features"].append(mlp_baseline(cfg, seed))
        results["exemplar mean (no model)"].append(exemplar_mean(cfg))
    base = np.mean([m["srcc"] for m in results["MLP on pooled features"]])
    print(f"\n{'model':<26}{'SRCC':>8}{'R-l2x100':>10}{'AIoU.5':>8}{'AIoU.75':>8}{'SRCC/MLP':>10}")
    table = {}
    for name, runs in results.items():
        mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        table[name] = mean
        a5, a75 = mean.get("aiou@0.5", float("nan")), mean.get("aiou@0.75", float("nan"))
        print(
            f"{name:<26}{mean['srcc']:>8.4f}{mean['r_l2_x100']:>10.3f}{a5:>8.3f}{a75:>8.3f}{mean['srcc'] / base:>10.3f}"
        )
    write_json(args.out, {"seeds": args.seeds, "overrides": over, "mean": table, "runs": results})
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
