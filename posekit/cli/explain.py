"""Job 3 on the command line: ``posekit explain`` over :func:`posekit.explain.explain_sample`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from posekit.cli.common import add_layout_arg
from posekit.errors import PosekitError


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


def add_commands(sub: Any) -> None:
    """Register: explain."""
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
    add_layout_arg(p)
    p.set_defaults(func=_cmd_explain)
