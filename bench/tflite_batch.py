"""Does a batched TFLite interpreter pay for BlazePose passes? (the scale issue, item 3)

    python bench/tflite_batch.py [--frames 12] [--repeats 3]

(LiteRT, ``ai-edge-litert``, is pinned in requirements/nodeps.txt: the quality presets'
temporal path runs the landmark model through it one crop at a time, on the region the
previous frame's pose gives - :class:`posekit.pose.blazepose.BlazePoseLandmarker`. This
bench is why it runs one crop per invoke: batches did not pay.)

posekit's BlazePose passes go through mediapipe's solution API, one crop per call: the
pose *detector* runs on the crop, then the landmark model on the detector's aligned ROI.
The landmark model ships inside the mediapipe wheel (``pose_landmark_full.tflite``); LiteRT
(``ai_edge_litert``, the TFLite runtime on PyPI) can run it directly with the batch
dimension of its input resized. On the shared FineDiving frames (a square crop around the person the solution API
finds on the whole frame: no label is read), per crop and in the same run:

* the solution API (``BlazePose.on_crop``: what every pose pass costs today), the baseline;
* LiteRT, one 256 x 256 crop per invoke (no detector inside the crop);
* LiteRT, batches of 4 and 8 crops per invoke (one thread, as each posekit worker runs).

Prints ms per crop and the ratio to the solution API, and how far the direct landmarks are
from the solution API's (median over landmarks with visibility > 0.5, in % of the crop side):
the direct path skips the detector's ROI alignment, so its results are not the solution
API's. Writes bench/results/tflite_batch.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from posekit.io import write_json
from posekit.paths import shared_data

ROOT = Path(__file__).resolve().parents[1]
SIDE = 256


def _frames(n: int) -> list[np.ndarray]:
    import cv2

    root = shared_data("finediving")
    files = sorted((root / "pose_frames" / "images").glob("*.jpg"))[:n] if root is not None else []
    if not files:
        raise SystemExit("../shared/data/finediving/pose_frames not found")
    return [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]


def _athlete_crops(bp, frames: list[np.ndarray]) -> list[np.ndarray]:
    """A square crop around the person the solution API finds on the whole frame (1.3 x the
    extent of its confident landmarks), rotated so that the spine (mid-hip to mid-shoulder)
    points up - as posekit's temporal path crops around the previous frame's pose and its
    orientation: the landmark model's own operating point. No label is read."""
    import cv2

    from posekit.pose.blazepose import crop_transform

    out = []
    for im in frames:
        lm = bp(im)
        if lm is None or (lm[:, 2] > 0.5).sum() < 8:
            continue
        xy = lm[lm[:, 2] > 0.5, :2]
        (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
        dx, dy = lm[[11, 12], :2].mean(axis=0) - lm[[23, 24], :2].mean(axis=0)
        angle = float(np.degrees(np.arctan2(dx, -dy)))
        m = crop_transform((x0 + x1) / 2, (y0 + y1) / 2, 1.3 * np.hypot(x1 - x0, y1 - y0), angle, SIDE)
        out.append(cv2.warpAffine(im, m, (SIDE, SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return out


def _per_crop(fn, crops: list[np.ndarray], repeats: int, batch: int = 1) -> float:
    fn(crops[:batch])  # warm-up
    t0, n = time.perf_counter(), 0
    for _ in range(repeats):
        for i in range(0, len(crops) - batch + 1, batch):
            fn(crops[i : i + batch])
            n += batch
    return (time.perf_counter() - t0) / n * 1000


def _litert(batch: int):
    from ai_edge_litert.interpreter import Interpreter
    from mediapipe import __file__ as mp_file

    model = Path(mp_file).parent / "modules" / "pose_landmark" / "pose_landmark_full.tflite"
    it = Interpreter(model_path=str(model), num_threads=1)
    inp = it.get_input_details()[0]["index"]
    it.resize_tensor_input(inp, [batch, SIDE, SIDE, 3])
    it.allocate_tensors()
    out = it.get_output_details()[0]["index"]

    def run(crops: list[np.ndarray]) -> np.ndarray:
        it.set_tensor(inp, np.stack(crops).astype(np.float32) / 255.0)
        it.invoke()
        lm = it.get_tensor(out).reshape(len(crops), -1, 5)[:, :33]  # x, y, z, visibility, presence
        return np.concatenate([lm[..., :2], 1 / (1 + np.exp(-lm[..., 3:4]))], axis=-1)

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="4 frames, 1 repeat")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tflite_batch.json")
    args = ap.parse_args(argv)
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        print("skipped: ai_edge_litert is not installed (an optional measurement; see the docstring)")
        return 0
    if args.quick:
        args.frames, args.repeats = 4, 1
    import cv2

    cv2.setNumThreads(1)
    from posekit.pose.blazepose import BlazePose

    bp = BlazePose()
    crops = _athlete_crops(bp, _frames(args.frames))
    api = lambda cs: [bp.on_crop(c, SIDE / 2, SIDE / 2, SIDE, 0.0, SIDE) for c in cs]  # noqa: E731
    rows = {"solution API (today)": _per_crop(api, crops, args.repeats)}
    for b in (1, 4, 8):
        rows[f"LiteRT batch {b}"] = _per_crop(_litert(b), crops, args.repeats, b)
    base = rows["solution API (today)"]
    direct, ref = _litert(1), [bp.on_crop(c, SIDE / 2, SIDE / 2, SIDE, 0.0, SIDE) for c in crops]
    gaps = []
    for c, r in zip(crops, ref, strict=True):
        if r is not None:
            d = direct([c])[0]
            ok = r[:, 2] > 0.5
            gaps.append(float(np.median(np.linalg.norm(d[ok, :2] - r[ok, :2], axis=1)) / SIDE * 100) if ok.any() else 0)
    print(f"{len(crops)} real crops of {SIDE} px, one thread, {args.repeats} repeats:")
    for name, ms in rows.items():
        print(f"  {name:<22} {ms:7.1f} ms/crop   x{base / ms:.2f} vs the solution API")
    within = float(np.mean(np.array(gaps) < 5.0))
    print(f"  direct landmarks within 5 % of the crop side of the solution API's on {within:.0%} of the crops")
    print(
        f"  direct landmarks vs the solution API: median {np.median(gaps):.1f} % of the crop side "
        f"(over {len(gaps)} crops where the solution API found a person)"
    )
    write_json(
        args.out,
        {
            "ms_per_crop": rows,
            "speedup": {k: base / v for k, v in rows.items()},
            "median_gap_pct_of_side": float(np.median(gaps)),
            "share_within_5pct": within,
            "crops": len(crops),
        },
    )
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
