"""Every AQA method on real skeletons (SPEED21), on the same folds, next to the baselines.

    python bench/speed_climbing_methods.py [--quick] [--seeds 1] [--folds 5] [--work-dir DIR]

Runs exactly what a user runs to pick a method,
``posekit cv configs/aqa/speed_climbing.yaml configs/aqa/methods/speed_climbing_*.yaml
--folds 5 --work-dir DIR``: each method's config (the same data, folds by climber, shared
skeletal encoder and training; only ``method`` and its own options differ) cross-validated
on the same 5 folds, and on those folds the baselines fitted in the same run: the training
mean, Pose + DCT + ridge and Pose + DCT + SVR (Pirsiavash et al. 2014). Prints every
method's pooled SRCC and MAE (s), those of their ensemble (the mean of every method's
held-out prediction of a run: no method chosen) and the ratio of each SRCC to DCT + SVR's; writes
bench/results/speed_climbing_methods.json. ``--seeds 1`` by default (one model per fold;
bench/speed_climbing.py reports HP-MCoRe's 3-seed ensemble). ``--work-dir`` keeps the
folders, so a rerun resumes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from posekit.io import write_json
from posekit.paths import shared_data
from posekit.training.cv import compare_configs

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("tsa", "core", "sapnet", "progressive", "decoupling")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 folds, 1 epoch")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--set", nargs="*", default=[], help="more config overrides, for every method")
    ap.add_argument("--work-dir", type=Path, help="keep the folders here (a rerun resumes)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "speed_climbing_methods.json")
    args = ap.parse_args(argv)
    root = shared_data("speed_climbing")
    if root is None:
        print("../shared/data/speed_climbing not found", file=sys.stderr)
        return 1
    configs = [ROOT / "configs" / "aqa" / "speed_climbing.yaml"]
    configs += [ROOT / "configs" / "aqa" / "methods" / f"speed_climbing_{m}.yaml" for m in METHODS]
    over = [f"data.root={root}", "train.progress=false", *args.set] + (["train.epochs=1"] if args.quick else [])
    folds = 2 if args.quick else args.folds
    with tempfile.TemporaryDirectory() as tmp:
        s = compare_configs(configs, folds, args.work_dir or Path(tmp), over, seeds=args.seeds)
    svr = s["baselines"]["dct_svr"]["srcc"]
    print(f"\npooled over {folds} folds by {s['group_by']} ({s['n']} runs), {args.seeds} seed(s) per fold:")
    rows = [*s["methods"].items(), (f"ensemble of the {len(s['methods'])}", s["ensemble"]), *s["baselines"].items()]
    for name, m in rows:
        label = f"{name} ({m['method']})" if "method" in m else name
        print(f"  {label:<42} SRCC {m['srcc']:.3f}  MAE {m['mae']:.3f} s  SRCC / DCT+SVR {m['srcc'] / svr:.3f}")
    best = max(s["methods"], key=lambda n: s["methods"][n]["srcc"])
    print(f"  best learned: {best} ({s['methods'][best]['method']}), ratio {s['methods'][best]['srcc'] / svr:.3f}")
    s.pop("plot", None)
    write_json(args.out, {**s, "overrides": over, "best": best})
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
