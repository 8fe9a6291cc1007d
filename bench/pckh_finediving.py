"""PCKh@0.5 of ``posekit extract`` as a user runs it, on the 51 hand-labelled FineDiving frames.

    python bench/pckh_finediving.py [--quick] [--quality balanced|accurate|fast]

The 51 frames are every second frame of three dives (files 00000-00032, 00034-00068 and
00070-00100). They are run through the default pipeline exactly as ``posekit extract`` /
``extract-dataset`` run them - no label is used to detect, choose, track or crop the athlete,
nor to estimate or clean the pose (:func:`posekit.pose.calibrate.extract_labelled`):

* **as clips**: one frame folder per dive (the tracker keeps the diver through the dive);
* **as single frames**: one folder per frame (the athlete chosen by the single-frame rule).

The labels are used only to score, and to fit the BlazePose -> MPII-16 mapping: the headline
extracts each dive again with a mapping fitted on the other two dives only, on the landmarks
the pipeline itself found there (:func:`posekit.pose.calibrate.held_out_extraction`). The
shipped mapping (fitted on all 51) is reported too, as in-sample.

Reported per dive: the fraction of frames where the athlete was found, the frames not found
(predicted / lost), PCKh@0.5 overall, per dive and per joint. Baseline measured in the same
run: BlazePose on the whole frame (no crop, no rotation) with the geometric mapping. An
*oracle* row (the labelled athlete's own box, the mapping held out by dive) is an upper bound
for the box, labelled so: the labels pick that box.

The estimator's crop context (3.5 x the box) was chosen on these frames in an earlier stop
(nested leave-one-out picked it in every fold), so the figure is a little optimistic for
other footage.
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


def score(pred: np.ndarray, true: np.ndarray, vis: np.ndarray, dives: np.ndarray) -> dict:
    """PCKh@0.5 overall, per joint and per dive."""
    r = metrics.pckh(pred[..., :2], true, vis, pred_valid=pred[..., 2] > 0)
    r["per_dive"] = {
        int(d): metrics.pckh(
            pred[dives == d][..., :2], true[dives == d], vis[dives == d], pred_valid=pred[dives == d][..., 2] > 0
        )["pckh"]
        for d in np.unique(dives)
    }
    return r


def load_labelled_dives(root: Path) -> tuple[list[dict], list[Path], np.ndarray, np.ndarray, np.ndarray]:
    """The 51 labelled frames: annotations, image paths, joints, visibility, dive of each."""
    from posekit.pose.calibrate import groups_from_starts

    ann = json.loads((root / "annotations.json").read_text())
    images = [root / "images" / a["image"] for a in ann]
    true = np.array([a["joints"] for a in ann], np.float64)
    vis = np.array([a["joints_vis"] for a in ann]) > 0
    return ann, images, true, vis, groups_from_starts([a["image"] for a in ann], DIVE_STARTS)


def tracking_summary(run, dives: np.ndarray) -> dict:
    """Per dive: found fraction and the frames where the athlete was not found (with why)."""
    out = {}
    for d in np.unique(dives):
        idx = np.flatnonzero(dives == d)
        out[int(d)] = {
            "frames": len(idx),
            "found_fraction": float(np.mean([run.status[i] == "tracked" for i in idx])),
            "not_found": {int(k): run.how[i] for k, i in enumerate(idx) if run.status[i] != "tracked"},
        }
    return out


def whole_frame_baseline(images: list[Path], model) -> np.ndarray:
    out = []
    for p in images:
        lm = model(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))
        out.append(convert(lm[None], "blazepose33", "mpii16")[0] if lm is not None else np.zeros((16, 3)))
    return np.array(out, np.float32)


def oracle_box(images: list[Path], ann: list[dict], true, vis, dives, model) -> np.ndarray:
    """Upper bound: the estimator on the labelled athlete's box (MPII centre/scale), the mapping
    held out by dive. The labels pick the box: not a figure of the pipeline."""
    from posekit.pose.calibrate import held_out_predictions
    from posekit.pose.estimate import BlazePoseEstimator

    est = BlazePoseEstimator(model=model, mapping="geometric")
    lms = []
    for p, a in zip(images, ann, strict=True):
        img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        (cx, cy), half = a["center"], a["scale"] * 100
        lm, _ = est.landmarks_one(img, np.array([cx - half, cy - half, cx + half, cy + half]))
        lms.append(np.zeros((33, 3), np.float32) if lm is None else lm)
    return held_out_predictions(np.array(lms), true, vis, dives)


def run_mode(name: str, images, true, vis, dives, model, quality: str = "balanced") -> dict:
    """Extract as clips or single frames with the ``quality`` preset; the shipped mapping (in
    sample) and held out by dive."""
    from posekit.pose.calibrate import extract_labelled, held_out_extraction

    clips = dives if name == "clips" else None
    t0 = time.perf_counter()
    first = extract_labelled(images, clips, mapping=None, model=model, quality=quality)
    seconds = time.perf_counter() - t0
    held = held_out_extraction(images, first.landmarks, true, vis, dives, clips, model=model, quality=quality)
    return {
        "held_out": score(held.pred, true, vis, dives),
        "shipped_in_sample": score(first.pred, true, vis, dives),
        "tracking": tracking_summary(held, dives),
        "athlete_chosen_by": sorted(set(held.chosen_by)),
        "seconds_per_frame": seconds / len(images),
    }


def print_table(results: dict, base: dict, oracle: dict | None) -> None:
    cols = [(f"{m} held-out", r["held_out"]) for m, r in results.items()]
    cols += [(f"{m} shipped", r["shipped_in_sample"]) for m, r in results.items()]
    cols += [("whole-frame", base)] + ([("oracle box", oracle)] if oracle else [])
    print(f"{'joint':12s} " + " ".join(f"{c:>16s}" for c, _ in cols))
    for j in get_layout("mpii16").joints:
        print(f"{j:12s} " + " ".join(f"{r['per_joint'][j]:16.3f}" for _, r in cols))
    for d in sorted(base["per_dive"]):
        print(f"{'dive ' + str(d):12s} " + " ".join(f"{r['per_dive'][d]:16.3f}" for _, r in cols))
    print(f"{'PCKh@0.5':12s} " + " ".join(f"{r['pckh']:16.3f}" for _, r in cols))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="as clips only, no oracle row")
    ap.add_argument("--quality", default="balanced", help="the extraction preset (default: the CLI's, balanced)")
    ap.add_argument(
        "--blazepose",
        default="auto",
        help="how BlazePose runs in the pipeline (auto: by --quality, as the CLI; solution, direct)",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pckh_finediving.json")
    args = ap.parse_args(argv)
    root = shared_data("finediving", "pose_frames")
    if root is None:
        print("pckh_finediving: ../shared/data/finediving/pose_frames not found", file=sys.stderr)
        return 1
    from posekit.pose.blazepose import BlazePose, backend_for, build_blazepose

    ann, images, true, vis, dives = load_labelled_dives(root)
    base = score(whole_frame_baseline(images, BlazePose()), true, vis, dives)
    # the pipeline's BlazePose (the baseline is the solution API's)
    model = build_blazepose(backend_for(args.quality, args.blazepose))
    results = {
        m: run_mode(m, images, true, vis, dives, model, args.quality)
        for m in (["clips"] if args.quick else ["clips", "single"])
    }
    oracle = None if args.quick else score(oracle_box(images, ann, true, vis, dives, model), true, vis, dives)
    print(
        f"{len(images)} frames from {len(set(dives.tolist()))} dives, --quality {args.quality}, "
        f"BlazePose {type(model).__name__}; "
        "no label in the loop except the held-out fit"
    )
    print_table(results, base, oracle)
    for m, r in results.items():
        found = {d: f"{t['found_fraction']:.0%}" for d, t in r["tracking"].items()}
        print(
            f"{m}: PCKh@0.5 {r['held_out']['pckh']:.3f} held out by dive (ratio to whole-frame "
            f"{r['held_out']['pckh'] / base['pckh']:.3f}); athlete found per dive {found}; "
            f"not found {[t['not_found'] for t in r['tracking'].values()]}; {r['seconds_per_frame']:.2f} s/frame"
        )
    result = {
        "frames": len(images),
        "quality": args.quality,
        "blazepose": type(model).__name__,
        "baseline_whole_frame": base,
        "modes": results,
        "ratio": {m: r["held_out"]["pckh"] / base["pckh"] for m, r in results.items()},
        "oracle_box_upper_bound": oracle,
        "mapping_shipped": get_mapping("blazepose33", "mpii16", None).name,
    }
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
