"""Helpers the command modules share: option groups and argument checks."""

from __future__ import annotations

import argparse
from pathlib import Path

from posekit.errors import PosekitError


def parse_box(text: str | None):
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


def check_outputs(out: Path | None, overlay: Path | None) -> None:
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


CONFIG_RUNS = "a Python file that mmengine runs when it reads it: name only configs you trust"


def add_trust_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load checkpoints that are not weights-only (this runs code from the file: only for files you "
        "made or trust). Without it posekit loads weights and mmengine's metadata and refuses anything else",
    )


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default="blazepose", choices=["blazepose", "hog", "blazepose+hog", "mmdet"])
    p.add_argument("--det-config", help="mmdet config (with --detector mmdet): " + CONFIG_RUNS)
    p.add_argument("--det-checkpoint", help="mmdet checkpoint from a local path (loaded weights-only)")
    p.add_argument("--pose", default="blazepose", choices=["blazepose", "mmpose"])
    p.add_argument("--pose-config", help="mmpose config (with --pose mmpose): " + CONFIG_RUNS)
    p.add_argument(
        "--pose-checkpoint", help="mmpose checkpoint from a local path (with --pose mmpose; loaded weights-only)"
    )
    add_trust_arg(p)
    p.add_argument(
        "--pose-mapping",
        help="BlazePose -> MPII-16 mapping: a shipped name (default: finediving, calibrated on hand labels; "
        "geometric: the hand-written one) or a JSON from 'posekit fit-mapping'",
    )
    p.add_argument(
        "--blazepose",
        choices=["auto", "solution", "direct"],
        default="auto",
        help="how the embedded BlazePose runs: solution (mediapipe's solution API), direct (its detector and "
        "landmark networks through LiteRT: faster, less accurate with accurate / balanced); auto (default): "
        "direct with --quality fast, solution otherwise (README, 'Quality presets')",
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="cpu, cuda, cuda:N or mps: where the mmpose / mmdet models run (BlazePose runs on the CPU); "
        "with --engine ray each worker of such a model holds one GPU",
    )
    p.add_argument("--num-frames", type=int, help="sample this many frames linearly (e.g. 96)")
    p.add_argument(
        "--quality",
        choices=["fast", "balanced", "accurate"],
        default="balanced",
        help="accurate: detector + 8 angles x mirror on every frame; balanced (default) / fast: once tracked, "
        "BlazePose's landmark network alone on the region the previous pose gives (2 passes / 1 pass, x mirror), "
        "the full search when unsure; they choose the athlete over 3 / 2 frames with lighter searches; fast "
        "runs BlazePose's direct backend by default (--blazepose auto; README, 'Quality presets')",
    )
    p.add_argument(
        "--repeat-frames", action="store_true", help="with --num-frames above the clip's length: repeat frames"
    )


def add_layout_arg(p: argparse.ArgumentParser) -> None:
    """``--layout FILE.yaml`` (repeatable): register your own skeleton layouts before the
    command reads skeletons (files saved by posekit carry their layout and need none)."""
    p.add_argument(
        "--layout",
        dest="layout_files",
        action="append",
        default=[],
        type=Path,
        metavar="FILE.yaml",
        help="a skeleton layout YAML to register beside the built-in ones (repeatable)",
    )
