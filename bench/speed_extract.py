"""Speed of the extraction pipeline and of batched mmpose HRNet-W32.

    python bench/speed_extract.py [--quick] [--device cuda]

1. The default pipeline (BlazePose detector + tracker + BlazePose TTA estimator + cleaning)
   on the 51 FineDiving frames (455x256) read as one clip: frames per second and seconds per
   stage, against the baseline measured in the same run - BlazePose once on the whole frame.
2. mmpose HRNet-W32 256x256 (configs/pose/hrnet_w32_mpii16_256x256.py, randomly initialised:
   speed does not depend on the weights) on athlete crops: crops per second batched (32 per
   forward) against one crop per forward, on ``--device`` (cpu here; cuda on a GPU machine).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from posekit.io import write_json
from posekit.paths import REPO_ROOT, shared_data


def pipeline_speed(n_frames: int | None, blazepose: str = "auto") -> dict:
    from posekit.pose import ExtractConfig, extract
    from posekit.pose.blazepose import BlazePose
    from posekit.pose.options import ExtractionModels
    from posekit.pose.video import read_clip

    root = shared_data("finediving", "pose_frames", "images")
    if root is None:
        from posekit.pose.testclip import make_tracking_clip

        clip = make_tracking_clip(T=n_frames or 24, size=(455, 256)).clip
    else:
        clip = read_clip(root, end=(n_frames - 1) if n_frames else None)
    model = BlazePose()
    t0 = time.perf_counter()
    for f in clip.frames:
        model(f)
    base = (time.perf_counter() - t0) / len(clip)
    det, est = ExtractionModels(blazepose=blazepose).build("balanced")
    res = extract(clip, det, est, config=ExtractConfig(progress=False))
    sec = res.report["seconds"]
    return {
        "frames": len(clip),
        "frame_size": list(clip.size),
        "seconds_per_stage": sec,
        "pipeline_fps": len(clip) / sec["total"],
        "blazepose": type(est.model).__name__,
        "baseline_whole_frame_fps": 1 / base,
    }


def hrnet_speed(device: str, n_crops: int, batch: int) -> dict:
    import torch

    from posekit import compat

    compat.install()
    from mmengine.config import Config
    from mmpose.apis import init_model

    from posekit.pose.estimate import MMPoseEstimator
    from posekit.pose.mmpose_meta import dataset_meta

    cfg_path = REPO_ROOT / "configs" / "pose" / "hrnet_w32_mpii16_256x256.py"
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "hrnet_random.pth"
        m = init_model(Config.fromfile(str(cfg_path)), None, device="cpu")
        torch.save({"state_dict": m.state_dict(), "meta": {"dataset_meta": dataset_meta("mpii16")}}, ckpt)
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 255, (256, 455, 3), dtype=np.uint8) for _ in range(n_crops)]
        boxes = [np.array([150, 40, 260, 230.0])] * n_crops
        out = {}
        for bs in (1, batch):
            est = MMPoseEstimator(cfg_path, ckpt, device=device, batch_size=bs)
            est.estimate(frames[:bs], boxes[:bs])  # warm-up
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            est.estimate(frames, boxes)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            out[f"batch_{bs}_crops_per_s"] = n_crops / (time.perf_counter() - t0)
        out["ratio_batched_over_single"] = out[f"batch_{batch}_crops_per_s"] / out["batch_1_crops_per_s"]
        out["device"] = device
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--blazepose",
        default="auto",
        help="how BlazePose runs in the pipeline (auto: as the CLI's balanced; solution, direct)",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "speed_extract.json")
    args = ap.parse_args(argv)
    p = pipeline_speed(8 if args.quick else None, args.blazepose)
    print(
        f"pipeline on {p['frames']} frames {p['frame_size'][0]}x{p['frame_size'][1]}: "
        f"{p['pipeline_fps']:.3f} frames/s; baseline whole-frame BlazePose {p['baseline_whole_frame_fps']:.2f} "
        f"frames/s; ratio {p['pipeline_fps'] / p['baseline_whole_frame_fps']:.3f}"
    )
    print("  seconds per stage:", {k: v for k, v in p["seconds_per_stage"].items()})
    h = hrnet_speed(args.device, 8 if args.quick else 64, 8 if args.quick else 32)
    print(f"HRNet-W32 256x256 on {h['device']}: " + ", ".join(f"{k} {v:.2f}" for k, v in h.items() if k != "device"))
    write_json(args.out, {"pipeline": p, "hrnet": h})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
