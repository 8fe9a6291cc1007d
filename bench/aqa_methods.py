"""All AQA methods on the same data, splits, seeds and epochs: one comparison table.

    python bench/aqa_methods.py [--quick] [--epochs 15] [--seeds 0] [--folds 0 1 2 3 4]
                                [--only synthetic|speed|semi]

1. Synthetic diving benchmark (configs/aqa/synthetic.yaml data): HP-MCoRe (the reference
   row), TSA, TSA-dagger (ground-truth transitions), CoRe, SAP-Net (all labels),
   progressive sub-action regression (chain / all-previous), score decoupling: test SRCC,
   R-l2 x100, AIoU@0.5/0.75 where a method segments, training seconds.
2. SPEED21 speed climbing (configs/aqa/speed_climbing.yaml data: skeleton only, 64 frames,
   K = 1, k-fold by climber; ``--folds`` picks which of the 5 folds run): pooled SRCC and
   MAE (seconds) over the folds run.
3. Semi-supervised: SAP-Net with 10 / 20 / 40 % of the synthetic training scores (the rest
   unlabelled) vs the same network trained on the same labelled clips only (no unlabelled
   clips, no parsing / consistency / group-contrastive terms), for the same number of epochs
   and for the same number of optimiser steps (the fairer baseline: an epoch over 10 % of
   the clips is a tenth of the updates).

Every method trains with the shared trainer; ratios are against HP-MCoRe (1, 2) and the
supervised-only run (3) of the same run. Writes bench/results/aqa_methods.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io import write_json
from posekit.metrics import score_metrics
from posekit.paths import find_shared
from posekit.training import build_splits, load_config, run_training

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "configs" / "aqa"
SYNTH = [
    ("HP-MCoRe (reference)", CFG / "synthetic.yaml", []),
    ("TSA", CFG / "methods" / "tsa.yaml", []),
    ("TSA-dagger (GT transitions)", CFG / "methods" / "tsa_oracle.yaml", []),
    ("CoRe", CFG / "methods" / "core.yaml", []),
    ("SAP-Net (all labels)", CFG / "methods" / "sapnet.yaml", ["data.labelled_fraction=1.0"]),
    ("progressive (chain)", CFG / "methods" / "progressive.yaml", []),
    ("progressive (all previous)", CFG / "methods" / "progressive_all.yaml", []),
    ("score decoupling", CFG / "methods" / "decoupling.yaml", []),
]
SPEED_DATA = [
    "data.kind=speed_climbing",
    "data.num_frames=64",
    "data.K=1",
    "data.center=sequence",
    "data.dynamic_dir=null",
    "data.static_dir=null",
    "data.use_dn=false",
    "data.augment={flip: 0.5, scale: 0.1, rotate: 10}",
    "model.dve=false",
    "model.sve=false",
    "model.dim=32",
    "model.mlp_hidden=32",
    "model.dropout=0.2",
    "train.lr=0.001",
    "train.weight_decay=0.001",
]


def train(path: Path, over: list[str]) -> dict[str, Any]:
    cfg = load_config(path, over)
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        s = run_training(cfg, work, overwrite=True)
        s["train_seconds"] = time.perf_counter() - t0
        import csv

        rows = list(csv.DictReader(open(Path(work) / "predictions_test.csv")))
        s["pred"] = [float(r["pred"]) for r in rows]
        s["true"] = [float(r["true"]) for r in rows]
    return s


def fmt(x: float | None, nd: int = 3) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def synthetic(args, common: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name, path, extra in SYNTH:
        per = [train(path, [*common, *extra, f"seed={s}"]) for s in args.seeds]
        m = {k: float(np.mean([p["metrics"].get(k, np.nan) for p in per])) for k in per[0]["metrics"]}
        rows.append({"method": name, "metrics": m, "seconds": float(np.mean([p["train_seconds"] for p in per]))})
        print(f"  {name:<30} SRCC {fmt(m['srcc'])}  R-l2x100 {fmt(m['r_l2_x100'])}", flush=True)
    return rows


def speed(args, common: list[str], root: Path) -> list[dict[str, Any]]:
    rows = []
    for name, path, extra in SYNTH:
        if "dagger" in name:
            continue  # SPEED21 has no stage labels
        over_model = [] if path.name == "synthetic.yaml" else SPEED_DATA
        base = CFG / "speed_climbing.yaml" if path.name == "synthetic.yaml" else path
        pred, true = [], []
        secs = 0.0
        for f in args.folds:
            s = train(
                base,
                [*common, *over_model, *extra, f"data.root={root}", "data.folds=5", f"data.fold={f}", "seed=0"]
                + (["data.labelled_fraction=1.0"] if "SAP" in name else []),
            )
            pred += s["pred"]
            true += s["true"]
            secs += s["train_seconds"]
        m = score_metrics(np.array(pred), np.array(true))
        m["mae_s"] = float(np.mean(np.abs(np.array(pred) - np.array(true))))
        rows.append({"method": name.replace(" (reference)", ""), "metrics": m, "seconds": secs})
        print(f"  {name:<30} SRCC {fmt(m['srcc'])}  MAE {fmt(m['mae_s'])} s", flush=True)
    return rows


def semi(args, common: list[str]) -> list[dict[str, Any]]:
    """SAP-Net vs the same network on the labelled clips only - for the same number of epochs,
    and for the same number of optimiser steps (epochs scaled by all / labelled clips)."""
    rows = []
    for frac in args.fractions:
        r: dict[str, Any] = {"labelled": frac}
        over = [*common, f"data.labelled_fraction={frac}", "seed=0"]
        r["sapnet"] = train(CFG / "methods" / "sapnet.yaml", over)["metrics"]
        sup = CFG / "methods" / "sapnet_supervised.yaml"
        r["supervised"] = train(sup, over)["metrics"]
        info = build_splits(load_config(sup, over)).info
        scale = (info["n_train"] + info["n_unlabelled"]) / info["n_train"]
        epochs = int(round(scale * (2 if args.quick else args.epochs)))
        r["supervised_same_steps"] = train(sup, [*over, f"train.epochs={epochs}"])["metrics"]
        r["supervised_same_steps_epochs"] = epochs
        rows.append(r)
        print(
            f"  {frac:.0%} labels: SAP-Net SRCC {fmt(r['sapnet']['srcc'])} vs supervised-only "
            f"{fmt(r['supervised']['srcc'])} (same epochs), {fmt(r['supervised_same_steps']['srcc'])} "
            f"(same steps, {epochs} epochs)",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.2, 0.4])
    ap.add_argument("--only", choices=["synthetic", "speed", "semi"], nargs="+")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "aqa_methods.json")
    args = ap.parse_args(argv)
    common = ["train.progress=false", f"train.epochs={2 if args.quick else args.epochs}"]
    if args.quick:
        common += ["data.synthetic.n_train=40", "data.synthetic.n_test=20", "model.dim=16"]
        args.folds, args.fractions = [0], [0.4]
    todo = args.only or ["synthetic", "speed", "semi"]
    out: dict[str, Any] = {"epochs": args.epochs, "seeds": args.seeds, "folds": args.folds}
    if "synthetic" in todo:
        print("synthetic diving benchmark", flush=True)
        out["synthetic"] = synthetic(args, common)
    if "speed" in todo:
        shared = find_shared()
        if shared is None:
            print("SPEED21: ../shared/data not found, skipped")
        else:
            print(f"SPEED21 speed climbing (folds {args.folds} of 5)", flush=True)
            sc = [c for c in common if c.startswith("train.")]
            out["speed"] = speed(args, sc, shared / "data" / "speed_climbing")
    if "semi" in todo:
        print("semi-supervised SAP-Net vs supervised-only", flush=True)
        out["semi"] = semi(args, common)
    # the table, with ratios against the reference rows of this run
    for part, key in (("synthetic", "r_l2_x100"), ("speed", "mae_s")):
        if part not in out:
            continue
        ref = out[part][0]["metrics"]
        print(f"\n{part}: method | SRCC | {key} | AIoU@0.5 | AIoU@0.75 | SRCC / HP-MCoRe")
        for r in out[part]:
            m = r["metrics"]
            print(
                f"  {r['method']:<30} | {fmt(m['srcc'])} | {fmt(m[key])} | {fmt(m.get('aiou@0.5'), 2)} | "
                f"{fmt(m.get('aiou@0.75'), 2)} | {fmt(m['srcc'] / ref['srcc'])}"
            )
    if "semi" in out:
        print("\nsemi: labelled | SAP-Net SRCC | supervised-only same epochs | same steps | ratio to same steps")
        for r in out["semi"]:
            a, b, c = r["sapnet"]["srcc"], r["supervised"]["srcc"], r["supervised_same_steps"]["srcc"]
            print(f"  {r['labelled']:.0%} | {fmt(a)} | {fmt(b)} | {fmt(c)} | {fmt(a / c)}")
    write_json(args.out, out)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
