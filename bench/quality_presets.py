"""Extraction presets on real dives: frames/s, BlazePose runs per frame and PCKh@0.5.

    python bench/quality_presets.py [--presets accurate balanced fast]

The 51 hand-labelled FineDiving frames run as three clips (files 00000-00032, 00034-00068,
00070-00100: every second frame of each dive), so the temporal path of the presets is what
is measured, through ``posekit extract`` as a user runs it with ``--quality`` (no label in
detection, tracking, cropping or pose). Each dive is extracted with a BlazePose -> MPII-16
mapping fitted on the other two dives only (on the landmarks the accurate pipeline found
there), the same mappings for every preset. Baseline measured in the same run: BlazePose
once on the whole frame (frames/s and PCKh). ``--blazepose``: how the
pipeline runs BlazePose (default ``auto``, as ``posekit extract``: the direct backend for
``fast``, the solution API for the others; the baseline is always mediapipe's solution API
on the whole frame). Prints per preset: frames/s (455x256, this
machine), pose runs per frame, the share of frames on the temporal path, PCKh@0.5 overall,
per dive and per joint, and the ratios to the baseline and to ``accurate``; and where the
time goes: seconds per clip choosing the athlete at the start (the detector on the first
frames) and frames/s on the frames that took the temporal path (these clips have 16-18
frames, so the start weighs more than on a whole dive), and a labelled projection to a
96-frame dive (FineDiving's clip length) from those measured parts: the start and first frame
once, every later frame at the mean cost of the later frames measured here (temporal path and
fall-backs in the proportion seen); writes bench/results/quality_presets.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from pckh_finediving import load_labelled_dives, score, tracking_summary, whole_frame_baseline

from graphs import get_layout
from posekit.io import write_json
from posekit.paths import shared_data


def projected_frames_per_s(reports: list[dict], frames: int = 96) -> float | None:
    """Frames/s a ``frames``-frame clip would run at, projected from measured parts (a
    projection, not a measurement): each clip's start (choosing the athlete) and first tracked
    frame once, then every later frame at the mean measured cost of the later frames."""
    fixed, later = [], []
    for rep in reports:
        per_frame, found = rep["seconds"]["per_frame"], rep["athlete_found"]
        if True not in found:
            continue
        first = found.index(True)
        fixed.append(rep["seconds"]["start"] + sum(per_frame[: first + 1]))
        later.extend(per_frame[first + 1 :])
    if not fixed or not later:
        return None
    return frames / (float(np.mean(fixed)) + (frames - 1) * float(np.mean(later)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["accurate", "balanced", "fast"])
    ap.add_argument(
        "--blazepose",
        default="auto",
        help="how BlazePose runs in the pipeline (auto: by the preset, as the CLI: direct for fast; solution, direct)",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "quality_presets.json")
    args = ap.parse_args(argv)
    root = shared_data("finediving", "pose_frames")
    if root is None:
        print("quality_presets: ../shared/data/finediving/pose_frames not found", file=sys.stderr)
        return 1
    from posekit.pose.blazepose import BlazePose, backend_for, build_blazepose
    from posekit.pose.calibrate import extract_labelled, held_out_extraction

    _, images, true, vis, dives = load_labelled_dives(root)
    t0 = time.perf_counter()
    base = score(whole_frame_baseline(images, BlazePose()), true, vis, dives)
    base["frames_per_s"] = len(images) / (time.perf_counter() - t0)
    models = {b: build_blazepose(b) for b in {backend_for(q, args.blazepose) for q in ["accurate", *args.presets]}}
    model = models[backend_for("accurate", args.blazepose)]  # the mappings are fitted on its landmarks
    landmarks = extract_labelled(images, dives, model=model, quality="accurate", progress=False).landmarks
    rows = {}
    for q in args.presets:
        m = models[backend_for(q, args.blazepose)]
        t0 = time.perf_counter()
        run = held_out_extraction(images, landmarks, true, vis, dives, dives, model=m, progress=False, quality=q)
        secs = time.perf_counter() - t0
        runs = [r for rep in run.reports for r in rep["pose_runs"]]
        temporal = [x for rep in run.reports for x in rep["temporal"]]
        per_frame = [x for rep in run.reports for x in rep["seconds"]["per_frame"]]
        tracked_s = [x for x, tmp in zip(per_frame, temporal, strict=True) if tmp]
        rows[q] = {
            **score(run.pred, true, vis, dives),
            "frames_per_s": len(images) / secs,
            "pose_runs_per_frame": float(np.mean(runs)),
            "temporal_fraction": float(np.mean(temporal)),
            # where the time goes: choosing the athlete at the start of a clip, the first (full-search)
            # frame, and the frames on the temporal path
            "start_seconds_per_clip": float(np.mean([rep["seconds"]["start"] for rep in run.reports])),
            "temporal_frames_per_s": len(tracked_s) / sum(tracked_s) if tracked_s else None,
            "projected_frames_per_s_96": projected_frames_per_s(run.reports),
            "tracking": tracking_summary(run, dives),
            "blazepose": type(m).__name__,
        }
    ref = rows.get("accurate", next(iter(rows.values())))
    print(
        f"{len(images)} frames as 3 clips; whole-frame BlazePose: {base['frames_per_s']:.2f} frames/s, "
        f"PCKh {base['pckh']:.3f}"
    )
    print(
        f"{'preset':10s} {'frames/s':>9s} {'x base':>7s} {'runs/fr':>8s} {'temporal':>9s} {'PCKh':>6s} "
        f"{'- accurate':>10s} {'dives':>20s} {'start s/clip':>12s} {'tracked fr/s':>12s} {'96-frame*':>9s}"
    )
    for q, r in rows.items():
        dv = " / ".join(f"{v:.3f}" for v in r["per_dive"].values())
        print(
            f"{q:10s} {r['frames_per_s']:9.2f} {r['frames_per_s'] / base['frames_per_s']:7.3f} "
            f"{r['pose_runs_per_frame']:8.1f} {r['temporal_fraction']:9.0%} {r['pckh']:6.3f} "
            f"{r['pckh'] - ref['pckh']:+10.3f} {dv:>20s} {r['start_seconds_per_clip']:12.2f} "
            f"{r['temporal_frames_per_s'] or 0:12.2f} {r['projected_frames_per_s_96'] or 0:9.2f}"
        )
    print("* projected frames/s on a 96-frame dive from the parts measured here (not a measurement)")
    print(
        "per joint: "
        + ", ".join(
            f"{j} " + "/".join(f"{r['per_joint'][j]:.2f}" for r in rows.values()) for j in get_layout("mpii16").joints
        )
    )
    used = ", ".join(f"{q} {r['blazepose']}" for q, r in rows.items())
    print(f"BlazePose in the pipeline (--blazepose {args.blazepose}): {used}")
    write_json(
        args.out,
        {
            "frames": len(images),
            "blazepose": args.blazepose,
            "baseline_whole_frame": base,
            "presets": rows,
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
