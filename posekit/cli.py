"""The ``posekit`` command line: one subcommand per job (``posekit --help`` lists them).

Subcommand modules are imported only when their subcommand runs, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import posekit
from posekit.errors import GraphsError, PosekitError


def _cmd_layouts(args: argparse.Namespace) -> int:
    from graphs import available_layouts, build_hierarchy, get_layout

    if args.name is None:
        for name in available_layouts():
            lay = get_layout(name)
            print(f"{name:14s} {lay.num_joints:3d} joints  centre {', '.join(lay.center)}")
        return 0
    lay = get_layout(args.name)
    if args.json:
        print(json.dumps(lay.to_dict(), indent=2))
        return 0
    print(f"{lay.name}: {lay.num_joints} joints")
    for i, j in enumerate(lay.joints):
        print(f"  {i:2d} {j}")
    print(build_hierarchy(lay).describe())
    if args.plot:
        from posekit.viz import plot_hierarchy

        print(f"wrote {plot_hierarchy(build_hierarchy(lay), args.plot)}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from posekit.skeleton import SkeletonSequence

    seq = SkeletonSequence.from_pred_comp(args.file) if args.pred_comp else SkeletonSequence.load(args.file)
    info = {
        "file": str(args.file),
        "layout": seq.layout,
        "frames": seq.num_frames,
        "joints": seq.num_joints,
        "fps": seq.fps,
        "missing_fraction": round(float(1 - seq.valid.mean()), 4),
        "interpolated_fraction": round(float(seq.interpolated.mean()), 4),
        "mean_confidence": round(float(seq.confidence[seq.valid].mean()) if seq.valid.any() else 0.0, 4),
        "meta": seq.meta,
    }
    print(json.dumps(info, indent=2))
    return 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    import numpy as np

    from posekit import metrics

    pred, true = np.load(args.pred, allow_pickle=False), np.load(args.true, allow_pickle=False)
    print(json.dumps(metrics.score_metrics(pred, true), indent=2))
    return 0


def _cmd_dataset_info(args: argparse.Namespace) -> int:
    from posekit.training.datasets import dataset_kind

    kind = dataset_kind(args.kind)
    if kind.summary is None:
        raise PosekitError(f"dataset kind {kind.name!r} has no annotations to summarise")
    print(json.dumps(kind.summary(args.root), indent=2, default=str))
    return 0


def _parse_box(text: str | None):
    if text is None:
        return None
    import numpy as np

    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 4 or vals[2] <= vals[0] or vals[3] <= vals[1]:
        raise PosekitError(f"--first-box {text!r}: expected x0,y0,x1,y1 with x1 > x0 and y1 > y0")
    return np.array(vals)


def _check_outputs(out: Path | None, overlay: Path | None) -> None:
    """Before any work: the outputs have the right suffix and their folders can be written."""
    import os

    for path, flag, suffixes in ((out, "--out", (".npz",)), (overlay, "--overlay", (".mp4", ".gif"))):
        if path is None:
            continue
        if path.is_dir() or path.suffix.lower() not in suffixes:
            raise PosekitError(f"{path}: {flag} must be a file ending in {' or '.join(suffixes)}")
        parent = path.parent if str(path.parent) else Path(".")
        existing = next((q for q in [parent, *parent.parents] if q.exists()), Path("."))
        if not os.access(existing, os.W_OK):
            raise PosekitError(f"{path}: {flag}: {existing} is not writable")


def _cmd_extract(args: argparse.Namespace) -> int:
    from posekit.pose.options import ExtractionModels
    from posekit.pose.pipeline import ExtractConfig, extract

    _check_outputs(args.out, args.overlay)
    det, est = ExtractionModels.from_args(args).build()
    cfg = ExtractConfig(start=args.start, end=args.end, num_frames=args.num_frames, repeat_frames=args.repeat_frames)
    res = extract(
        args.video, det, est, first_box=_parse_box(args.first_box), config=cfg, out=args.out, overlay=args.overlay
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

    cfg = ExtractConfig(num_frames=args.num_frames, repeat_frames=args.repeat_frames)
    summary = extract_dataset(
        args.out, args.frames_root, args.videos, args.workers, ExtractionModels.from_args(args), cfg
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


CONFIG_RUNS = "a Python file that mmengine runs when it reads it: name only configs you trust"


def _add_trust_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load checkpoints that are not weights-only (this runs code from the file: only for files you "
        "made or trust). Without it posekit loads weights and mmengine's metadata and refuses anything else",
    )


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default="blazepose", choices=["blazepose", "hog", "blazepose+hog", "mmdet"])
    p.add_argument("--det-config", help="mmdet config (with --detector mmdet): " + CONFIG_RUNS)
    p.add_argument("--det-checkpoint", help="mmdet checkpoint from a local path (loaded weights-only)")
    p.add_argument("--pose", default="blazepose", choices=["blazepose", "mmpose"])
    p.add_argument("--pose-config", help="mmpose config (with --pose mmpose): " + CONFIG_RUNS)
    p.add_argument(
        "--pose-checkpoint", help="mmpose checkpoint from a local path (with --pose mmpose; loaded weights-only)"
    )
    _add_trust_arg(p)
    p.add_argument(
        "--pose-mapping",
        help="BlazePose -> MPII-16 mapping: a shipped name (default: finediving, calibrated on hand labels; "
        "geometric: the hand-written one) or a JSON from 'posekit fit-mapping'",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--num-frames", type=int, help="sample this many frames linearly (e.g. 96)")
    p.add_argument(
        "--repeat-frames", action="store_true", help="with --num-frames above the clip's length: repeat frames"
    )


def _cmd_annotate(args: argparse.Namespace) -> int:
    from posekit import labels as formats

    if args.action == "convert":
        labels = formats.read_any(args.src, args.layout, args.image_dir)
        out = formats.write_any(labels, args.dst, args.to)
        print(f"converted {len(labels)} label(s) to {args.to}: {out if not isinstance(out, list) else args.dst}")
        return 0
    if args.action == "validate":
        from annotations_tools.validate import validate

        rep = validate(args.src, args.layout, args.image_dir)
        print(rep.to_text())
        if args.report:
            from posekit.io import write_json

            write_json(args.report, rep.to_dict())
        return 0 if rep.ok else 1
    if args.action == "review":
        from annotations_tools.review import review

        rep = review(args.src, args.second, threshold=args.threshold, layout=args.layout)
        print(rep.to_text())
        if args.report:
            from posekit.io import write_json

            write_json(args.report, rep.to_dict())
        return 0
    if args.action == "sample":
        from annotations_tools.sample import sample_for_labelling
        from posekit.datasets import FineDiving

        fd = FineDiving(args.annotations)
        written = sample_for_labelling(
            fd.records,
            args.src,
            args.dst,
            per_dive=args.per_dive,
            stages=args.stages.split(","),
            stride=args.stride,
            predict=not args.no_predict,
            source=Path(args.annotations) / "FineDiving_coarse_annotation.pkl",
        )
        print(f"wrote {len(written)} frame(s) with LabelMe pseudo-labels to {args.dst}")
        return 0
    raise PosekitError(f"unknown annotate action {args.action}")


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


def _cmd_train(args: argparse.Namespace) -> int:
    from posekit.training import load_config, run_training

    cfg = load_config(args.config, args.set)
    work = args.work_dir or cfg.get("work_dir") or Path("work_dirs") / Path(args.config).stem
    s = run_training(cfg, work, resume=args.resume, overwrite=args.overwrite)
    if s:
        m = s["metrics"]
        print(
            f"test ({s['n']} clips, M = {s['exemplars']} exemplars, best epoch {s['best_epoch'] + 1}): "
            + " ".join(f"{k}={v:.4f}" for k, v in m.items())
        )
        print(f"outputs in {work}: best.pth, last.pth, metrics_test.json, predictions_test.csv, plots/")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from posekit.training import load_config, run_evaluation

    cfg = load_config(args.config, args.set)
    out = args.out or Path(args.checkpoint).parent
    s = run_evaluation(cfg, args.checkpoint, out, split=args.split)
    print(f"{args.split} ({s['n']} clips): " + " ".join(f"{k}={v:.4f}" for k, v in s["metrics"].items()))
    print(f"written: {out}/metrics_{args.split}.json, predictions_{args.split}.csv, plots/")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from posekit.synthetic import DiveGenerator, write_finediving_layout

    gen = DiveGenerator(T=args.frames, static_dim=args.feature_dim, dynamic_dim=args.feature_dim)
    root = write_finediving_layout(
        args.out,
        {
            "train": gen.dataset(args.train, seed=args.seed, split="train"),
            "test": gen.dataset(args.test, seed=args.seed + 10_000, split="test"),
        },
    )
    print(f"wrote {args.train} + {args.test} generated dives in the FineDiving layout under {root}")
    return 0


def _cmd_features(args: argparse.Namespace) -> int:
    from posekit.features import extract_features_dataset

    done = extract_features_dataset(
        args.frames_root,
        args.out,
        kind=args.kind,
        weights=args.weights,
        arch=args.arch,
        num_frames=args.num_frames,
        clip_len=args.clip_len,
        num_clips=args.num_clips,
        device=args.device,
        batch_size=args.batch_size,
    )
    print(f"{done['written']} clip(s) written, {done['skipped']} already done, {len(done['failed'])} failed")
    for k, why in done["failed"].items():
        print(f"  FAILED {k}: {why}")
    return 1 if done["failed"] else 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from posekit.explain import explain_sample

    res = explain_sample(
        args.config,
        args.checkpoint,
        args.sample,
        args.out,
        exemplars=args.exemplars,
        attribution=args.attribution,
        baseline=args.baseline,
        overrides=args.set,
    )
    if args.clip is not None:  # the explanation on the video frames, with the extracted skeleton
        from posekit.pose.video import read_clip
        from posekit.skeleton import SkeletonSequence
        from posekit.viz import plot_explanation_on_frames

        if args.skeleton is None:
            raise PosekitError("--clip needs --skeleton (the skeleton extracted from that clip, pixel coordinates)")
        seq = SkeletonSequence.load(args.skeleton)
        clip = read_clip(args.clip, num_frames=seq.num_frames, repeat=True)
        out = args.out / "explain_video.png"
        res.paths.append(plot_explanation_on_frames(res.explanation, clip.frames, seq.data, out, seq.layout))
    print(res.explanation.summary())
    print("written " + ", ".join(str(p) if i == 0 else p.name for i, p in enumerate(res.paths)))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from posekit import demo

    return demo.cli(args)


def _add_pose_commands(sub: Any) -> None:
    """Job 1: video -> skeletons, labels, fine-tuning."""
    p = sub.add_parser("extract", help="broadcast clip -> clean athlete skeleton (.npz + QC report + overlay)")
    p.add_argument("video", type=Path, help="video file (mp4/avi/mov/gif) or a folder of frames")
    p.add_argument("--out", type=Path, required=True, help="output skeleton .npz")
    p.add_argument("--overlay", type=Path, help="write an overlay video (.mp4) or GIF (.gif)")
    p.add_argument("--first-box", help="x0,y0,x1,y1 of the athlete in the first frame (else automatic)")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--end", type=int)
    _add_model_args(p)
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("extract-dataset", help="every clip of a folder -> skeletons; resumable, with a QC table")
    p.add_argument("--frames-root", type=Path, help="FineDiving layout <root>/<match>/<idx>/*.jpg")
    p.add_argument("--videos", type=Path, help="a folder of video files")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--workers", type=int, default=1)
    _add_model_args(p)
    p.set_defaults(func=_cmd_extract_dataset)

    p = sub.add_parser("annotate", help="keypoint labels: sample frames, convert, validate, review two annotators")
    p.add_argument("action", choices=["sample", "convert", "validate", "review"])
    p.add_argument("src", type=Path, help="labels (LabelMe folder, COCO or MPII JSON); for sample: the frames root")
    p.add_argument("dst", type=Path, nargs="?", help="convert: output (folder for labelme); sample: output folder")
    p.add_argument("--to", choices=["labelme", "coco", "mpii"], help="convert: target format")
    p.add_argument("--second", type=Path, help="review: the second annotator's labels")
    p.add_argument("--threshold", type=float, default=0.5, help="review: flag distances above this (head sizes)")
    p.add_argument("--layout", default="mpii16")
    p.add_argument("--image-dir", type=Path, help="folder of the images (default: next to the labels)")
    p.add_argument("--report", type=Path, help="validate/review: also write the report as JSON")
    p.add_argument("--annotations", type=Path, help="sample: FineDiving annotation folder")
    p.add_argument("--per-dive", type=int, default=10, help="sample: clips per dive number")
    p.add_argument("--stages", default="flight", help="sample: comma-separated stages (takeoff,flight,entry)")
    p.add_argument("--stride", type=int, default=1, help="sample: keep every n-th frame of the chosen stages")
    p.add_argument("--no-predict", action="store_true", help="sample: empty labels instead of pseudo-labels")
    p.set_defaults(func=_cmd_annotate)

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
    _add_trust_arg(p)
    p.set_defaults(func=_cmd_pose_finetune)


def _add_aqa_commands(sub: Any) -> None:
    """Jobs 2 and 3: training, evaluation, explanation, data for them."""
    p = sub.add_parser(
        "train",
        help="train an AQA model (the config's method: hpmcore, tsa, core, ...); resumable; DDP via torchrun",
    )
    p.add_argument("config", type=Path, help="configs/aqa/*.yaml")
    p.add_argument("--work-dir", type=Path, help="output folder (default: work_dirs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from <work-dir>/last.pth (same config)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run in <work-dir>")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override options, e.g. train.epochs=3")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained checkpoint on a split (multi-exemplar voting)")
    p.add_argument("config", type=Path)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--split", choices=["test", "val", "train"], default="test")
    p.add_argument("--out", type=Path, help="output folder (default: the checkpoint's folder)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("explain", help="which joints, frames and stages moved one prediction (JSON + pictures)")
    p.add_argument("config", type=Path, help="the training config (to find the data)")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument(
        "--sample", required=True, help="clip key, e.g. 'test/3' or 'FINADivingWorldCup2021_Men3m_final_r1/0'"
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--attribution",
        choices=["integrated_gradients", "gradient_x_input", "occlusion"],
        default="integrated_gradients",
        help="how the score is attributed to the inputs (the AQA method is the checkpoint's)",
    )
    p.add_argument(
        "--baseline",
        choices=["aligned", "exemplar", "mean", "zeros"],
        default="aligned",
        help="what attributions are measured against (default: the exemplars' mean, aligned stage by stage)",
    )
    p.add_argument("--exemplars", type=int, default=10)
    p.add_argument("--clip", type=Path, help="the sample's video: also draw the explanation on its frames")
    p.add_argument("--skeleton", type=Path, help="with --clip: the skeleton .npz extracted from it (posekit extract)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("synth", help="write generated dives with known flaws as a FineDiving-layout dataset")
    p.add_argument("out", type=Path)
    p.add_argument("--train", type=int, default=200)
    p.add_argument("--test", type=int, default=80)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--feature-dim", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("features", help="RGB features of every clip (torchvision backbone, weights from a path)")
    p.add_argument("--frames-root", type=Path, required=True, help="FineDiving layout <root>/<video>/<idx>/*.jpg")
    p.add_argument("--out", type=Path, required=True, help="writes <out>/<video>/<idx>.npy")
    p.add_argument("--kind", choices=["static", "dynamic"], required=True)
    p.add_argument("--weights", type=Path, help="torchvision state dict (.pth); without it random weights (tests only)")
    p.add_argument(
        "--arch", help="static: resnet50 (default) | resnet18; dynamic: r3d_18 (default) | r2plus1d_18 | mc3_18"
    )
    p.add_argument("--num-frames", type=int, default=96)
    p.add_argument("--clip-len", type=int, default=16)
    p.add_argument("--num-clips", type=int, default=9)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_cmd_features)


def _add_tool_commands(sub: Any) -> None:
    """The demo and small tools."""
    p = sub.add_parser("layouts", help="list skeleton layouts, or show one with its hierarchy")
    p.add_argument("name", nargs="?", help="layout name or YAML path")
    p.add_argument("--json", action="store_true", help="print the layout as JSON")
    p.add_argument("--plot", type=Path, help="write a PNG of the hierarchy")
    p.set_defaults(func=_cmd_layouts)

    p = sub.add_parser("inspect", help="summarise a skeleton .npz")
    p.add_argument("file", type=Path)
    p.add_argument("--pred-comp", action="store_true", help="the file is an HP-MCoRe pred_comp_<idx>.npz")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("metrics", help="SRCC, R-l2 x100 and MSE of predicted vs true scores (.npy)")
    p.add_argument("--pred", type=Path, required=True)
    p.add_argument("--true", type=Path, required=True)
    p.set_defaults(func=_cmd_metrics)

    p = sub.add_parser("dataset-info", help="summarise a dataset's annotations (FineDiving, MTL-AQA, SPEED21, ...)")
    p.add_argument("kind", help="the data.kind: finediving, mtl_aqa, speed_climbing, generic or one you registered")
    p.add_argument("root", type=Path, help="annotation folder (FineDiving, MTL-AQA) or dataset root")
    p.set_defaults(func=_cmd_dataset_info)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="posekit",
        description="Skeleton-first action quality assessment: video -> skeletons -> scores -> explanations.",
    )
    ap.add_argument("--version", action="version", version=f"posekit {posekit.__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="run the toolkit end to end on embedded data, write demo_out/")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default: demo_out)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo)
    _add_pose_commands(sub)
    _add_aqa_commands(sub)
    _add_tool_commands(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "func", None):
        ap.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (PosekitError, GraphsError) as exc:
        print(f"posekit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
