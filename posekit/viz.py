"""Plots a person would rather look at than read (matplotlib, headless ``Agg`` backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from graphs.hierarchy import LEVEL_NAMES, SUBSETS, Hierarchy  # noqa: E402
from graphs.layout import Layout, get_layout  # noqa: E402
from posekit.io import atomic_path  # noqa: E402

LEVEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c")


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Save atomically and close the figure."""
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def draw_skeleton(
    ax: Any,
    xy: np.ndarray,
    layout: str | Layout,
    valid: np.ndarray | None = None,
    joint_colours: Sequence[Any] | None = None,
    bone_colour: Any = "0.3",
    size: float | np.ndarray = 30,
    labels: bool = False,
) -> None:
    """Draw one ``(J, 2)`` pose (image coordinates, y down) on ``ax``; invalid joints are skipped."""
    lay = get_layout(layout)
    xy = np.asarray(xy)[:, :2]
    valid = np.ones(len(xy), bool) if valid is None else np.asarray(valid, bool)
    for a, b in lay.bone_index:
        if valid[a] and valid[b]:
            ax.plot(xy[[a, b], 0], xy[[a, b], 1], "-", color=bone_colour, lw=2, zorder=1)
    cols = joint_colours if joint_colours is not None else ["tab:red"] * len(xy)
    idx = np.nonzero(valid)[0]
    sizes = np.broadcast_to(np.asarray(size, dtype=float), (len(xy),))[idx]
    ax.scatter(xy[idx, 0], xy[idx, 1], c=[cols[i] for i in idx], s=sizes, zorder=2, edgecolors="k", linewidths=0.5)
    if labels:
        for i in idx:
            ax.annotate(lay.joints[i], xy[i], fontsize=6, xytext=(3, 3), textcoords="offset points")


def plot_hierarchy(h: Hierarchy, path: str | Path) -> Path:
    """The bone graph coloured by semantic level, ring numbers, and the 3 x 3 adjacency matrices."""
    fig = plt.figure(figsize=(14, 6.5))
    ax = fig.add_subplot(1, 2, 1)
    g = h.layout.graph
    pos = nx.kamada_kawai_layout(g)
    cols = [LEVEL_COLOURS[h.level_of_joint[j]] for j in g.nodes]
    nx.draw_networkx_edges(g, pos, ax=ax, width=2, edge_color="0.5")
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=cols, node_size=380, edgecolors="k")
    nx.draw_networkx_labels(g, pos, ax=ax, labels={j: str(h.ring_of_joint[j]) for j in g.nodes}, font_size=8)
    for j, (x, y) in pos.items():
        ax.annotate(h.layout.joints[j], (x, y), fontsize=7, xytext=(7, -10), textcoords="offset points")
    for lv, name in enumerate(LEVEL_NAMES):
        ax.scatter([], [], c=LEVEL_COLOURS[lv], label=f"H{lv} {name}", edgecolors="k")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(f"{h.layout.name}: rings (numbers) around {', '.join(h.layout.center)}")
    ax.axis("off")
    for lv in range(3):
        for s, sub in enumerate(SUBSETS):
            a = fig.add_subplot(3, 6, 6 * lv + 4 + s)
            a.imshow(h.adjacency[lv, s], cmap="viridis", vmin=0, vmax=1)
            a.set_xticks([])
            a.set_yticks([])
            if lv == 0:
                a.set_title(sub, fontsize=8)
            if s == 0:
                a.set_ylabel(f"H{lv}", fontsize=8)
    fig.suptitle("Hierarchical decomposition (HD-GCN / HP-MCoRe eq. 4): A[level, subset] (target x source)")
    return save_figure(fig, path)


def plot_sequence(seq: Any, path: str | Path, num_poses: int = 8, title: str | None = None) -> Path:
    """Key poses of a :class:`~posekit.skeleton.SkeletonSequence` side by side, plus the joint
    trajectories (x and y over time) and the confidence heatmap."""
    lay = seq.layout_obj
    T = seq.num_frames
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [2.2, 1.3, 1.3]})
    ax = axes[0]
    picks = np.linspace(0, T - 1, min(num_poses, T)).astype(int)
    xy = seq.xy
    valid = seq.valid
    spans = [np.ptp(xy[t][valid[t]], axis=0).max() for t in picks if valid[t].sum() > 1]
    span = float(max(spans)) if spans else 1.0
    for n, t in enumerate(picks):
        if not valid[t].any():
            continue
        col, row = n % 4, n // 4
        offset = np.array([col * span * 1.1, row * span * 1.3])
        shifted = xy[t] - np.median(xy[t][valid[t]], axis=0) + offset
        cols = ["tab:orange" if seq.interpolated[t, j] else "tab:red" for j in range(lay.num_joints)]
        draw_skeleton(ax, shifted, lay, valid[t], joint_colours=cols, size=14)
        ax.text(offset[0], offset[1] + span * 0.6, f"t={t}", ha="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("key poses (orange = interpolated)")
    ax = axes[1]
    for j in range(lay.num_joints):
        v = valid[:, j]
        ax.plot(np.nonzero(v)[0], xy[v, j, 1], lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("frame")
    ax.set_ylabel("y (image, down)")
    ax.set_title("joint heights over time")
    ax = axes[2]
    im = ax.imshow(seq.confidence.T, aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(lay.num_joints))
    ax.set_yticklabels(lay.joints, fontsize=6)
    ax.set_xlabel("frame")
    ax.set_title("confidence (0 = missing)")
    fig.colorbar(im, ax=ax, fraction=0.04)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_stage_timelines(
    boundaries: dict[str, np.ndarray],
    T: int,
    path: str | Path,
    stage_names: Sequence[str] = ("take-off", "flight", "entry"),
) -> Path:
    """One horizontal bar per clip, coloured by stage."""
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(boundaries) + 1.2))
    cmap = plt.get_cmap("tab10")
    for row, (_name, b) in enumerate(boundaries.items()):
        edges = [-0.5, *[float(x) + 0.5 for x in b], T - 0.5]
        for k in range(len(edges) - 1):
            ax.barh(row, edges[k + 1] - edges[k], left=edges[k], color=cmap(k), edgecolor="white")
    ax.set_yticks(range(len(boundaries)))
    ax.set_yticklabels(list(boundaries), fontsize=7)
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_xlabel(f"frame of the clip resampled to T = {T}")
    n_stages = max(len(b) for b in boundaries.values()) + 1
    names = [stage_names[k] if k < len(stage_names) else f"stage {k}" for k in range(n_stages)]
    handles = [Patch(color=cmap(k), label=n) for k, n in enumerate(names)]
    ax.legend(handles=handles, loc="lower center", ncol=n_stages, bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False)
    ax.invert_yaxis()
    ax.set_title("stage boundaries", pad=22)
    return save_figure(fig, path)


def plot_scatter(pred: np.ndarray, true: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Predicted vs true scores with the identity line."""
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.scatter(true, pred, s=8, alpha=0.6)
    lo, hi = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("true score")
    ax.set_ylabel("predicted score")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def plot_training_curves(history: Sequence[dict], path: str | Path) -> Path:
    """Training loss parts and validation SRCC per epoch."""
    epochs = [h["epoch"] + 1 for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for k in ("loss", "aqa", "ce", "cont"):
        if all(k in h for h in history):
            axes[0].plot(epochs, [h[k] for h in history], label=k)
    axes[0].set_xlabel("epoch")
    axes[0].set_title("training loss (eq. 23 and its parts)", fontsize=9)
    axes[0].legend(fontsize=8)
    val = [(h["epoch"] + 1, h["val_srcc"]) for h in history if "val_srcc" in h]
    if val:
        axes[1].plot(*zip(*val, strict=True), marker="o")
    axes[1].set_xlabel("epoch")
    axes[1].set_title("validation SRCC", fontsize=9)
    return save_figure(fig, path)


def _stage_colours(a: np.ndarray, frames: np.ndarray, per: int, cmap) -> tuple[list, np.ndarray, np.ndarray]:
    """Joint colours of one stage (its attribution ``a[frames]`` summed per joint, red lowered,
    blue raised), ``per`` evenly spaced key frames of the stage, and each joint's |attribution|
    relative to the stage's largest."""
    pj = a[frames].sum(axis=0) if len(frames) else np.zeros(a.shape[1])
    plim = float(np.abs(pj).max()) or 1.0
    cols = [cmap(0.5 + 0.5 * v / plim) for v in pj]
    picks = frames[np.linspace(0, len(frames) - 1, per).round().astype(int)] if len(frames) else np.zeros(0, int)
    return cols, picks, np.abs(pj) / plim


def plot_explanation(expl: Any, pose: np.ndarray, out_dir: str | Path, layout: str = "mpii16") -> list[Path]:
    """Pictures of a :class:`posekit.explain.Explanation`.

    ``pose`` is the query's ``(C, T, V)`` (normalised) skeleton. Writes
    ``explain_skeletons.png`` (key frames of each stage, joints coloured by their
    attribution in that stage: red lowered the score, blue raised it),
    ``explain_heatmap.png`` (joint x frame attribution with the stage boundaries) and
    ``explain_stages.png`` (per-stage relative scores against the exemplars).
    """
    out = Path(out_dir)
    a = expl.joint_frame_array  # (T, V)
    T, V = a.shape
    stage = expl.stage_of_frame
    K = len(expl.stage_names)
    lim = float(np.abs(a).max()) or 1.0
    cmap = plt.get_cmap("RdBu")
    paths = []

    # skeletons at key frames
    per = 3
    fig, axes = plt.subplots(K, per, figsize=(2.2 * per, 2.4 * K), squeeze=False)
    xy = np.asarray(pose)[:2].transpose(1, 2, 0)  # (T, V, 2)
    valid = np.asarray(pose)[2] > 0 if np.asarray(pose).shape[0] > 2 else np.ones((T, V), bool)
    for k in range(K):
        frames = np.nonzero(stage == k)[0]
        cols, picks, _ = _stage_colours(a, frames, per, cmap)
        for i in range(per):
            ax = axes[k, i]
            ax.set_aspect("equal")
            ax.invert_yaxis()
            ax.axis("off")
            if i < len(picks):
                t = int(picks[i])
                draw_skeleton(ax, xy[t], layout, valid[t], joint_colours=cols, size=40)
                ax.set_title(f"{expl.stage_names[k]} t={t}", fontsize=7)
    fig.suptitle("joints coloured by attribution in their stage (red lowered, blue raised)", fontsize=8)
    paths.append(save_figure(fig, out / "explain_skeletons.png"))

    # joint x frame heatmap
    fig, ax = plt.subplots(figsize=(9, 4))
    im = ax.imshow(a.T, aspect="auto", cmap="RdBu", vmin=-lim, vmax=lim, interpolation="nearest")
    for b in expl.boundaries:
        ax.axvline(b + 0.5, color="k", lw=1, ls="--")
    ax.set_yticks(range(V))
    ax.set_yticklabels(expl.joint_names, fontsize=6)
    ax.set_xlabel("frame")
    ax.set_title(f"attribution per joint and frame ({expl.attribution}, baseline {expl.baseline})", fontsize=9)
    fig.colorbar(im, ax=ax, label="score points")
    paths.append(save_figure(fig, out / "explain_heatmap.png"))

    # stage bars
    fig, ax = plt.subplots(figsize=(5, 3.2))
    d = np.asarray(expl.stage_deltas)
    names = expl.stage_names if len(d) == len(expl.stage_names) else ["whole clip"] * len(d)
    ax.bar(names, d, color=["tab:blue" if v >= 0 else "tab:red" for v in d])
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("relative score vs exemplars")
    ax.set_title(
        f"predicted {expl.score:.1f} = exemplars {np.mean(expl.exemplar_targets):.1f} + {d.sum():+.1f}", fontsize=9
    )
    for i, w in enumerate(expl.stage_weights[: len(d)]):
        ax.annotate(f"λ={w:.2f}", (i, d[i]), ha="center", va="bottom" if d[i] >= 0 else "top", fontsize=7)
    paths.append(save_figure(fig, out / "explain_stages.png"))
    return paths


def plot_explanation_on_frames(
    expl: Any,
    frames: Sequence[np.ndarray],
    keypoints: np.ndarray,
    path: str | Path,
    layout: str = "mpii16",
    per_stage: int = 3,
) -> Path:
    """The explanation drawn on the video: ``per_stage`` key frames of each stage with the
    athlete's skeleton (``keypoints`` ``(F, V, 3)`` pixel x, y, confidence - the extracted
    skeleton of the same ``F`` frames), joints coloured by their attribution in that stage
    (red lowered the score, blue raised it; size grows with the magnitude). The model's
    ``T``-frame grid is mapped linearly onto the ``F`` video frames."""
    a = expl.joint_frame_array
    T, V = a.shape
    F = len(frames)
    kp = np.asarray(keypoints)
    if kp.shape[0] != F or kp.shape[1] != V:
        raise ValueError(f"keypoints must be ({F}, {V}, 3) for {F} frames and {V} joints, got {kp.shape}")
    stage = expl.stage_of_frame
    K = len(expl.stage_names)
    cmap = plt.get_cmap("RdBu")
    fig, axes = plt.subplots(K, per_stage, figsize=(3.2 * per_stage, 2.6 * K), squeeze=False)
    for k in range(K):
        cols, picks, rel = _stage_colours(a, np.nonzero(stage == k)[0], per_stage, cmap)
        for i in range(per_stage):
            ax = axes[k, i]
            ax.axis("off")
            if i >= len(picks):
                continue
            f = int(round(picks[i] * (F - 1) / max(T - 1, 1)))
            ax.imshow(frames[f])
            valid = kp[f, :, 2] > 0 if kp.shape[2] > 2 else np.ones(V, bool)
            draw_skeleton(ax, kp[f, :, :2], layout, valid, joint_colours=cols, bone_colour="w", size=20 + 60 * rel)
            ax.set_title(f"{expl.stage_names[k]}: frame {f}", fontsize=7)
    fig.suptitle(f"predicted {expl.score:.1f}: joints coloured by attribution (red lowered, blue raised)", fontsize=8)
    return save_figure(fig, path)


def plot_cv(summary: dict[str, Any], path: str | Path) -> Path:
    """``posekit cv``: SRCC per fold and pooled for the method and each baseline, and the
    pooled per-stage IoU of each segmenter."""
    names = list(summary["pooled"])
    iou = summary.get("stage_iou") or {}
    fig, axes = plt.subplots(1, 2 if iou else 1, figsize=(11 if iou else 6.5, 3.6), squeeze=False)
    ax = axes[0, 0]
    folds = [f"fold {r['fold']}" for r in summary["per_fold"]] + ["pooled"]
    w = 0.8 / len(names)
    for i, n in enumerate(names):
        vals = [r[n].get("srcc", np.nan) for r in summary["per_fold"]] + [summary["pooled"][n].get("srcc", np.nan)]
        ax.bar(np.arange(len(folds)) + (i - (len(names) - 1) / 2) * w, vals, w, label=n)
    ax.set_xticks(np.arange(len(folds)), folds, fontsize=8)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_ylabel("SRCC")
    ax.set_title(f"{summary['method']}: held-out SRCC by fold (group_by {summary.get('group_by')})", fontsize=9)
    ax.legend(fontsize=7)
    if iou:
        ax = axes[0, 1]
        stages = summary.get("stage_names") or [
            f"stage {k + 1}" for k in range(len(next(iter(iou.values()))["pooled"]))
        ]
        w = 0.8 / len(iou)
        for i, (n, v) in enumerate(iou.items()):
            ax.bar(np.arange(len(v["pooled"])) + (i - (len(iou) - 1) / 2) * w, v["pooled"], w, label=n)
        ax.set_xticks(np.arange(len(stages)), stages, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("IoU (pooled)")
        ax.set_title("stage segmentation", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_compare(summary: dict[str, Any], path: str | Path) -> Path:
    """``posekit cv`` with several configs: each method's pooled SRCC and MAE, their ensemble
    (orange) and the baselines fitted on the same folds (grey)."""
    rows = [(n, m, "C0") for n, m in summary["methods"].items()]
    if summary.get("ensemble"):
        rows.append((f"ensemble of the {len(summary['methods'])}", summary["ensemble"], "C1"))
    rows += [(n, m, "0.6") for n, m in summary["baselines"].items()]
    names = [r[0] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(rows) + 1.4), squeeze=False)
    for ax, key, label in ((axes[0, 0], "srcc", "pooled SRCC (higher is better)"), (axes[0, 1], "mae", "MAE")):
        vals = [float(m.get(key, np.nan)) for _, m, _ in rows]
        ax.barh(np.arange(len(rows)), np.nan_to_num(vals), color=[c for *_, c in rows])
        for i, v in enumerate(vals):
            ax.text(np.nan_to_num(v), i, f" {v:.3f}", va="center", fontsize=7)
        ax.set_yticks(np.arange(len(rows)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(label, fontsize=8)
    axes[0, 0].set_title(
        f"{summary['folds']} folds by {summary.get('group_by')}, {summary['n']} clips; grey: baselines", fontsize=9
    )
    fig.tight_layout()
    return save_figure(fig, path)
