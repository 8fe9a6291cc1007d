"""Job 2 on the command line: ``train``, ``evaluate`` and the data they read (``synth``,
``features``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from posekit.cli.common import add_layout_arg


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


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from posekit.training import load_config
    from posekit.training.pretrain import run_pretrain

    cfg = load_config(args.config, args.set)
    work = args.work_dir or Path("work_dirs") / f"{Path(args.config).stem}_pretrain"
    s = run_pretrain(cfg, work)
    last = s["history"][-1]["pretrain_loss"] if s["history"] else float("nan")
    print(f"pre-trained on {s['clips']} clips' skeletons (no scores), last loss {last:.4f}")
    print(f"written {s['checkpoint']}: start a run from it with --set train.init_from={s['checkpoint']}")
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

    gen = DiveGenerator(num_frames=args.num_frames, static_dim=args.feature_dim, dynamic_dim=args.feature_dim)
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


def _cmd_cv(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from posekit.training.cv import cross_validate

    if len(args.config) > 1:
        return _cmd_compare(args)
    s = cross_validate(args.config[0], args.folds, args.work_dir, args.set, overwrite=args.overwrite, seeds=args.seeds)
    ens = f" (mean of {s['seeds']} seeds)" if s["seeds"] > 1 else ""
    table = Table(title=f"posekit cv: {s['method']}{ens}, {s['folds']} folds by {s['group_by']}, {s['n']} clips")
    table.add_column("model")
    for col in [f"fold {r['fold']} SRCC" for r in s["per_fold"]] + ["pooled SRCC", "MAE", "R-l2 x100"]:
        table.add_column(col, justify="right")
    for name, m in s["pooled"].items():
        folds = [f"{r[name].get('srcc', float('nan')):.3f}" for r in s["per_fold"]]
        table.add_row(
            name,
            *folds,
            f"{m.get('srcc', float('nan')):.3f}",
            f"{m['mae']:.3f}",
            f"{m.get('r_l2_x100', float('nan')):.3f}",
        )
    console = Console()
    console.print(table)
    for i, m in enumerate(s.get("members", [])):
        console.print(f"seed member {i}: pooled SRCC {m.get('srcc', float('nan')):.3f}, MAE {m['mae']:.3f}")
    for name, v in s["stage_iou"].items():
        stages = ", ".join(f"{n} {x:.2f}" for n, x in zip(s["stage_names"], v["pooled"], strict=False))
        console.print(f"stage IoU (pooled) {name}: {stages}")
    console.print(f"written {args.work_dir / 'cv.json'}, predictions_cv.csv, cv.png")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from posekit.training.cv import compare_configs

    s = compare_configs(args.config, args.folds, args.work_dir, args.set, overwrite=args.overwrite, seeds=args.seeds)
    ens = f", each the mean of {s['seeds']} seeds" if s["seeds"] > 1 else ""
    table = Table(
        title=f"posekit cv: {len(s['methods'])} configs{ens}, {s['folds']} folds by {s['group_by']}, {s['n']} clips"
    )
    for col in ("config", "method", "pooled SRCC", "MAE", "R-l2 x100", "seed members' SRCC"):
        table.add_column(col, justify="left" if col in ("config", "method") else "right")
    rows = [(n, m["method"], m) for n, m in s["methods"].items()]
    if s.get("ensemble"):
        rows.append(("ensemble", f"mean of the {len(s['methods'])}", s["ensemble"]))
    rows += [(n, "baseline", m) for n, m in s["baselines"].items()]
    for name, method, m in rows:
        members = " / ".join(f"{x.get('srcc', float('nan')):.3f}" for x in m.get("members", []))
        table.add_row(
            name,
            method,
            f"{m.get('srcc', float('nan')):.3f}",
            f"{m['mae']:.3f}",
            f"{m.get('r_l2_x100', float('nan')):.3f}",
            members,
        )
    console = Console()
    console.print(table)
    console.print(
        f"written {args.work_dir / 'compare.json'}, compare.png, predictions_compare.csv; "
        "each config's cv.json in its own folder"
    )
    return 0


def add_commands(sub: Any) -> None:
    """Register: train, evaluate, synth, features."""
    p = sub.add_parser(
        "train",
        help="train an AQA model (the config's method: hpmcore, tsa, core, ...); resumable; DDP via torchrun",
    )
    p.add_argument("config", type=Path, help="configs/aqa/*.yaml")
    p.add_argument("--work-dir", type=Path, help="output folder (default: work_dirs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from <work-dir>/last.pth (same config)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run in <work-dir>")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override options, e.g. train.epochs=3")
    add_layout_arg(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "pretrain",
        help="self-supervised pre-training of the skeletal encoder (masked motion prediction) on skeletons, no scores",
    )
    p.add_argument("config", type=Path, help="configs/aqa/*.yaml (its training clips; train.pretrain_epochs)")
    p.add_argument("--work-dir", type=Path, help="output folder (default: work_dirs/<config name>_pretrain)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="e.g. train.pretrain_epochs=50")
    add_layout_arg(p)
    p.set_defaults(func=_cmd_pretrain)

    p = sub.add_parser("cv", help="grouped k-fold cross-validation, pooled, next to baselines on the same folds")
    p.add_argument(
        "config",
        type=Path,
        nargs="+",
        help="configs/aqa/*.yaml; several: compared on the same folds, each in its own folder",
    )
    p.add_argument("--folds", type=int, default=5)
    p.add_argument(
        "--work-dir",
        type=Path,
        required=True,
        help="one fold<k>/ training folder each, cv.json (several configs: <name>/)",
    )
    p.add_argument("--overwrite", action="store_true", help="retrain folds that exist (default: reuse finished ones)")
    p.add_argument(
        "--seeds", type=int, default=1, help="a seed ensemble: average this many members trained with consecutive seeds"
    )
    p.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="override options, e.g. data.group_by=athlete"
    )
    add_layout_arg(p)
    p.set_defaults(func=_cmd_cv)

    p = sub.add_parser("evaluate", help="evaluate a trained checkpoint on a split (multi-exemplar voting)")
    p.add_argument("config", type=Path)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--split", choices=["test", "val", "train"], default="test")
    p.add_argument("--out", type=Path, help="output folder (default: the checkpoint's folder)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    add_layout_arg(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("synth", help="write generated dives with known flaws as a FineDiving-layout dataset")
    p.add_argument("out", type=Path)
    p.add_argument("--train", type=int, default=200)
    p.add_argument("--test", type=int, default=80)
    p.add_argument(
        "--num-frames", type=int, default=48, help="frames per generated dive (data.num_frames of the config)"
    )
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
