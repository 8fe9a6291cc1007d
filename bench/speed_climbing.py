"""Real skeletons: predict the official speed-climbing time (SPEED21) from the pose alone.

    python bench/speed_climbing.py [--quick] [--seeds 3] [--folds 5] [--method hpmcore]

Runs exactly what a user runs, ``posekit cv configs/aqa/speed_climbing.yaml --folds 5
--seeds 3``: 5-fold cross-validation by climber (no climber in both train and test), the
method's held-out prediction the mean of ``--seeds`` members trained with consecutive seeds,
and on the same folds the baselines fitted in the same run: the training mean, Pose + DCT +
ridge and Pose + DCT + SVR (Pirsiavash et al. 2014). Sequences are resampled to a fixed
length first: the raw length *is* the time, so a model that saw it would learn nothing about
technique.

Prints per-fold and pooled SRCC / MAE (s) for every model, each seed member's pooled SRCC,
and the ratio of the method's pooled SRCC to DCT + SVR's; writes
bench/results/speed_climbing.json (the work folders go to a temporary directory unless
``--work-dir`` keeps them, so a rerun resumes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from posekit.io import write_json
from posekit.paths import shared_data
from posekit.training.cv import cross_validate

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 folds, 2 epochs, 1 seed")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--method", default="hpmcore", help="method: of the config (hpmcore, tsa, progressive, ...)")
    ap.add_argument("--set", nargs="*", default=[], help="more config overrides")
    ap.add_argument("--work-dir", type=Path, help="keep the fold folders here (a rerun resumes)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "speed_climbing.json")
    args = ap.parse_args(argv)
    root = shared_data("speed_climbing")
    if root is None:
        print("../shared/data/speed_climbing not found", file=sys.stderr)
        return 1
    over = [f"data.root={root}", f"method={args.method}", "train.progress=false", *args.set]
    folds, seeds = (2, 1) if args.quick else (args.folds, args.seeds)
    if args.quick:
        over.append("train.epochs=2")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp)
        s = cross_validate(ROOT / "configs" / "aqa" / "speed_climbing.yaml", folds, work, over, seeds=seeds)
    for r in s["per_fold"]:
        print(f"fold {r['fold']} (n={r['n_test']}): " + " | ".join(f"{n} {r[n]['srcc']:.3f}" for n in s["pooled"]))
    print(f"\npooled over {folds} folds by {s['group_by']} ({s['n']} runs):")
    for name, m in s["pooled"].items():
        print(f"  {name:<14} SRCC {m['srcc']:.3f}  MAE {m['mae']:.3f} s  R-l2x100 {m['r_l2_x100']:.3f}")
    for i, m in enumerate(s.get("members", [])):
        print(f"  seed member {i}: SRCC {m['srcc']:.3f}  MAE {m['mae']:.3f} s")
    ratio = s["pooled"][s["method"]]["srcc"] / s["pooled"]["dct_svr"]["srcc"]
    print(f"  SRCC ratio {s['method']} / DCT+SVR: {ratio:.3f}")
    s.pop("plot", None)
    write_json(args.out, {**s, "overrides": over, "srcc_ratio": ratio})
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
