"""Are the explanations right? Checked against the synthetic benchmark's ground truth.

    python bench/explain_synthetic.py [--quick] [--checkpoint best.pth] [--n 10]

Trains the fused model of configs/aqa/synthetic.yaml (or loads ``--checkpoint``), then
generates dives with exactly one injected flaw each (severity 0.7-1), explains each one
with integrated gradients against its 10 same-dive-number exemplars (baseline: their mean;
``--baseline aligned``: their mean after stage-wise alignment onto the query's stages), and
measures:

* joint hit rate - the 3 most negative joints of the flawed stage include a joint the flaw
  moves (skeleton flaws), against the chance rate of 3 random joints;
* stage hit rate - the stage with the most negative attribution (skeleton + RGB) is the
  flawed stage, against chance 1/3 (also reported: the most negative of the model's own
  per-stage relative scores, eq. 20);
* splash - the RGB share of the entry stage's attribution for splash dives vs for dives
  with the entry-angle flaw (same stage, skeleton only) and vs all skeleton flaws;
* faithfulness - deletion curves: joints replaced by the baseline in attribution order vs
  in random order; the mean absolute score change over the curve (same samples, same run).

Writes bench/results/explain_synthetic.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from math import comb
from pathlib import Path

import numpy as np
import torch

from posekit.datasets.exemplars import ExemplarSampler
from posekit.explain import align_to_stages, explain
from posekit.io import write_json
from posekit.synthetic import FLAWS, DiveGenerator
from posekit.training import build_splits, load_checkpoint, load_config, model_from_checkpoint, run_training
from posekit.training.data import item_tensors, prepare_skeleton

ROOT = Path(__file__).resolve().parents[1]
J = (
    "r_ankle r_knee r_hip l_hip l_knee l_ankle pelvis thorax upper_neck head_top "
    "r_wrist r_elbow r_shoulder l_shoulder l_elbow l_wrist"
).split()


def tensors(dv, cfg) -> dict[str, torch.Tensor]:
    d = cfg["data"]
    return {
        "pose": torch.from_numpy(prepare_skeleton(dv.skeleton, d["T"], d["center"])),
        "dynamic": torch.from_numpy(dv.dynamic),
        "static": torch.from_numpy(dv.static),
        "boundaries": torch.from_numpy(dv.boundaries),
        "target": torch.tensor(dv.score, dtype=torch.float32),
    }


@torch.no_grad()
def deletion_area(model, q, ex, order: list[int], base_pose: torch.Tensor) -> float:
    """Mean |score change| while joints are replaced by the baseline one after another."""
    from posekit.explain import _inputs, _Scorer

    qb = {k: v.unsqueeze(0) for k, v in q.items()}
    b = model.encode(qb).predicted_boundaries[:1]
    scorer = _Scorer(model, {k: torch.stack([e[k] for e in ex]) for k in ex[0]}, b)
    pose, dyn, st = _inputs(model, qb)
    s0 = float(scorer(pose, dyn, st))
    cur = pose.clone()
    variants = []
    for j in order:
        cur = cur.clone()
        cur[0, :, :, j] = base_pose[:, :, j]
        variants.append(cur)
    P = torch.cat(variants)
    s = scorer(P, dyn.expand(len(order), *dyn.shape[1:]), st.expand(len(order), *st.shape[1:]))
    return float(np.mean(np.abs(s.numpy() - s0)))


@torch.no_grad()
def baseline_pose(model, q, ex, kind: str) -> torch.Tensor:
    """The skeleton baseline ``(C, T, V)`` the explanation used."""
    poses = torch.stack([t["pose"] for t in ex])
    if kind == "exemplar":
        return poses[0]
    if kind == "aligned":
        qb = model.encode({k: v.unsqueeze(0) for k, v in q.items()}).predicted_boundaries
        eb = model.encode({k: torch.stack([t[k] for t in ex]) for k in ex[0]}).predicted_boundaries
        poses = align_to_stages(poses, eb, qb, model.cfg.T, time_dim=2)
    return poses.mean(0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--n", type=int, default=10, help="dives per flaw")
    ap.add_argument("--baseline", default="aligned", choices=["aligned", "mean", "exemplar"])
    ap.add_argument("--out", type=Path, help="default bench/results/explain_synthetic[_BASELINE].json")
    args = ap.parse_args(argv)
    over = ["train.progress=false", f"train.epochs={2 if args.quick else args.epochs}"]
    if args.quick:
        over += ["data.synthetic.n_train=60", "data.synthetic.n_test=20", "model.dim=32"]
    cfg = load_config(ROOT / "configs" / "aqa" / "synthetic.yaml", over)
    if args.checkpoint:
        model = model_from_checkpoint(load_checkpoint(args.checkpoint))
    else:
        with tempfile.TemporaryDirectory() as work:
            s = run_training(cfg, work)
            print(f"trained: test SRCC {s['metrics']['srcc']:.3f}")
            model = model_from_checkpoint(load_checkpoint(Path(work) / "best.pth"))
    model.eval()
    splits = build_splits(cfg)
    pool = splits.train
    sampler = ExemplarSampler([it.key for it in pool], {it.key: it.group for it in pool}, cfg["seed"])
    by = {it.key: it for it in pool}
    sc = cfg["data"]["synthetic"]
    gen = DiveGenerator(
        T=cfg["data"]["T"], num_clips=sc["num_clips"], static_dim=sc["feature_dim"], dynamic_dim=sc["feature_dim"]
    )
    n = 3 if args.quick else args.n
    rng = np.random.default_rng(123)
    rows = []
    for f, spec in FLAWS.items():
        for i in range(n):
            dn = f"10{rng.choice(['3', '5', '7'])}{rng.choice(['A', 'B'] if f == 'bent_knees' else ['A', 'B', 'C'])}"
            dv = gen.dive(
                50_000 + 100 * list(FLAWS).index(f) + i,
                seed=777,
                flaws={f: float(rng.uniform(0.7, 1.0))},
                dive_number=dn,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                keys = sampler.test_exemplars(("q", f, i), 10, dive_number=dn)
            ex = [item_tensors(by[k], False) for k in keys]
            q = tensors(dv, cfg)
            e = explain(model, q, ex, baseline=args.baseline, n_steps=24)
            k = spec["stage"]
            stage_total = e.per_stage() + np.asarray(e.rgb.get("per_stage", [0.0] * 3))
            rgb_entry = abs(e.rgb["per_stage"][2]) if e.rgb else 0.0
            sk_entry = abs(e.per_stage()[2])
            row = {
                "flaw": f,
                "dive_number": dn,
                "severity": dv.flaws[f],
                "pred": e.score,
                "true": dv.score,
                "stage_hit": int(np.argmin(stage_total) == k),
                "stage_hit_model": int(np.argmin(e.stage_deltas) == k),
                "rgb_share_entry": rgb_entry / max(rgb_entry + sk_entry, 1e-12),
            }
            if spec["joints"]:
                top = [name for name, _v in e.top_joints(3, stage=k, sign="negative")]
                row["joint_hit"] = int(bool(set(top) & set(spec["joints"])))
                row["top3"] = top
                base_pose = baseline_pose(model, q, ex, args.baseline)
                pj = np.abs(e.per_joint())
                ordered = deletion_area(model, q, ex, list(np.argsort(-pj)), base_pose)
                rand = np.mean([deletion_area(model, q, ex, list(rng.permutation(16)), base_pose) for _ in range(3)])
                row["deletion_attr"], row["deletion_random"] = ordered, float(rand)
            rows.append(row)
        print(f"{f}: done {n}", flush=True)
    sk_rows = [r for r in rows if "joint_hit" in r]
    joint_hit = float(np.mean([r["joint_hit"] for r in sk_rows]))
    chance = float(np.mean([1 - comb(16 - len(FLAWS[r["flaw"]]["joints"]), 3) / comb(16, 3) for r in sk_rows]))
    stage_hit = float(np.mean([r["stage_hit"] for r in rows]))
    stage_hit_model = float(np.mean([r["stage_hit_model"] for r in rows]))
    entry_angle = float(np.mean([r["rgb_share_entry"] for r in rows if r["flaw"] == "entry_angle"]))
    splash = float(np.mean([r["rgb_share_entry"] for r in rows if r["flaw"] == "splash"]))
    other = float(np.mean([r["rgb_share_entry"] for r in rows if r["flaw"] != "splash" and FLAWS[r["flaw"]]["joints"]]))
    d_attr = float(np.mean([r["deletion_attr"] for r in sk_rows]))
    d_rand = float(np.mean([r["deletion_random"] for r in sk_rows]))
    per_flaw = {
        f: {
            "stage_hit": float(np.mean([r["stage_hit"] for r in rows if r["flaw"] == f])),
            "stage_hit_model": float(np.mean([r["stage_hit_model"] for r in rows if r["flaw"] == f])),
            **(
                {"joint_hit": float(np.mean([r["joint_hit"] for r in rows if r["flaw"] == f]))}
                if FLAWS[f]["joints"]
                else {}
            ),
        }
        for f in FLAWS
    }
    print(
        f"\njoint hit rate (top-3 of the flawed stage) {joint_hit:.2f} vs chance {chance:.2f} "
        f"(ratio {joint_hit / chance:.2f})"
    )
    print(f"stage hit rate {stage_hit:.2f} vs chance 0.33 (ratio {stage_hit / (1 / 3):.2f})")
    print(f"stage hit rate of the model's own stage scores (eq. 20) {stage_hit_model:.2f} vs chance 0.33")
    print(
        f"RGB share of the entry stage: splash dives {splash:.2f} vs entry-angle dives {entry_angle:.2f} "
        f"(ratio {splash / max(entry_angle, 1e-12):.2f}), vs all skeleton-flaw dives {other:.2f} "
        f"(ratio {splash / max(other, 1e-12):.2f})"
    )
    print(
        f"deletion: mean |score change| attribution order {d_attr:.3f} vs random order {d_rand:.3f} "
        f"(ratio {d_attr / max(d_rand, 1e-12):.2f})"
    )
    for f, v in per_flaw.items():
        print(f"  {f:<12} " + " ".join(f"{k}={x:.2f}" for k, x in v.items()))
    write_json(
        args.out,
        {
            "joint_hit": joint_hit,
            "joint_chance": chance,
            "stage_hit": stage_hit,
            "stage_hit_model": stage_hit_model,
            "baseline": args.baseline,
            "rgb_share_entry_splash": splash,
            "rgb_share_entry_entry_angle": entry_angle,
            "rgb_share_entry_other": other,
            "deletion_attr": d_attr,
            "deletion_random": d_rand,
            "per_flaw": per_flaw,
            "rows": rows,
        },
    )
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
