"""Does the fused model see the skeleton flaws? Body-centring and modality dropout.

    python bench/aqa_moddrop.py [--quick] [--epochs 40] [--seed 0] [--n 8]

Trains the fused HP-MCoRe model on the generated diving benchmark four ways, same data,
seed and epochs: configs/aqa/synthetic.yaml as it is (the baseline: per-frame root-centred
skeletons), with body-centred skeletons (``data.center=body``: spine up), body-centred with
the orientation kept at the root joint (``body_oriented``), and that plus modality dropout
(configs/aqa/synthetic_moddrop.yaml: ``data.augment.drop_rgb=0.4``, ``drop_pose=0.1``).
For each: test SRCC and R-l2 x100, and the model's sensitivity to each injected flaw - its
score of a dive with one flaw (severity 0.7-1) minus its score of the
same dive generated without it, over the flaw's true cost (1 = the model charges the whole
deduction, 0 = it does not see the flaw). Ratios are against the baseline of the same run.
Writes bench/results/aqa_moddrop.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io import write_json
from posekit.synthetic import FLAWS
from posekit.training import build_splits, load_checkpoint, load_config, model_from_checkpoint, run_training
from posekit.training.data import ExemplarQuery, select_exemplars
from posekit.training.datasets import synthetic_generator
from posekit.training.pairs import item_tensors

sys.path.insert(0, str(Path(__file__).resolve().parent))
from explain_synthetic import score_of, tensors  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SYN = ROOT / "configs" / "aqa" / "synthetic.yaml"
VARIANTS: list[tuple[str, Path, list[str]]] = [
    ("frame-centred (baseline)", SYN, []),
    ("body-centred", SYN, ["data.center=body"]),
    ("body-centred, oriented root", SYN, ["data.center=body_oriented"]),
    ("oriented + ModDrop", ROOT / "configs" / "aqa" / "synthetic_moddrop.yaml", []),
]


def sensitivity(model, cfg: dict[str, Any], n: int) -> dict[str, float]:
    """Mean counterfactual score drop / true cost per flaw over ``n`` generated dives each."""
    pool = build_splits(cfg).train
    by = {it.key: it for it in pool}
    gen = synthetic_generator(cfg["data"])  # the generator the config trains on
    rng = np.random.default_rng(123)
    out = {}
    for f in FLAWS:
        drops, costs = [], []
        for i in range(n):
            dn = f"10{rng.choice(['3', '5', '7'])}{rng.choice(['A', 'B'] if f == 'bent_knees' else ['A', 'B', 'C'])}"
            index = 60_000 + 100 * list(FLAWS).index(f) + i
            dv = gen.dive(index, seed=778, flaws={f: float(rng.uniform(0.7, 1.0))}, dive_number=dn)
            clean = gen.dive(index, seed=778, flaws={}, dive_number=dn)
            keys = select_exemplars([ExemplarQuery(("s", f, i), dn)], pool, cfg, 10)[0]
            ex = [item_tensors(by[k], False) for k in keys]
            drops.append(score_of(model, tensors(dv, cfg), ex) - score_of(model, tensors(clean, cfg), ex))
            costs.append(dv.true_score - clean.true_score)
        out[f] = float(np.mean(drops) / np.mean(costs))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=8, help="dives per flaw for the sensitivity")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "aqa_moddrop.json")
    args = ap.parse_args(argv)
    common = ["train.progress=false", f"train.epochs={2 if args.quick else args.epochs}", f"seed={args.seed}"]
    if args.quick:
        common += ["data.synthetic.n_train=60", "data.synthetic.n_test=20", "model.dim=16"]
    rows = []
    for name, path, extra in VARIANTS:
        cfg = load_config(path, [*extra, *common])
        with tempfile.TemporaryDirectory() as work:
            s = run_training(cfg, work, overwrite=True)
            model = model_from_checkpoint(load_checkpoint(Path(work) / "best.pth")).eval()
        sens = sensitivity(model, cfg, 2 if args.quick else args.n)
        rows.append({"variant": name, "metrics": s["metrics"], "sensitivity": sens})
        print(
            f"  {name:<26} SRCC {s['metrics']['srcc']:.3f}  R-l2x100 {s['metrics']['r_l2_x100']:.3f}  "
            + " ".join(f"{f}={v:.2f}" for f, v in sens.items()),
            flush=True,
        )
    ref = rows[0]
    print("\nvariant | SRCC | R-l2 x100 | SRCC / baseline | sensitivity per flaw (model drop / true cost)")
    for r in rows:
        m = r["metrics"]
        ratio = m["srcc"] / ref["metrics"]["srcc"]
        print(
            f"  {r['variant']:<26} | {m['srcc']:.3f} | {m['r_l2_x100']:.3f} | {ratio:.3f} | "
            + " ".join(f"{f} {v:.2f}" for f, v in r["sensitivity"].items())
        )
    write_json(args.out, {"epochs": args.epochs, "seed": args.seed, "rows": rows})
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
