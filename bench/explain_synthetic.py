"""Are the explanations right? Checked against the synthetic benchmark's ground truth.

    python bench/explain_synthetic.py [--quick] [--checkpoint best.pth] [--n 10]
                                      [--baseline aligned|mean|exemplar] [--config C] [--set K=V ...]

Trains the fused model of ``--config`` (default configs/aqa/synthetic_moddrop.yaml: 40
epochs, body-centred skeletons, modality dropout; or loads ``--checkpoint`` trained with it),
then generates dives with exactly one injected flaw each (severity 0.7-1), explains each one
with integrated gradients against its 10 same-dive-number exemplars (``--baseline
aligned``, the default: their mean after stage-wise alignment onto the query's stages;
``mean``: their plain mean; ``exemplar``: the first one), and measures:

* model sensitivity - the model's score of the dive minus its score of the same dive
  generated without the flaw (a counterfactual), against the flaw's true cost. An
  explanation can only find a flaw the model reacts to: every figure below is given over
  all dives and over the "reacting" ones (model drop >= ``--min-sensitivity`` x true cost);
* joint hit rate - the 3 most negative joints of the flawed stage include a joint the flaw
  moves (skeleton flaws; the generator's ``penalties["moved_joints"]``, measured against the
  same dive without the flaw), against the chance rate of 3 random joints and against the
  same explanation of an untrained model (every layer re-initialised: what the baseline and
  the input difference alone would point at). Also reported: the hit rate against the body
  part the flaw acts on (``FLAWS[flaw]["joints"]``), which for the entry angle names the
  torso and head, mostly under water during the entry; and the same hit rate by occlusion
  (each joint replaced by the baseline over one stage, rescored: the model's own response,
  trained vs untrained);
* stage hit rate - the stage with the most negative attribution (skeleton + RGB) is the
  flawed stage, against chance 1/3 and the untrained model (also reported: the most negative of the model's own
  per-stage relative scores, eq. 20);
* splash - the RGB share of the entry stage's attribution for splash dives vs for dives
  with a skeleton flaw (and the entry-angle flaw: same stage, skeleton only);
* faithfulness - deletion curves: joints replaced by the baseline in attribution order vs
  in random order; the mean absolute score change over the curve (same samples, same run).

Writes bench/results/explain_synthetic.json (``_mean`` / ``_exemplar`` suffix for the other
baselines).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from math import comb
from pathlib import Path

import numpy as np
import torch

from posekit.explain import align_to_stages, explain
from posekit.io import write_json
from posekit.synthetic import FLAWS
from posekit.training import build_splits, load_checkpoint, load_config, model_from_checkpoint, run_training
from posekit.training.data import ExemplarQuery, prepare_skeleton, select_exemplars
from posekit.training.datasets import synthetic_generator
from posekit.training.pairs import item_tensors

ROOT = Path(__file__).resolve().parents[1]
J = (
    "r_ankle r_knee r_hip l_hip l_knee l_ankle pelvis thorax upper_neck head_top "
    "r_wrist r_elbow r_shoulder l_shoulder l_elbow l_wrist"
).split()


def tensors(dv, cfg) -> dict[str, torch.Tensor]:
    d = cfg["data"]
    return {
        "pose": torch.from_numpy(prepare_skeleton(dv.skeleton, d["num_frames"], d["center"], d["motion"])),
        "dynamic": torch.from_numpy(dv.dynamic),
        "static": torch.from_numpy(dv.static),
        "boundaries": torch.from_numpy(dv.boundaries),
        "target": torch.tensor(dv.score, dtype=torch.float32),
    }


@torch.no_grad()
def score_of(model, q, ex) -> float:
    """The model's score of one query against its exemplars (eq. 24)."""
    from posekit.explain import _inputs, _Scorer

    qb = {k: v.unsqueeze(0) for k, v in q.items()}
    b = model.encode(qb).predicted_boundaries[:1]
    return float(_Scorer(model, {k: torch.stack([e[k] for e in ex]) for k in ex[0]}, b)(*_inputs(model, qb)))


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


def untrained_copy(model, seed: int = 0) -> torch.nn.Module:
    """The same architecture with every layer re-initialised (Adebayo et al.'s model
    randomisation): a control for what an explanation finds without anything learned."""
    rnd = copy.deepcopy(model)
    torch.manual_seed(seed)
    for m in rnd.modules():
        if m is not rnd and hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return rnd.eval()


def summarise(rows: list[dict]) -> dict:
    """Hit rates, RGB shares and deletion areas over ``rows`` (printed, returned)."""
    if not rows:
        print("  (no dives)")
        return {"n": 0}
    sk_rows = [r for r in rows if "joint_hit" in r]
    out: dict = {"n": len(rows), "n_skeleton": len(sk_rows)}
    out["stage_hit"] = float(np.mean([r["stage_hit"] for r in rows]))
    out["stage_hit_model"] = float(np.mean([r["stage_hit_model"] for r in rows]))
    out["stage_hit_untrained"] = float(np.mean([r["stage_hit_untrained"] for r in rows]))
    if sk_rows:
        for k in (
            "joint_hit",
            "joint_chance",
            "joint_hit_untrained",
            "joint_hit_listed",
            "joint_chance_listed",
            "joint_hit_occlusion",
            "joint_hit_occlusion_untrained",
        ):
            out[k] = float(np.mean([r[k] for r in sk_rows]))
        out["deletion_attr"] = float(np.mean([r["deletion_attr"] for r in sk_rows]))
        out["deletion_random"] = float(np.mean([r["deletion_random"] for r in sk_rows]))
        print(
            f"joint hit rate (top-3 of the flawed stage) {out['joint_hit']:.2f} vs chance {out['joint_chance']:.2f} "
            f"(ratio {out['joint_hit'] / out['joint_chance']:.2f}) vs untrained model {out['joint_hit_untrained']:.2f} "
            f"(ratio {out['joint_hit'] / max(out['joint_hit_untrained'], 1e-12):.2f}), "
            f"{len(sk_rows)} skeleton-flaw dives"
        )
        print(
            f"  against the body part the flaw acts on (FLAWS joints): {out['joint_hit_listed']:.2f} "
            f"vs chance {out['joint_chance_listed']:.2f}"
        )
        print(
            f"  by occlusion: {out['joint_hit_occlusion']:.2f} vs untrained model "
            f"{out['joint_hit_occlusion_untrained']:.2f}"
        )
    print(
        f"stage hit rate {out['stage_hit']:.2f} vs chance 0.33 (ratio {out['stage_hit'] / (1 / 3):.2f}) "
        f"vs untrained model {out['stage_hit_untrained']:.2f}"
    )
    print(f"stage hit rate of the model's own stage scores (eq. 20) {out['stage_hit_model']:.2f} vs chance 0.33")
    share = {
        k: [r["rgb_share_entry"] for r in rows if sel(r)]
        for k, sel in (
            ("splash", lambda r: r["flaw"] == "splash"),
            ("entry_angle", lambda r: r["flaw"] == "entry_angle"),
            ("other", lambda r: r["flaw"] != "splash" and FLAWS[r["flaw"]]["joints"]),
        )
    }
    for k, v in share.items():
        out[f"rgb_share_entry_{k}"] = float(np.mean(v)) if v else None
    if share["splash"] and share["other"]:
        print(
            f"RGB share of the entry stage: splash dives {out['rgb_share_entry_splash']:.2f} vs skeleton-flaw dives "
            f"{out['rgb_share_entry_other']:.2f} "
            f"(ratio {out['rgb_share_entry_splash'] / max(out['rgb_share_entry_other'], 1e-12):.2f})"
            + (f", entry-angle dives {out['rgb_share_entry_entry_angle']:.2f}" if share["entry_angle"] else "")
        )
    if sk_rows:
        print(
            f"deletion: mean |score change| attribution order {out['deletion_attr']:.3f} vs random order "
            f"{out['deletion_random']:.3f} (ratio {out['deletion_attr'] / max(out['deletion_random'], 1e-12):.2f})"
        )
    out["per_flaw"] = {}
    for f in FLAWS:
        fr = [r for r in rows if r["flaw"] == f]
        if not fr:
            continue
        v = {"n": len(fr), "stage_hit": float(np.mean([r["stage_hit"] for r in fr]))}
        if FLAWS[f]["joints"]:
            for k in ("joint_hit", "joint_hit_untrained", "joint_hit_listed", "joint_hit_occlusion"):
                v[k] = float(np.mean([r[k] for r in fr]))
        out["per_flaw"][f] = v
        print(f"  {f:<12} " + " ".join(f"{k}={x:.2f}" if isinstance(x, float) else f"{k}={x}" for k, x in v.items()))
    return out


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument(
        "--config",
        type=Path,
        default=ROOT / "configs" / "aqa" / "synthetic_moddrop.yaml",
        help="the model trained (and how queries are prepared; give the one a --checkpoint was trained with)",
    )
    ap.add_argument("--epochs", type=int, help="default: the config's")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    ap.add_argument("--n", type=int, default=10, help="dives per flaw")
    ap.add_argument("--baseline", default="aligned", choices=["aligned", "mean", "exemplar"])
    ap.add_argument(
        "--min-sensitivity",
        type=float,
        default=0.25,
        help="a dive counts as 'reacting' when the model's counterfactual score drop is at least this "
        "fraction of the flaw's true cost",
    )
    ap.add_argument("--tag", default="", help="appended to the default output name (e.g. skeleton)")
    ap.add_argument("--out", type=Path, help="default bench/results/explain_synthetic[_BASELINE][_TAG].json")
    args = ap.parse_args(argv)
    if args.out is None:
        suffix = ("" if args.baseline == "aligned" else f"_{args.baseline}") + (f"_{args.tag}" if args.tag else "")
        args.out = ROOT / "bench" / "results" / f"explain_synthetic{suffix}{'_quick' if args.quick else ''}.json"
    return args


def _trained(args: argparse.Namespace):
    """The config and the model explained (trained here unless ``--checkpoint``)."""
    over = ["train.progress=false", *args.set]
    if args.quick or args.epochs:
        over.append(f"train.epochs={2 if args.quick else args.epochs}")
    if args.quick:
        over += ["data.synthetic.n_train=60", "data.synthetic.n_test=20", "model.dim=32"]
    cfg = load_config(args.config, over)
    if args.checkpoint:
        model = model_from_checkpoint(load_checkpoint(args.checkpoint))
    else:
        with tempfile.TemporaryDirectory() as work:
            s = run_training(cfg, work, overwrite=True)
            print(f"trained: test SRCC {s['metrics']['srcc']:.3f}")
            model = model_from_checkpoint(load_checkpoint(Path(work) / "best.pth"))
    model.eval()
    return cfg, model


def _joint_checks(row: dict, ctx: dict, f: str, spec: dict, dv, q, ex, e, e0) -> None:
    """The joint-level checks of one flawed dive (flaws that move joints)."""
    model, untrained, baseline, rng, k = ctx["model"], ctx["untrained"], ctx["baseline"], ctx["rng"], spec["stage"]
    top = [name for name, _v in e.top_joints(3, stage=k, sign="negative")]
    top0 = [name for name, _v in e0.top_joints(3, stage=k, sign="negative")]
    moved = dv.penalties["moved_joints"][f]
    row["moved_joints"], row["top3"], row["top3_untrained"] = moved, top, top0
    row["joint_hit"] = int(bool(set(top) & set(moved)))
    row["joint_hit_untrained"] = int(bool(set(top0) & set(moved)))
    row["joint_chance"] = 1 - comb(16 - len(moved), 3) / comb(16, 3)
    row["joint_hit_listed"] = int(bool(set(top) & set(spec["joints"])))
    for tag, m in (("occlusion", model), ("occlusion_untrained", untrained)):
        o = explain(m, q, ex, attribution="occlusion", baseline=baseline)
        top_o = [name for name, _v in o.top_joints(3, stage=k, sign="negative")]
        row[f"joint_hit_{tag}"] = int(bool(set(top_o) & set(moved)))
    row["joint_chance_listed"] = 1 - comb(16 - len(spec["joints"]), 3) / comb(16, 3)
    base_pose = baseline_pose(model, q, ex, baseline)
    pj = np.abs(e.per_joint())
    ordered = deletion_area(model, q, ex, list(np.argsort(-pj)), base_pose)
    rand = np.mean([deletion_area(model, q, ex, list(rng.permutation(16)), base_pose) for _ in range(3)])
    row["deletion_attr"], row["deletion_random"] = ordered, float(rand)


def _stage_total(e) -> np.ndarray:
    return e.per_stage() + np.asarray(e.rgb.get("per_stage", [0.0] * 3))


def _dive_row(ctx: dict, f: str, spec: dict, i: int) -> dict:
    """Explain one generated dive with flaw ``f`` (and its flawless twin): the checks' row."""
    cfg, model, untrained, rng, gen = ctx["cfg"], ctx["model"], ctx["untrained"], ctx["rng"], ctx["gen"]
    dn = f"10{rng.choice(['3', '5', '7'])}{rng.choice(['A', 'B'] if f == 'bent_knees' else ['A', 'B', 'C'])}"
    index = 50_000 + 100 * list(FLAWS).index(f) + i
    dv = gen.dive(index, seed=777, flaws={f: float(rng.uniform(0.7, 1.0))}, dive_number=dn)
    clean = gen.dive(index, seed=777, flaws={}, dive_number=dn)  # the same dive without the flaw
    keys = select_exemplars([ExemplarQuery(("q", f, i), dn)], ctx["pool"], cfg, 10)[0]
    ex = [item_tensors(ctx["by"][k], False) for k in keys]
    q = tensors(dv, cfg)
    e = explain(model, q, ex, baseline=ctx["baseline"], n_steps=24)
    e0 = explain(untrained, q, ex, baseline=ctx["baseline"], n_steps=24)
    k = spec["stage"]
    rgb_entry = abs(e.rgb["per_stage"][2]) if e.rgb else 0.0
    sk_entry = abs(e.per_stage()[2])
    row = {
        "flaw": f,
        "dive_number": dn,
        "severity": dv.flaws[f],
        "pred": e.score,
        "true": dv.score,
        "stage_hit": int(np.argmin(_stage_total(e)) == k),
        "stage_hit_untrained": int(np.argmin(_stage_total(e0)) == k),
        "stage_hit_model": int(np.argmin(e.stage_deltas) == k),
        "rgb_share_entry": rgb_entry / max(rgb_entry + sk_entry, 1e-12),
        "model_drop": e.score - score_of(model, tensors(clean, cfg), ex),
        "true_drop": dv.true_score - clean.true_score,
    }
    if spec["joints"]:
        _joint_checks(row, ctx, f, spec, dv, q, ex, e, e0)
    return row


def _report(rows: list[dict], args: argparse.Namespace) -> dict:
    """Print and return the summaries (all dives, the dives the model reacts to, sensitivity)."""
    result: dict = {"baseline": args.baseline, "min_sensitivity": args.min_sensitivity}
    reacting = [r for r in rows if r["model_drop"] <= args.min_sensitivity * r["true_drop"]]
    for name, part in (("all", rows), ("reacting", reacting)):
        print(
            f"\n== {name}: {len(part)} dives"
            + (
                ""
                if name == "all"
                else f" where the model's score drops by >= {args.min_sensitivity:.0%} of the flaw's true cost "
                "(counterfactual: the same dive without the flaw)"
            )
        )
        result[name] = summarise(part)
    result["sensitivity"] = {
        f: {
            "model_drop": float(np.mean([r["model_drop"] for r in rows if r["flaw"] == f])),
            "true_drop": float(np.mean([r["true_drop"] for r in rows if r["flaw"] == f])),
            "reacting": float(np.mean([r in reacting for r in rows if r["flaw"] == f])),
        }
        for f in FLAWS
    }
    print("\nmodel sensitivity (score change when the flaw is injected; counterfactual vs the true cost):")
    for f, v in result["sensitivity"].items():
        print(
            f"  {f:<12} model {v['model_drop']:+.2f} vs true {v['true_drop']:+.2f} points "
            f"(ratio {v['model_drop'] / min(v['true_drop'], -1e-12):.2f}); reacting in {v['reacting']:.0%}"
        )
    result["rows"] = rows
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cfg, model = _trained(args)
    untrained = untrained_copy(model, cfg["seed"])
    pool = build_splits(cfg).train
    gen = synthetic_generator(cfg["data"])  # the generator the config trains on
    ctx = {
        "cfg": cfg,
        "model": model,
        "untrained": untrained,
        "pool": pool,
        "by": {it.key: it for it in pool},
        "gen": gen,
        "rng": np.random.default_rng(123),
        "baseline": args.baseline,
    }
    n = 3 if args.quick else args.n
    rows = []
    for f, spec in FLAWS.items():
        for i in range(n):
            rows.append(_dive_row(ctx, f, spec, i))
        print(f"{f}: done {n}", flush=True)
    write_json(args.out, _report(rows, args))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
