"""The ``posekit`` command line: one subcommand per job (``posekit --help`` lists them).

One module per job, each command a thin layer over a library function:
:mod:`posekit.cli.pose` (job 1), :mod:`posekit.cli.annotate`, :mod:`posekit.cli.train`
(job 2), :mod:`posekit.cli.explain` (job 3) and :mod:`posekit.cli.tools`. Libraries are
imported only when their subcommand runs, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import sys

import posekit
from posekit.errors import GraphsError, PosekitError


def build_parser() -> argparse.ArgumentParser:
    from posekit.cli import annotate, explain, pose, tools, train

    ap = argparse.ArgumentParser(
        prog="posekit",
        description="Skeleton-first action quality assessment: video -> skeletons -> scores -> explanations.",
    )
    ap.add_argument("--version", action="version", version=f"posekit {posekit.__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    for module in (tools, pose, annotate, train, explain):
        module.add_commands(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "func", None):
        ap.print_help()
        return 0
    try:
        if getattr(args, "layout_files", None):
            from graphs.layout import register_layout

            for path in args.layout_files:
                register_layout(path)
        return int(args.func(args) or 0)
    except (PosekitError, GraphsError) as exc:
        print(f"posekit {args.command}: error: {exc}", file=sys.stderr)
        return 2
