"""``posekit demo``: the toolkit end to end on embedded defaults.

It shows the foundation - skeleton layouts and their hierarchy, the skeleton
data model on a real sequence (SPEED21 speed climbing from ``../shared`` when present, a
generated somersault otherwise), FineDiving annotations turned into stage boundaries, and
the AQA metrics on the predictions released with two published FineDiving models (or on
generated scores without ``../shared``) - and job 1: the athlete's skeleton extracted from
the real broadcast dive in ``../shared`` (or from a clip generated from scikit-image's
photographs of people), with an overlay GIF and a QC report - and job 2: a small fused
HP-MCoRe model trained on generated dives (:mod:`posekit.synthetic`), with its test metrics
and plots - and job 3: one of its predictions explained (integrated gradients: the joints,
frames and stages that moved the score, as JSON and pictures). Everything lands under
``--out`` with a JSON report; the paths are printed at the end.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from graphs import available_layouts, build_hierarchy
from posekit import metrics, viz
from posekit.datasets import FineDiving, SpeedClimbing
from posekit.io import write_json
from posekit.paths import shared_data
from posekit.skeleton import SkeletonSequence

# A standing MPII-16 pose (image coordinates, y down, about 1.7 units tall), used only to
# generate a sequence when no real skeletons are available.
_STANDING = np.array(
    [
        [-0.12, 0.85],
        [-0.11, 0.45],
        [-0.1, 0.0],
        [0.1, 0.0],
        [0.11, 0.45],
        [0.12, 0.85],
        [0.0, 0.0],
        [0.0, -0.5],
        [0.0, -0.58],
        [0.0, -0.82],
        [-0.3, 0.05],
        [-0.27, -0.22],
        [-0.2, -0.48],
        [0.2, -0.48],
        [0.27, -0.22],
        [0.3, 0.05],
    ],
    dtype=np.float32,
)


def generated_somersault(T: int = 64, seed: int = 0) -> Any:
    """A pose rotating once around the pelvis along a parabolic flight, with a few dropped joints."""
    from posekit.skeleton import SkeletonSequence

    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, T)
    ang = 2 * np.pi * t
    rot = np.stack([np.stack([np.cos(ang), -np.sin(ang)], -1), np.stack([np.sin(ang), np.cos(ang)], -1)], -2)
    pose = np.einsum("tij,vj->tvi", rot, _STANDING)
    centre = np.stack([200 + 150 * t, 300 - 400 * t * (1 - t)], -1)
    xy = pose * 100 + centre[:, None, :] + rng.normal(0, 1.0, (T, 16, 2))
    conf = np.clip(rng.normal(0.9, 0.05, (T, 16)), 0, 1)
    conf[rng.random((T, 16)) < 0.03] = 0.0
    data = np.concatenate([xy, conf[..., None]], -1).astype(np.float32)
    data[data[..., 2] == 0, :2] = 0
    return SkeletonSequence(data, layout="mpii16", fps=25.0, meta={"source": "generated somersault", "seed": seed})


def _step_layouts(out: Path, report: dict[str, Any], seed: int) -> None:
    """Layouts and their hierarchies."""
    # 1. layouts and hierarchies
    report["layouts"] = {}
    for name in available_layouts():
        h = build_hierarchy(name)
        report["layouts"][name] = {
            "joints": h.num_joints,
            "rings": h.ring_names(),
            "ring_levels": list(h.ring_levels),
            "adjacency_shape": list(h.adjacency.shape),
        }
    report["outputs"]["hierarchy_plot"] = str(
        viz.plot_hierarchy(build_hierarchy("mpii16"), out / "hierarchy_mpii16.png")
    )
    print(build_hierarchy("mpii16").describe())


def _step_skeleton(out: Path, report: dict[str, Any], seed: int) -> None:
    """The skeleton data model on a real (or generated) sequence."""
    # 2. skeleton data model
    climb_root = shared_data("speed_climbing")
    if climb_root is not None:
        ds = SpeedClimbing(climb_root)
        run_id = ds.run_ids()[0]
        seq = ds.load(run_id)
        source = f"SPEED21 run {run_id} ({seq.num_frames} frames, {ds.runs[run_id].time_sec} s)"
    else:
        seq = generated_somersault(seed=seed)
        source = "generated somersault (no ../shared)"
    fixed = seq.resample(96)
    norm = fixed.normalise()
    path = norm.save(out / "skeleton.npz")
    back = SkeletonSequence.load(path)
    assert np.array_equal(back.data, norm.data)
    report["skeleton"] = {
        "source": source,
        "frames": seq.num_frames,
        "missing_fraction": float(1 - seq.valid.mean()),
        "resampled_to": fixed.num_frames,
        "torso_scale_px": norm.meta["normalisation"]["scale"],
        "tensor_shape": list(norm.to_tensor().shape),
    }
    report["outputs"]["skeleton_npz"] = str(path)
    report["outputs"]["skeleton_plot"] = str(viz.plot_sequence(fixed, out / "skeleton.png", title=source))


def _step_finediving(out: Path, report: dict[str, Any], seed: int) -> None:
    """FineDiving annotations -> stage boundaries."""
    # 3. FineDiving annotations -> stage boundaries
    fd_root = shared_data("finediving", "annotations")
    if fd_root is not None:
        fd = FineDiving(fd_root)
        test = fd.split("test")
        b = np.stack([fd.stage_boundaries(k, K=3, T=96) for k in test])
        report["finediving"] = {
            "dives": len(fd),
            "train": len(fd.split("train")),
            "test": len(test),
            "dive_numbers": len(set(fd.dive_numbers().values())),
            "mean_boundaries_T96": b.mean(0).round(2).tolist(),
            "annotation_issues": len(fd.issues),
        }
        shown = {f"{k[0][:28]}#{k[1]} {fd[k].dive_number}": fd.stage_boundaries(k) for k in test[:12]}
        report["outputs"]["stage_plot"] = str(viz.plot_stage_timelines(shown, 96, out / "stages_finediving.png"))


def _step_extract(out: Path, report: dict[str, Any], seed: int) -> None:
    """Job 1: extract the athlete's skeleton from a clip."""
    # 5. job 1: extract the athlete's skeleton from a clip (the real dive when present)
    from posekit.pose import ExtractConfig, extract
    from posekit.pose.testclip import make_tracking_clip

    gif = shared_data("videos", "mtl_aqa_diving_sample.gif")
    clip_src = gif if gif is not None else make_tracking_clip(T=12, hidden=None, distractors=1, seed=seed).clip
    res = extract(
        clip_src,
        config=ExtractConfig(progress=True),
        out=out / "extracted.npz",
        overlay=out / "extracted_overlay.gif",
        report_path=out / "extracted_report.json",
    )
    r = res.report
    report["extraction"] = {
        "source": r["source"],
        "frames": r["frames_read"],
        "found_fraction": r["found_fraction"],
        "interpolated_fraction": r["cleaning"]["interpolated_fraction"],
        "mean_confidence": r["mean_confidence"],
        "frames_per_second": r["fps_processed"],
    }
    for key, name in (("output", "extracted_npz"), ("overlay", "overlay"), ("report", "extraction_qc")):
        report["outputs"][name] = r[key]
    print(
        f"extracted {r['frames_read']} frames of {r['source']}: athlete found in {r['found_fraction']:.0%}, "
        f"{r['fps_processed']:.2f} frames/s"
    )


def _step_metrics(out: Path, report: dict[str, Any], seed: int) -> None:
    """Metrics on the released predictions (or generated scores)."""
    # 4. metrics
    gm = shared_data("golden_metrics")
    rows = {}
    if gm is not None:
        for model in ("tsa", "mcore"):
            pred = np.load(gm / f"{model}_finediving_pred.npy")
            true = np.load(gm / f"{model}_finediving_true.npy")
            rows[f"{model} (released FineDiving predictions)"] = metrics.score_metrics(pred, true)
        viz.plot_scatter(pred, true, out / "scatter_mcore.png", "MCoRe on FineDiving test (released)")
        report["outputs"]["scatter_plot"] = str(out / "scatter_mcore.png")
    else:
        rng = np.random.default_rng(seed)
        true = rng.uniform(20, 100, 200)
        pred = true + rng.normal(0, 5, 200)
        rows["generated scores (noise sd 5)"] = metrics.score_metrics(pred, true)
    report["metrics"] = rows
    for name, r in rows.items():
        print(f"{name}: SRCC {r['srcc']:.4f}  R-l2x100 {r['r_l2_x100']:.4f}  MSE {r['mse']:.2f}")


def _step_train(out: Path, report: dict[str, Any], seed: int) -> dict[str, Any]:
    """Job 2: train a small fused model on generated dives."""
    # 6. job 2: train a small fused model (HP-MCoRe) on generated dives with known flaws
    from posekit.training import load_config, run_training

    cfg_path = Path(__file__).resolve().parents[1] / "configs" / "aqa" / "demo.yaml"
    cfg = load_config(cfg_path, [f"seed={seed}"])
    t_train = time.time()
    summary = run_training(cfg, out / "train", overwrite=True)  # the demo owns demo_out/
    m = summary["metrics"]
    report["training"] = {
        "config": str(cfg_path),
        "data": summary["data"],
        "best_epoch": summary["best_epoch"],
        "test_metrics": m,
        "stage_weights": summary["stage_weights"],
        "seconds": round(time.time() - t_train, 1),
    }
    print(
        f"fused HP-MCoRe on {summary['n']} generated test dives (M = {summary['exemplars']} exemplars): "
        f"SRCC {m['srcc']:.3f}  R-l2x100 {m['r_l2_x100']:.3f}  AIoU@0.5 {m.get('aiou@0.5', float('nan')):.2f}  "
        f"AIoU@0.75 {m.get('aiou@0.75', float('nan')):.2f}  ({report['training']['seconds']:.0f} s)"
    )
    report["outputs"]["model"] = str(out / "train" / "best.pth")
    report["outputs"]["train_metrics"] = str(out / "train" / "metrics_test.json")
    for p in summary["plots"]:
        report["outputs"][f"train_{Path(p).stem}"] = p
    return cfg


def _step_explain(out: Path, report: dict[str, Any], cfg: dict[str, Any]) -> None:
    """Job 3: explain one prediction of that model (which joints, frames and stages moved it)."""
    from posekit.explain import explain_sample

    edir = out / "explain"
    res = explain_sample(cfg, out / "train" / "best.pth", None, edir)
    expl = res.explanation
    report["outputs"]["explanation"] = str(edir / "explanation.json")
    for p in res.paths[1:]:
        report["outputs"][p.stem] = str(p)
    report["explanation"] = {
        "sample": expl.key,
        "predicted": expl.score,
        "true": expl.true_score,
        "top_joints": expl.top_joints(3),
        "stage_deltas": dict(zip(expl.stage_names, expl.stage_deltas, strict=True)),
        "ig_convergence_delta": expl.convergence_delta,
    }
    print(f"explanation of generated dive {expl.key}:\n  " + expl.summary().replace("\n", "\n  "))


def run(out: Path, seed: int = 0) -> dict[str, Any]:
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"posekit_demo": "foundation", "seed": seed, "outputs": {}}

    _step_layouts(out, report, seed)
    _step_skeleton(out, report, seed)
    _step_finediving(out, report, seed)
    _step_extract(out, report, seed)
    _step_metrics(out, report, seed)
    cfg = _step_train(out, report, seed)
    _step_explain(out, report, cfg)
    report["seconds"] = round(time.time() - t0, 2)
    report["outputs"]["report"] = str(write_json(out / "report.json", report))
    return report


def cli(args: argparse.Namespace) -> int:
    report = run(args.out, seed=args.seed)
    print("\nposekit demo wrote:")
    for name, p in report["outputs"].items():
        print(f"  {name:15s} {p}")
    return 0
