"""Stage segmentation when stage durations vary widely: learned segmenter vs the mean
boundaries, with and without the training stages' prior in the decode.

    python bench/segmentation_prior.py [--quick] [--epochs N] [--train N]

Generated dives (posekit.synthetic) whose take-off takes 10-45 % of the clip and whose
entry takes 8-40 % (the default generator: 20-32 % and 16-26 %), so the mean boundaries are
a weak guess. HP-MCoRe (skeleton only, segmentation on the skeleton stream) is trained
once; its test clips are decoded without the prior (``model.seg_prior = 0``), with it at
weight 1, and as the trainer left it (the weight chosen on the validation clips, the
default). The baseline measured in the same run is the mean training boundaries for every
test clip. Prints per-stage IoU and the ratio to the baseline; writes
bench/results/segmentation_prior.json.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from posekit.io import write_json
from posekit.metrics import stage_iou
from posekit.training import build_splits, load_checkpoint, load_config, model_from_checkpoint, run_training
from posekit.training.trainer import evaluate_items

ROOT = Path(__file__).resolve().parents[1]
WIDE = "[[0.10, 0.45], [0.08, 0.40]]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="60 training dives, 3 epochs")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--train", type=int, default=120, help="training dives (a small dataset)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "segmentation_prior.json")
    args = ap.parse_args(argv)
    n_train, epochs = (60, 3) if args.quick else (args.train, args.epochs)
    over = [
        f"data.synthetic.stage_fractions={WIDE}",
        f"data.synthetic.n_train={n_train}",
        "data.synthetic.n_test=80",
        "model.dve=false",
        "model.sve=false",
        "model.dim=32",
        f"train.epochs={epochs}",
        "train.progress=false",
    ]
    cfg = load_config(ROOT / "configs" / "aqa" / "synthetic.yaml", over)
    splits = build_splits(cfg)
    T = int(cfg["data"]["num_frames"])
    true = np.stack([it.boundaries for it in splits.test])
    mean_b = np.round(np.mean([it.boundaries for it in splits.train + splits.val], axis=0)).astype(np.int64)
    rows = {"mean boundaries (baseline)": stage_iou(np.tile(mean_b, (len(true), 1)), true, T).mean(0)}
    with tempfile.TemporaryDirectory() as work:
        run_training(cfg, work, overwrite=True)
        model = model_from_checkpoint(load_checkpoint(Path(work) / "best.pth"))
    chosen = model.cfg.seg_prior  # selected on the validation clips by the trainer
    for weight, name in (
        (0.0, "learned, no prior"),
        (1.0, "learned + prior (weight 1)"),
        (chosen, "as trained (default)"),
    ):
        model.cfg.seg_prior = weight
        pb = evaluate_items(model, splits.test, splits.train, cfg, 1)["pred_boundaries"]
        rows[name] = stage_iou(pb, true, T).mean(0)
    base = rows["mean boundaries (baseline)"]
    print(f"{len(true)} test dives, {n_train} training dives, {epochs} epochs, prior weight chosen {chosen}")
    print("per-stage IoU (ratio to baseline)")
    for name, v in rows.items():
        cells = "  ".join(
            f"{s} {x:.3f} ({x / b:.2f}x)" for s, x, b in zip(("take-off", "flight", "entry"), v, base, strict=True)
        )
        print(f"  {name:<28} {cells}")
    write_json(
        args.out,
        {
            "n_train": n_train,
            "epochs": epochs,
            "chosen_weight": chosen,
            "stage_iou": {k: v.tolist() for k, v in rows.items()},
        },
    )
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
