"""The demo and small tools: ``demo``, ``layouts``, ``inspect``, ``metrics``, ``dataset-info``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from posekit.cli.common import add_layout_arg
from posekit.errors import PosekitError


def _cmd_demo(args: argparse.Namespace) -> int:
    from posekit import demo

    return demo.cli(args)


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


def add_commands(sub: Any) -> None:
    """Register: demo, layouts, inspect, metrics, dataset-info."""
    p = sub.add_parser("demo", help="run the toolkit end to end on embedded data, write demo_out/")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default: demo_out)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("layouts", help="list skeleton layouts, or show one with its hierarchy")
    p.add_argument("name", nargs="?", help="layout name or YAML path")
    p.add_argument("--json", action="store_true", help="print the layout as JSON")
    p.add_argument("--plot", type=Path, help="write a PNG of the hierarchy")
    p.set_defaults(func=_cmd_layouts)

    p = sub.add_parser("inspect", help="summarise a skeleton .npz")
    p.add_argument("file", type=Path)
    p.add_argument("--pred-comp", action="store_true", help="the file is an HP-MCoRe pred_comp_<idx>.npz")
    add_layout_arg(p)
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("metrics", help="SRCC, R-l2 x100 and MSE of predicted vs true scores (.npy)")
    p.add_argument("--pred", type=Path, required=True)
    p.add_argument("--true", type=Path, required=True)
    p.set_defaults(func=_cmd_metrics)

    p = sub.add_parser("dataset-info", help="summarise a dataset's annotations (FineDiving, MTL-AQA, SPEED21, ...)")
    p.add_argument("kind", help="the data.kind: finediving, mtl_aqa, speed_climbing, generic or one you registered")
    p.add_argument("root", type=Path, help="annotation folder (FineDiving, MTL-AQA) or dataset root")
    p.set_defaults(func=_cmd_dataset_info)
