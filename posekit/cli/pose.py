"""Job 1 on the command line: video -> skeletons (``extract``, ``extract-dataset``), the
BlazePose mapping (``fit-mapping``) and HRNet fine-tuning (``pose-finetune``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from posekit.cli.common import (
    CONFIG_RUNS,
    add_model_args,
    add_trust_arg,
    check_outputs,
    parse_box,
)
from posekit.errors import PosekitError


def _cmd_extract(args: argparse.Namespace) -> int:
    from posekit.pose.options import ExtractionModels
    from posekit.pose.pipeline import ExtractConfig, extract

    check_outputs(args.out, args.overlay)
    det, est = ExtractionModels.from_args(args).build(args.quality)
    cfg = ExtractConfig(
        start=args.start,
        end=args.end,
        num_frames=args.num_frames,
        repeat_frames=args.repeat_frames,
        quality=args.quality,
    )
    res = extract(
        args.video, det, est, first_box=parse_box(args.first_box), config=cfg, out=args.out, overlay=args.overlay
    )
    r = res.report
    print(
        f"{r['frames_read']} frames, athlete found in {r['found_fraction']:.0%}, "
        f"interpolated {r['cleaning']['interpolated_fraction']:.0%}, mean confidence {r['mean_confidence']:.2f}, "
        f"{r['fps_processed']:.2f} frames/s"
    )
    for key in ("output", "report", "overlay"):
        if key in r:
            print(f"  {key:8s} {r[key]}")
    if r.get("truncated"):
        print(f"warning: {args.video} is truncated: {r['truncated']}", file=sys.stderr)
    if r["found_fraction"] == 0:
        print(f"posekit extract: error: {args.video}: no athlete found in any frame", file=sys.stderr)
        return 1
    return 0


def _cmd_extract_dataset(args: argparse.Namespace) -> int:
    from posekit.pose.batch import extract_dataset

    if not (args.frames_root or args.videos):
        raise PosekitError("give --frames-root DIR or --videos DIR")
    from posekit.pose.options import ExtractionModels
    from posekit.pose.pipeline import ExtractConfig

    cfg = ExtractConfig(num_frames=args.num_frames, repeat_frames=args.repeat_frames, quality=args.quality)
    summary = extract_dataset(
        args.out,
        args.frames_root,
        args.videos,
        args.workers,
        ExtractionModels.from_args(args),
        cfg,
        engine=args.engine,
        ray_address=args.ray_address,
        annotations=args.annotations,
    )
    return 0 if not summary["failed"] else 1


def _cmd_fit_mapping(args: argparse.Namespace) -> int:
    from graphs.convert import save_mapping
    from posekit.pose.calibrate import fit_from_labels

    mapping, rep = fit_from_labels(
        args.labels, args.image_dir, ridge=args.ridge, name=args.name, new_group_at=args.new_group_at
    )
    out = save_mapping(mapping, args.out)
    held = "each image" if not args.new_group_at else f"each of {rep['held_out_groups']} groups"
    print(
        f"{rep['images']} labelled images, athlete found in {rep['athlete_found']}. PCKh@0.5: geometric mapping "
        f"{rep['pckh_geometric']:.3f}, fitted {rep['pckh_fitted_in_sample']:.3f} (in sample), "
        f"{rep['pckh_fitted_held_out']:.3f} held out ({held} mapped by a fit without it)"
    )
    print(f"wrote {out}  (use it with: posekit extract ... --pose-mapping {out})")
    return 0


def _cmd_pose_finetune(args: argparse.Namespace) -> int:
    from posekit.pose.finetune import finetune

    s = finetune(
        args.data,
        args.out,
        init=args.init,
        arch=args.arch,
        config=args.config,
        iters=args.iters,
        batch_size=args.batch_size,
        lr=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        resume=args.resume,
        pseudo=args.pseudo,
        device=args.device,
        trust_checkpoint=args.trust_checkpoint,
    )
    losses = s["losses"]
    print(
        f"trained {len(losses)} iteration(s) on {s['train_images']} image(s); loss {losses[0]:.5f} -> {losses[-1]:.5f}"
        if losses
        else "no training iteration logged"
    )
    if "val_pckh" in s:
        print(f"validation PCKh@0.5 on {s['val_images']} image(s): {s['val_pckh']['pckh']:.3f}")
    print(
        f"checkpoint {s['checkpoint']}\nconfig     {s['config']}\n"
        f"use it: posekit extract VIDEO --out x.npz --pose mmpose --pose-config {s['config']} "
        f"--pose-checkpoint {s['checkpoint']}"
    )
    return 0


def add_commands(sub: Any) -> None:
    """Register: extract, extract-dataset, fit-mapping, pose-finetune."""
    p = sub.add_parser("extract", help="broadcast clip -> clean athlete skeleton (.npz + QC report + overlay)")
    p.add_argument("video", type=Path, help="video file (mp4/avi/mov/gif) or a folder of frames")
    p.add_argument("--out", type=Path, required=True, help="output skeleton .npz")
    p.add_argument("--overlay", type=Path, help="write an overlay video (.mp4) or GIF (.gif)")
    p.add_argument("--first-box", help="x0,y0,x1,y1 of the athlete in the first frame (else automatic)")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--end", type=int)
    add_model_args(p)
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("extract-dataset", help="every clip of a folder -> skeletons; resumable, with a QC table")
    p.add_argument("--frames-root", type=Path, help="FineDiving layout <root>/<match>/<idx>/*.jpg")
    p.add_argument("--videos", type=Path, help="a folder of video files (with --annotations: untrimmed broadcasts)")
    p.add_argument(
        "--annotations",
        type=Path,
        help="FineDiving_coarse_annotation.pkl: cut each dive (start_frame..end_frame) out of its video in --videos "
        "into <out>/<video>/<idx>.npz, the pose/ layout posekit train reads",
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--workers", type=int, default=1, help="local processes, or Ray actors with --engine ray")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="local process pool or Ray actors")
    p.add_argument("--ray-address", help="join a running Ray cluster: auto or HOST:PORT (default: start a local Ray)")
    add_model_args(p)
    p.set_defaults(func=_cmd_extract_dataset)

    p = sub.add_parser(
        "fit-mapping", help="calibrate the BlazePose -> MPII-16 mapping on hand-labelled frames (a joint regressor)"
    )
    p.add_argument("labels", type=Path, help="labels: LabelMe folder, COCO or MPII JSON")
    p.add_argument("--image-dir", type=Path, help="folder of the images (default: next to the labels)")
    p.add_argument("--out", type=Path, required=True, help="mapping JSON to write")
    p.add_argument("--ridge", type=float, default=1.0, help="shrinkage towards the geometric mapping (default 1)")
    p.add_argument("--name", default="fitted", help="name stored in the mapping")
    p.add_argument(
        "--new-group-at",
        nargs="+",
        metavar="IMAGE",
        help="images (in label order) that start a new clip: the held-out figure leaves one clip out",
    )
    p.set_defaults(func=_cmd_fit_mapping)

    p = sub.add_parser("pose-finetune", help="fine-tune mmpose HRNet on labelled athlete frames (mmengine Runner)")
    p.add_argument("--data", type=Path, required=True, help="MPII JSON folder (annotations.json + images/) or LabelMe")
    p.add_argument("--out", type=Path, required=True, help="work folder (checkpoints, config, summary)")
    p.add_argument(
        "--init", type=Path, help="initial checkpoint (local path, loaded weights-only); default: from scratch"
    )
    p.add_argument("--arch", choices=["w32", "w48"], default="w32")
    p.add_argument("--config", type=Path, help="an mmpose config instead of --arch: " + CONFIG_RUNS)
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--pseudo", type=Path, help="folder of unlabelled frames: add confident predictions, weighted 0.5")
    p.add_argument("--device", default="cpu")
    add_trust_arg(p)
    p.set_defaults(func=_cmd_pose_finetune)
