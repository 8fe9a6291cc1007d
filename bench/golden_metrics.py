"""Reproduce the published FineDiving metrics from the released predictions.

    python bench/golden_metrics.py

Prints, for TSA and MCoRe, posekit's SRCC / R-l2 x100 / MSE, the value in expected.json and
their ratio, plus the same metrics for a baseline measured in the same run: the model's own
predictions shuffled across dives (what a model with no per-dive information would score).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from posekit import metrics
from posekit.io import write_json
from posekit.paths import shared_data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="(no effect: this bench is already quick)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "golden_metrics.json")
    args = ap.parse_args(argv)
    gm = shared_data("golden_metrics")
    if gm is None:
        print("golden_metrics: ../shared/data/golden_metrics not found", file=sys.stderr)
        return 1
    expected = json.loads((gm / "expected.json").read_text())
    rng = np.random.default_rng(args.seed)
    results = {}
    print(f"{'model':8s} {'metric':10s} {'posekit':>10s} {'expected':>10s} {'ratio':>9s} {'shuffled':>10s}")
    for model in ("tsa", "mcore"):
        pred = np.load(gm / f"{model}_finediving_pred.npy")
        true = np.load(gm / f"{model}_finediving_true.npy")
        ours = metrics.score_metrics(pred, true)
        shuffled = metrics.score_metrics(rng.permutation(pred), true)
        exp = expected[f"{model}_finediving"]
        results[model] = {"posekit": ours, "expected": {k: exp[k] for k in ours}, "shuffled_baseline": shuffled}
        for k in ("srcc", "r_l2_x100", "mse"):
            print(f"{model:8s} {k:10s} {ours[k]:10.6f} {exp[k]:10.6f} {ours[k] / exp[k]:9.6f} {shuffled[k]:10.4f}")
    write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
