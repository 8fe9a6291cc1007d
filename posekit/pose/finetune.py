"""``posekit pose-finetune``: fine-tune an mmpose top-down HRNet on hand-labelled athlete frames.

The HP-MCoRe recipe: stock HRNet fails on divers (blur, extreme poses, spectators), so it is
fine-tuned on labelled athlete frames. Input: a folder with MPII-style labels
(``annotations.json`` + ``images/``, e.g. the output of ``posekit annotate convert --to mpii``)
or a LabelMe folder. The labels are split into train / validation (deterministic), written for
:mod:`posekit.pose.mmpose_dataset` (metainfo from :mod:`graphs`), and mmengine's ``Runner`` trains
``configs/pose/hrnet_w32_mpii16_256x256.py`` (or W48) from a user-given checkpoint or from
scratch - never from a URL. Resume picks up the latest checkpoint in the work folder.
Afterwards PCKh@0.5 is measured on the validation split through the extraction pipeline's
:class:`~posekit.pose.estimate.MMPoseEstimator` (ground-truth boxes), and the config the
checkpoint needs is saved next to it for ``posekit extract --pose mmpose``.

Optional bootstrapping: ``pseudo`` is a folder of unlabelled frames; the default estimator's
confident predictions on them join the training set with keypoint weight ``pseudo_weight``
(mmpose uses ``keypoints_visible`` as the heatmap loss weight).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import PosekitError
from posekit.io import write_json
from posekit.labels import KeypointLabel, read_any, write_mpii
from posekit.paths import REPO_ROOT

CONFIGS = {
    "w32": REPO_ROOT / "configs" / "pose" / "hrnet_w32_mpii16_256x256.py",
    "w48": REPO_ROOT / "configs" / "pose" / "hrnet_w48_mpii16_256x256.py",
}


def split_labels(labels: list[KeypointLabel], val_fraction: float, seed: int) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    n_val = max(1, round(val_fraction * len(labels))) if val_fraction > 0 else 0
    val = [labels[i] for i in sorted(order[:n_val])]
    train = [labels[i] for i in sorted(order[n_val:])]
    return train, val


def pseudo_labels(folder: Path, min_conf: float, weight: float) -> list[dict]:
    """MPII records from the default pipeline's confident predictions on unlabelled frames."""
    from PIL import Image

    from posekit.pose.detect import build_detector
    from posekit.pose.estimate import build_estimator
    from posekit.pose.video import IMAGE_SUFFIXES

    det, est = build_detector("blazepose"), build_estimator("blazepose")
    recs = []
    for f in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        img = np.asarray(Image.open(f).convert("RGB"))
        boxes = det(img)
        if not len(boxes):
            continue
        box = boxes[np.argmax(boxes[:, 4])]
        pose, _ = est.estimate_one(img, box)
        ok = pose[:, 2] >= min_conf
        if ok.sum() < 8:
            continue
        x0, y0, x1, y1 = box[:4]
        recs.append(
            {
                "image": str(f.resolve()),
                "joints": pose[:, :2].tolist(),
                "joints_vis": [weight if o else 0.0 for o in ok],
                "center": [float((x0 + x1) / 2), float((y0 + y1) / 2)],
                "scale": float(max(x1 - x0, y1 - y0) / 200.0),
            }
        )
    return recs


def build_config(
    base: str | Path,
    work_dir: Path,
    train_json: Path,
    image_root: Path,
    iters: int,
    batch_size: int,
    lr: float,
    init: str | Path | None,
    seed: int,
) -> Any:
    from posekit import compat

    compat.install()
    from mmengine.config import Config

    import posekit.pose.mmpose_dataset  # noqa: F401 - registers PosekitKeypointDataset
    from posekit.pose.mmpose_meta import layout_metainfo

    cfg = Config.fromfile(str(base))
    codec = cfg.codec
    train_pipeline = [
        dict(type="LoadImage"),
        dict(type="GetBBoxCenterScale"),
        dict(type="RandomFlip", direction="horizontal"),
        dict(type="RandomBBoxTransform", shift_prob=0, rotate_factor=60, scale_factor=(0.75, 1.25)),
        dict(type="TopdownAffine", input_size=codec["input_size"]),
        dict(type="GenerateTarget", encoder=codec),
        dict(type="PackPoseInputs"),
    ]
    cfg.train_dataloader = dict(
        batch_size=batch_size,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type="DefaultSampler", shuffle=True),
        dataset=dict(
            type="PosekitKeypointDataset",
            data_root="",
            ann_file=str(train_json),
            data_prefix=dict(img=str(image_root)),
            metainfo=layout_metainfo("mpii16"),
            pipeline=train_pipeline,
        ),
    )
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=iters + 1)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = dict(
        batch_size=batch_size,
        num_workers=0,
        dataset=dict(type="PosekitKeypointDataset", pipeline=cfg.test_pipeline, test_mode=True),
    )
    cfg.optim_wrapper = dict(optimizer=dict(type="Adam", lr=lr))
    cfg.param_scheduler = [dict(type="LinearLR", begin=0, end=min(50, iters), start_factor=0.1, by_epoch=False)]
    cfg.default_hooks = dict(
        timer=dict(type="IterTimerHook"),
        logger=dict(type="LoggerHook", interval=1),
        param_scheduler=dict(type="ParamSchedulerHook"),
        checkpoint=dict(
            type="CheckpointHook", interval=max(1, iters // 2), by_epoch=False, max_keep_ckpts=2, save_last=True
        ),
        sampler_seed=dict(type="DistSamplerSeedHook"),
    )
    cfg.env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method="fork"), dist_cfg=dict(backend="gloo"))
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.log_processor = dict(by_epoch=False, window_size=1)
    # a fresh name per run: mmengine keeps visualizers as named singletons, and a second run in the same
    # process would otherwise log its scalars into the first run's folder
    cfg.visualizer = dict(
        type="PoseLocalVisualizer",
        vis_backends=[dict(type="LocalVisBackend")],
        name=f"posekit_visualizer_{time.time_ns()}",
    )
    cfg.log_level = "INFO"
    cfg.load_from = str(init) if init else None
    cfg.resume = False
    cfg.work_dir = str(work_dir)
    return cfg


def read_losses(work_dir: Path) -> list[float]:
    """Training losses logged by mmengine (``vis_data/scalars.json``), in order."""
    out = []
    for f in sorted(work_dir.glob("*/vis_data/scalars.json")):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            if "loss" in rec:
                out.append(float(rec["loss"]))
    return out


def evaluate_pckh(
    config: Path,
    checkpoint: Path,
    labels: list[KeypointLabel],
    image_root: Path,
    device: str = "cpu",
    trust_checkpoint: bool = False,
) -> dict:
    from PIL import Image

    from posekit import metrics
    from posekit.pose.estimate import MMPoseEstimator

    est = MMPoseEstimator(config, checkpoint, device=device, trust_checkpoint=trust_checkpoint)
    frames = [np.asarray(Image.open(image_root / lb.image).convert("RGB")) for lb in labels]
    pred, _ = est.estimate(frames, [lb.box for lb in labels])
    true = np.array([lb.joints for lb in labels])
    vis = np.array([lb.visibility > 0 for lb in labels])
    return metrics.pckh(pred[..., :2], true, vis, pred_valid=pred[..., 2] > 0)


def _run_runner(cfg: Any, work: Path, init: str | Path | None, resume: bool, trust: bool) -> None:
    """Train with mmengine's Runner; the checkpoints it loads go through the allow-list."""
    from mmengine.runner import Runner

    from posekit.checkpoints import load_without_code

    last = work / "last_checkpoint"
    source = Path(last.read_text().strip()) if resume and last.exists() else init
    what = "--resume checkpoint" if resume and last.exists() else "--init"

    def train() -> None:
        train_cfg = cfg.copy()
        train_cfg.test_dataloader = None  # the inference pipeline stays in config.py, the Runner needs none
        Runner.from_cfg(train_cfg).train()  # initialises the weights itself unless load_from / resume is given

    load_without_code(source or work, what, train, trust=trust)


def finetune(
    data: str | Path,
    work_dir: str | Path,
    init: str | Path | None = None,
    arch: str = "w32",
    config: str | Path | None = None,
    iters: int = 200,
    batch_size: int = 8,
    lr: float = 5e-4,
    val_fraction: float = 0.2,
    seed: int = 0,
    resume: bool = False,
    pseudo: str | Path | None = None,
    pseudo_weight: float = 0.5,
    device: str = "cpu",
    trust_checkpoint: bool = False,
) -> dict:
    """Fine-tune, evaluate, and return a summary (paths, losses, PCKh).

    ``init`` and the checkpoint a resume starts from are loaded weights-only (mmengine's
    metadata allow-listed, :mod:`posekit.checkpoints`); others are refused unless
    ``trust_checkpoint``."""
    data, work = Path(data), Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    if init is not None and not Path(init).exists():
        raise PosekitError(f"{init}: --init checkpoint not found (give a local path; nothing is downloaded)")
    base = Path(config) if config else CONFIGS.get(arch)
    if base is None or not base.exists():
        raise PosekitError(f"no pose config for arch '{arch}' ({base})")
    if data.is_dir() and (data / "annotations.json").exists():
        labels, image_root = read_any(data / "annotations.json"), data / "images"
    elif data.is_dir():
        labels, image_root = read_any(data), data
    else:
        labels, image_root = read_any(data), data.parent / "images"
    labels = [lb for lb in labels if lb.box is not None]
    if len(labels) < 2:
        raise PosekitError(f"{data}: need at least 2 labelled images with an athlete box, found {len(labels)}")
    train, val = split_labels(labels, val_fraction, seed)
    write_mpii(train, work / "train.json")
    write_mpii(val, work / "val.json")
    train_json = work / "train.json"
    if pseudo:
        recs = json.loads(train_json.read_text())
        for r in recs:
            r["image"] = str((image_root / r["image"]).resolve())
        extra = pseudo_labels(Path(pseudo), min_conf=0.5, weight=pseudo_weight)
        write_json(work / "train_with_pseudo.json", recs + extra)
        train_json, image_prefix = work / "train_with_pseudo.json", Path("")
    else:
        image_prefix = image_root
    cfg = build_config(base, work, train_json, image_prefix, iters, batch_size, lr, init, seed)
    cfg.resume = bool(resume)
    cfg.dump(str(work / "config.py"))

    _run_runner(cfg, work, init, resume, trust_checkpoint)
    last = Path((work / "last_checkpoint").read_text().strip()) if (work / "last_checkpoint").exists() else None
    if last is None or not last.exists():
        raise PosekitError(f"{work}: training finished without a checkpoint")
    summary: dict[str, Any] = {
        "work_dir": str(work),
        "checkpoint": str(last),
        "config": str(work / "config.py"),
        "train_images": len(train),
        "val_images": len(val),
        "losses": read_losses(work),
        "pseudo": str(pseudo) if pseudo else None,
    }
    if val:
        summary["val_pckh"] = evaluate_pckh(work / "config.py", last, val, image_root, device, trust_checkpoint)
    write_json(work / "finetune_summary.json", summary)
    return summary
