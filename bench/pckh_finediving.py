"""PCKh@0.5 of the default extraction pipeline on the 51 hand-labelled FineDiving frames.

    python bench/pckh_finediving.py [--quick]

Full frames go in; the default detector (BlazePose person pipeline at 0 and 180 degrees)
picks the most confident person box, and the default estimator (BlazePose on a context
crop with rotation + mirror test-time augmentation, robust consensus) estimates BlazePose-33
landmarks, mapped to MPII-16 and compared with the hand labels. The baseline measured in the
same run is BlazePose on the whole frame (no crop, no rotation) with the geometric mapping.

The default estimator maps BlazePose to MPII-16 with a calibrated mapping fitted on these
same 51 frames (``posekit fit-mapping``; girdle and synthesised joints only, see
``graphs/convert.py``), so its figure here is in sample. The headline is held out: the 51
frames come from three dives (frames 00000-00032, 00034-00068 and 00070-00100: three
swimsuits, three divers), and each dive's frames are mapped by a mapping fitted on the other
two dives only. The geometric (hand-written) mapping is reported too. Per-joint values and
the ratios to the baseline are printed and saved.

Note: the estimator's crop context (3.5 x the box) was chosen on these same 51 frames
(2.5: 0.762, 3.0: 0.817, 3.5: 0.846, 4.0: 0.835, 4.5: 0.808), so the figure is optimistic for
other footage; ``--context`` reruns any value. ``--cv-contexts 2.5 3 3.5 4 4.5`` gives the
honest figure for that choice: nested leave-one-out, each frame scored with the context that
is best on the other frames (with the geometric mapping it picks 3.5 in all 51 folds: 0.846).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from graphs import convert, get_layout, get_mapping
from posekit import metrics
from posekit.io import write_json
from posekit.paths import shared_data

#: first frame of each dive among the 51 (by looking at them: swimsuit, diver, pool)
DIVE_STARTS = ("finediv00000.jpg", "finediv00034.jpg", "finediv00070.jpg")


def limb_neighbour_sources() -> dict[str, tuple[str, ...]]:
    """The rejected variant: limb joints may also use the joints they share a bone with
    (a knee its hip and ankle), on top of :func:`graphs.convert.calibration_sources`."""
    from graphs.convert import calibration_sources

    src, tgt = get_layout("blazepose33"), get_layout("mpii16")
    base = calibration_sources(src, tgt)
    geo = get_mapping(src, tgt, "geometric").weights
    out = dict(base)
    for name in tgt.joints:
        if name.split("_", 1)[-1] in ("ankle", "knee", "wrist", "elbow"):
            extra = [
                src.joints[s]
                for a, b in tgt.bones
                if name in (a, b)
                for s in np.flatnonzero(geo[tgt.index(b if a == name else a)])
            ]
            out[name] = tuple(dict.fromkeys(base[name] + tuple(extra)))
    return out


def nested_context_cv(preds: dict[float, np.ndarray], true: np.ndarray, vis: np.ndarray) -> dict:
    """Leave-one-out choice of the crop context: each frame is scored with the context whose
    PCKh on the other frames is highest (ties: the first), so no frame's score helped choose
    its own setting. ``preds`` maps context -> ``(N, 16, 3)`` poses."""
    ctx = list(preds)
    n = len(true)
    # correct and labelled joint counts per (context, frame)
    hits = np.zeros((len(ctx), n))
    cnt = np.zeros(n)
    for i in range(n):
        for k, c in enumerate(ctx):
            r = metrics.pckh(
                preds[c][i : i + 1, :, :2], true[i : i + 1], vis[i : i + 1], pred_valid=preds[c][i : i + 1, :, 2] > 0
            )
            hits[k, i] = 0.0 if r["n"] == 0 else r["pckh"] * r["n"]
            cnt[i] = r["n"]
    picked, correct = [], 0.0
    for i in range(n):
        others = np.arange(n) != i
        k = int(np.argmax(hits[:, others].sum(1)))
        picked.append(ctx[k])
        correct += hits[k, i]
    return {
        "pckh": float(correct / cnt.sum()),
        "per_context": {c: float(hits[k].sum() / cnt.sum()) for k, c in enumerate(ctx)},
        "picked": {c: picked.count(c) for c in ctx if picked.count(c)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="first 10 frames only")
    ap.add_argument(
        "--context",
        type=float,
        default=None,
        help="crop side / athlete box side for the estimator (default: the estimator's, 3.5)",
    )
    ap.add_argument(
        "--cv-contexts",
        type=float,
        nargs="+",
        help="also choose the context among these by leave-one-out over the frames (nested) and report that PCKh",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pckh_finediving.json")
    args = ap.parse_args(argv)
    root = shared_data("finediving", "pose_frames")
    if root is None:
        print("pckh_finediving: ../shared/data/finediving/pose_frames not found", file=sys.stderr)
        return 1
    from posekit.pose.blazepose import BlazePose
    from posekit.pose.calibrate import groups_from_starts, held_out_pckh, map_found
    from posekit.pose.detect import BlazePoseDetector
    from posekit.pose.estimate import BlazePoseEstimator

    ann = json.loads((root / "annotations.json").read_text())
    if args.quick:
        ann = ann[:10]
    model = BlazePose()
    detector = BlazePoseDetector(model=model)
    estimator = (
        BlazePoseEstimator(model=model)
        if args.context is None
        else BlazePoseEstimator(model=model, context=args.context)
    )
    true = np.array([a["joints"] for a in ann], np.float64)
    vis = np.array([a["joints_vis"] for a in ann]) > 0
    base, lms = [], []
    cv = {c: [] for c in args.cv_contexts or []}
    geo_map = get_mapping("blazepose33", "mpii16", "geometric")
    cv_est = {c: BlazePoseEstimator(model=model, context=c, mapping="geometric") for c in cv}
    t_det = t_est = t_base = 0.0
    for a in ann:
        img = cv2.cvtColor(cv2.imread(str(root / "images" / a["image"])), cv2.COLOR_BGR2RGB)
        t0 = time.perf_counter()
        lm = model(img)
        base.append(convert(lm[None], "blazepose33", "mpii16")[0] if lm is not None else np.zeros((16, 3)))
        t1 = time.perf_counter()
        boxes = detector(img)
        t2 = time.perf_counter()
        lm = estimator.landmarks_one(img, boxes[np.argmax(boxes[:, 4])])[0] if len(boxes) else None
        lms.append(np.zeros((33, 3), np.float32) if lm is None else lm)
        t3 = time.perf_counter()
        t_base, t_det, t_est = t_base + t1 - t0, t_det + t2 - t1, t_est + t3 - t2
        for c, est in cv_est.items():
            if c == estimator.context:  # the pipeline's own run
                cv[c].append(geo_map.apply(lms[-1][None])[0])
                continue
            cv[c].append(est.estimate_one(img, boxes[np.argmax(boxes[:, 4])])[0] if len(boxes) else np.zeros((16, 3)))
    base, lms = np.array(base), np.array(lms)
    geo, ship = map_found(geo_map, lms), map_found(estimator.mapping, lms)
    rb = metrics.pckh(base[..., :2], true, vis, pred_valid=base[..., 2] > 0)
    rg = metrics.pckh(geo[..., :2], true, vis, pred_valid=geo[..., 2] > 0)
    rs = metrics.pckh(ship[..., :2], true, vis, pred_valid=ship[..., 2] > 0)
    groups = groups_from_starts([a["image"] for a in ann], DIVE_STARTS)
    ro = held_out_pckh(lms, true, vis, groups=groups)
    rl = held_out_pckh(lms, true, vis)
    rfree = held_out_pckh(lms, true, vis, groups=groups, sources=limb_neighbour_sources())
    ridge_sweep = {r: held_out_pckh(lms, true, vis, groups=groups, ridge=r)["pckh"] for r in (0.1, 0.3, 1.0, 3.0, 10.0)}
    n = len(ann)
    print(f"frames: {n} from {len(set(groups))} dive(s)")
    print(
        f"{'joint':12s} {'whole-frame':>11s} {'geometric':>9s} {'held-out':>9s} {'shipped':>8s}\n"
        f"{'':12s} {'(baseline)':>11s} {'mapping':>9s} {'dive':>9s} {'(in-sample)':>11s}"
    )
    for j in get_layout("mpii16").joints:
        print(
            f"{j:12s} {rb['per_joint'][j]:11.3f} {rg['per_joint'][j]:9.3f} {ro['per_joint'][j]:9.3f} "
            f"{rs['per_joint'][j]:8.3f}"
        )
    print(f"{'PCKh@0.5':12s} {rb['pckh']:11.3f} {rg['pckh']:9.3f} {ro['pckh']:9.3f} {rs['pckh']:8.3f}")
    print(
        f"default pipeline, calibrated mapping fitted without the frame's dive: PCKh@0.5 {ro['pckh']:.3f} "
        f"(ratio to whole-frame {ro['pckh'] / rb['pckh']:.3f}; with the geometric mapping {rg['pckh']:.3f}, "
        f"ratio {rg['pckh'] / rb['pckh']:.3f}; leave-one-frame-out {rl['pckh']:.3f}; shipped mapping in sample "
        f"{rs['pckh']:.3f})"
    )
    print(
        f"rejected variant, limb joints also fitted from their bone neighbours (learns 'the legs were straight'): "
        f"{rfree['pckh']:.3f} held out by dive (knees {rfree['per_joint']['r_knee']:.2f}/"
        f"{rfree['per_joint']['l_knee']:.2f})"
    )
    print(
        "held out by dive vs the fit's ridge (default 1): "
        + ", ".join(f"{r:g}: {v:.3f}" for r, v in ridge_sweep.items())
    )
    print(f"seconds per frame: baseline {t_base / n:.3f}, detection {t_det / n:.3f}, estimation {t_est / n:.3f}")
    result = {
        "frames": n,
        "dives": int(len(set(groups))),
        "baseline_whole_frame": rb,
        "pipeline": ro,
        "ratio": ro["pckh"] / rb["pckh"],
        "pipeline_geometric_mapping": rg,
        "ratio_geometric": rg["pckh"] / rb["pckh"],
        "pipeline_leave_one_frame_out": rl,
        "pipeline_shipped_mapping_in_sample": rs,
        "rejected_limbs_from_neighbours_held_out": rfree,
        "held_out_by_ridge": ridge_sweep,
        "seconds_per_frame": {"baseline": t_base / n, "detection": t_det / n, "estimation": t_est / n},
    }
    if cv:
        result["context_cv"] = nested_context_cv({c: np.array(v) for c, v in cv.items()}, true, vis)
        result["context_cv"]["ratio_to_baseline"] = result["context_cv"]["pckh"] / rb["pckh"]
        print(
            f"context chosen by leave-one-out among {sorted(cv)}: PCKh@0.5 {result['context_cv']['pckh']:.3f} "
            f"(ratio to whole-frame {result['context_cv']['ratio_to_baseline']:.3f}); per-context on all frames "
            + ", ".join(f"{c}: {v:.3f}" for c, v in result["context_cv"]["per_context"].items())
            + f"; contexts picked {result['context_cv']['picked']}"
        )
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
