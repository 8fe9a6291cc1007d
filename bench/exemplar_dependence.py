"""How much a clip's score depends on which exemplars were drawn, and how voting with more
exemplars removes it (HP-MCoRe eq. 24: the score is the mean over exemplars of y_e + delta).

    python bench/exemplar_dependence.py [--quick] [--epochs N]

SPEED21 (real skeletons, configs/aqa/speed_climbing.yaml: HP-MCoRe's skeleton branch), the
test fold 0 of 5 folds by climber. The model is trained once; each test clip is then scored
with 10 different exemplar draws (the draw's seed changed, nothing else) for M = 10 exemplars
(the default, the baseline measured in the same run) and for M = every training clip
(``train.exemplars`` larger than the pool). Prints the mean over clips of the SD of a clip's
score across draws, next to the SD of the true times, and the SRCC of each draw; writes
bench/results/exemplar_dependence.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from posekit.io import write_json
from posekit.metrics import spearman
from posekit.paths import shared_data
from posekit.training import build_splits, load_checkpoint, load_config, model_from_checkpoint, run_training
from posekit.training.trainer import evaluate_items

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 epochs")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "exemplar_dependence.json")
    args = ap.parse_args(argv)
    root = shared_data("speed_climbing")
    if root is None:
        print("../shared/data/speed_climbing not found", file=sys.stderr)
        return 1
    over = [f"data.root={root}", "data.folds=5", "data.fold=0", "train.progress=false"]
    cfg = load_config(
        ROOT / "configs" / "aqa" / "speed_climbing.yaml", [*over, f"train.epochs={2 if args.quick else args.epochs}"]
    )
    splits = build_splits(cfg)
    with tempfile.TemporaryDirectory() as work:
        run_training(cfg, work, overwrite=True)
        model = model_from_checkpoint(load_checkpoint(Path(work) / "best.pth"))
    true = np.array([it.score for it in splits.test])
    rows = {}
    for name, M in (("M = 10 (default)", 10), (f"M = all {len(splits.train)} training clips", 10**6)):
        preds = np.stack(
            [evaluate_items(model, splits.test, splits.train, {**cfg, "seed": s}, M)["pred"] for s in range(args.draws)]
        )
        rows[name] = {
            "sd_over_draws": float(preds.std(axis=0).mean()),
            "srcc_per_draw": [spearman(p, true) for p in preds],
        }
    sd_true = float(true.std())
    print(
        f"{len(true)} test runs (fold 0 of 5 by climber), {args.draws} exemplar draws; "
        f"SD of the true times {sd_true:.3f} s"
    )
    for name, r in rows.items():
        print(
            f"  {name:<32} SD of a clip's score over draws {r['sd_over_draws']:.4f} s "
            f"({r['sd_over_draws'] / sd_true:.3f} of the score SD); SRCC {np.mean(r['srcc_per_draw']):.3f} "
            f"(draws {min(r['srcc_per_draw']):.3f}..{max(r['srcc_per_draw']):.3f})"
        )
    write_json(args.out, {"sd_true": sd_true, "draws": args.draws, "rows": rows})
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
