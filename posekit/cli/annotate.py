"""``posekit annotate``: sample frames to label, convert, validate and review keypoint labels."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from posekit.errors import PosekitError


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


def add_commands(sub: Any) -> None:
    """Register: annotate."""
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
