"""``posekit train`` / ``posekit evaluate``: the training loop of HP-MCoRe (eq. 23-24).

* Seeded; optimizer and scheduler from the config; a progress bar per epoch.
* Every ``eval_every`` epochs the model is evaluated on a validation split carved from the
  training split (never the test split), with multi-exemplar voting (eq. 24) over
  ``val_exemplars`` training exemplars; the best epoch by validation SRCC is kept as
  ``best.pth``. ``last.pth`` holds everything needed to resume (``--resume``).
* At the end the best model is evaluated on the test split with ``exemplars`` (M = 10)
  exemplars: ``predictions.csv``, ``metrics.json`` (SRCC, R-l2 x100, MSE, AIoU@0.5/0.75),
  ``history.json`` and plots (predicted vs true, stage timelines, training curves).
* DDP: started with ``torchrun --nproc_per_node N -m posekit.cli train CONFIG``, the same
  code runs one process per rank (gloo on CPU, nccl on GPU). ``train.batch_size`` is the
  global batch; each rank takes its share of every batch (``DistributedSampler`` with the
  same seed in one process as in N), gradients are averaged, rank 0 evaluates and writes.
  The encoders use GroupNorm, not BatchNorm, so N processes compute what one does.
* Every file is written atomically (temp file, then rename).

Loss (eq. 23): ``L = w_aqa L_aqa + w_ce L_ce + w_cont L_cont`` with ``L_aqa`` the MSE of the
score in units of the training score spread (eq. 21), ``L_ce`` the segmentation
cross-entropy of query and exemplar (eq. 7) and ``L_cont`` the contrastive loss of the fused
and static stage features (eq. 16, or the ablation kinds).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from posekit.datasets.exemplars import ExemplarSampler
from posekit.errors import ConfigError
from posekit.io import atomic_write_text, write_json
from posekit.metrics import aiou, score_metrics
from posekit.models.base import AQAMethod, Encoded
from posekit.training.checkpoint import (
    check_checkpoint_matches,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from posekit.training.config import config_changes, dump_config, flatten, model_section
from posekit.training.data import (
    AQAItem,
    AQASplits,
    build_splits,
    exemplar_groups,
    infer_dims,
    key_str,
    select_exemplars,
)
from posekit.training.datasets import stage_names
from posekit.training.pairs import PairDataset, collate, collate_pairs, item_tensors


# ---------------------------------------------------------------------- setup
def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - third-party code may draw from the global state
    torch.manual_seed(seed)


def dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed() -> bool:
    """Join the process group when started by torchrun (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


def pick_device(cfg: dict[str, Any]) -> torch.device:
    want = cfg["train"].get("device", "auto")
    if want == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    return torch.device(want)


def build_model(cfg: dict[str, Any], splits: AQASplits) -> AQAMethod:
    """The model of the config's ``method`` (HP-MCoRe or one of :mod:`posekit.methods`), its
    input sizes inferred from the data where not set, prepared on the training split."""
    from posekit.methods import build_method, method_class

    m = model_section(cfg)
    dims = infer_dims(splits.train)
    m.setdefault("in_channels", dims["in_channels"])
    defaults = method_class(cfg.get("method", "hpmcore")).config_class()
    for stream, flag in (("dynamic_dim", "dve"), ("static_dim", "sve")):
        if m.get(flag, getattr(defaults, flag)) and not m.get(stream):
            if dims[stream] is None:
                raise ConfigError(
                    f"model.{flag} is on but the data has no {stream.split('_')[0]} features "
                    f"(set data.{stream.split('_')[0]}_dir or model.{flag}: false)",
                    cfg.get("_source"),
                    f"model.{flag}",
                )
            m[stream] = dims[stream]
    model = build_method(cfg.get("method", "hpmcore"), m, cfg.get("_source"))
    use_diff = cfg["data"]["use_difficulty"]
    model.prepare(np.array([it.target(use_diff) for it in splits.train], dtype=np.float64), int(cfg["seed"]))
    if int(cfg["data"]["K"]) > 1:
        model.prepare_stages(np.stack([it.boundaries for it in splits.train]))
    if model.closed_form:  # classical baselines: fitted here on train + val (inner CV selects)
        fit = splits.train + splits.val
        pose = torch.from_numpy(np.stack([it.pose for it in fit]))
        model.fit(pose, np.array([it.target(use_diff) for it in fit], dtype=np.float64), int(cfg["seed"]))
    return model


def make_optimizer(cfg: dict[str, Any], model: torch.nn.Module):
    t = cfg["train"]
    params = [p for p in model.parameters() if p.requires_grad]
    if t["optimizer"] == "adam":
        opt = torch.optim.Adam(params, lr=t["lr"], weight_decay=t["weight_decay"])
    elif t["optimizer"] == "adamw":
        opt = torch.optim.AdamW(params, lr=t["lr"], weight_decay=t["weight_decay"])
    elif t["optimizer"] == "sgd":
        opt = torch.optim.SGD(params, lr=t["lr"], momentum=0.9, weight_decay=t["weight_decay"])
    else:
        raise ConfigError(f"train.optimizer must be adam|adamw|sgd, got {t['optimizer']!r}", cfg.get("_source"))
    if t["scheduler"] == "cosine":
        sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, t["epochs"]))
    elif t["scheduler"] == "step":
        sch = torch.optim.lr_scheduler.StepLR(opt, step_size=t["step_size"], gamma=t["gamma"])
    elif t["scheduler"] == "none":
        sch = torch.optim.lr_scheduler.LambdaLR(opt, lambda _e: 1.0)
    else:
        raise ConfigError(f"train.scheduler must be cosine|step|none, got {t['scheduler']!r}", cfg.get("_source"))
    return opt, sch


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


# ---------------------------------------------------------------------- evaluation
@torch.no_grad()
def encode_items(
    model: AQAMethod, items: list[AQAItem], device: torch.device, use_difficulty: bool, batch_size: int = 32
) -> Encoded:
    """Encode every item once (eq. 2-11), in evaluation mode (BatchNorm's running statistics,
    no dropout); joint features are dropped to save memory."""
    model.eval()
    out = []
    for i in range(0, len(items), batch_size):
        batch = _to(collate([item_tensors(it, use_difficulty) for it in items[i : i + batch_size]]), device)
        enc = model.encode(batch, use_labels=False)
        enc.joints = None
        out.append(enc)
    return Encoded.cat(out)


@torch.no_grad()
def evaluate_items(
    model: AQAMethod,
    queries: list[AQAItem],
    pool: list[AQAItem],
    cfg: dict[str, Any],
    M: int | str,
    device: torch.device | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Multi-exemplar voting (eq. 24) for every query against ``M`` exemplars from ``pool``."""
    device = device or model.device
    model.eval()
    use_diff = cfg["data"]["use_difficulty"]
    ex_keys = select_exemplars(queries, pool, cfg, M)
    M = len(ex_keys[0]) if ex_keys else 0
    row = {it.key: i for i, it in enumerate(pool)}
    pool_enc = encode_items(model, pool, device, use_diff, batch_size)
    q_enc = encode_items(model, queries, device, use_diff, batch_size)
    pool_t = torch.tensor([it.target(use_diff) for it in pool], dtype=torch.float32, device=device)
    preds, per_ex, deltas = [], [], []
    for i in range(0, len(queries), batch_size):
        idx = torch.arange(i, min(i + batch_size, len(queries)))
        qb = q_enc.index(idx.to(q_enc.boundaries.device))
        rows = torch.tensor([[row[k] for k in ex_keys[j]] for j in idx.tolist()], device=device)
        exs = [pool_enc.index(rows[:, m]) for m in range(M)]
        v = model.vote(qb, exs, pool_t[rows])
        preds.append(v["pred"])
        per_ex.append(v["per_exemplar"])
        deltas.append(v["stage_delta"])
    pred = torch.cat(preds).cpu().numpy().astype(np.float64)
    diff = np.array([q.difficulty for q in queries])
    if use_diff:
        pred = pred * diff
    true = np.array([q.score for q in queries])
    if len(queries) > 1 and np.ptp(true) > 0:
        metrics = score_metrics(pred, true)
    else:  # one clip, or all true scores equal: rank and range metrics are undefined
        metrics = {"srcc": float("nan"), "r_l2_x100": float("nan"), "mse": float(np.mean((pred - true) ** 2))}
    pb = q_enc.predicted_boundaries.cpu().numpy()
    gt = np.stack([q.boundaries for q in queries]) if queries[0].boundaries.size else np.zeros((len(queries), 0))
    known = (gt >= 0).all(axis=1) if gt.size else np.zeros(len(queries), bool)
    if model.cfg.K >= 3 and model.segments and known.any() and pb.shape[1] == gt.shape[1]:
        metrics.update({f"aiou@{d}": v for d, v in aiou(pb[known], gt[known], d=[0.5, 0.75]).items()})
    return {
        "keys": [q.key for q in queries],
        "pred": pred,
        "true": true,
        "per_exemplar": torch.cat(per_ex).cpu().numpy() * (diff[:, None] if use_diff else 1.0),
        "stage_delta": torch.cat(deltas).cpu().numpy() * (diff[:, None] if use_diff else 1.0),
        "pred_boundaries": pb,
        "true_boundaries": gt,
        "exemplars": ex_keys,
        "metrics": metrics,
        "stage_names": stage_names(cfg, int(torch.cat(deltas).shape[1])),
    }


# ---------------------------------------------------------------------- checkpoints
# ---------------------------------------------------------------------- outputs
def write_predictions(path: Path, res: dict[str, Any]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    K = res["stage_delta"].shape[1]
    names = res.get("stage_names") or [f"stage{k}" for k in range(K)]
    w.writerow(["key", "true", "pred", *[f"{n}_delta" for n in names], "pred_boundaries", "true_boundaries"])
    for i, k in enumerate(res["keys"]):
        w.writerow(
            [
                key_str(k),
                f"{res['true'][i]:.4f}",
                f"{res['pred'][i]:.4f}",
                *[f"{v:.4f}" for v in res["stage_delta"][i]],
                ";".join(map(str, res["pred_boundaries"][i].tolist())),
                ";".join(map(str, np.asarray(res["true_boundaries"][i]).tolist()))
                if len(res["true_boundaries"])
                else "",
            ]
        )
    return atomic_write_text(path, buf.getvalue())


def write_plots(out: Path, res: dict[str, Any], history: list[dict[str, Any]], T: int, title: str) -> list[Path]:
    from posekit.viz import plot_scatter, plot_stage_timelines, plot_training_curves

    paths = [plot_scatter(res["pred"], res["true"], out / "scatter.png", title=title)]
    if res["pred_boundaries"].shape[1]:
        rows: dict[str, np.ndarray] = {}
        for i, k in enumerate(res["keys"][:12]):
            rows[f"{key_str(k)} pred"] = res["pred_boundaries"][i]
            tb = np.asarray(res["true_boundaries"][i]) if len(res["true_boundaries"]) else np.array([-1])
            if (tb >= 0).all():
                rows[f"{key_str(k)} true"] = tb
        paths.append(plot_stage_timelines(rows, T, out / "stages.png", res.get("stage_names") or ()))
    if history:
        paths.append(plot_training_curves(history, out / "curves.png"))
    return paths


# ---------------------------------------------------------------------- train
RESUME_MAY_CHANGE = ("train.epochs", "train.progress", "train.num_threads", "work_dir")


def check_work_dir(work: Path, cfg: dict[str, Any], resume: bool, overwrite: bool) -> None:
    """Nothing already written is lost: a work folder holding a run is refused unless the user
    resumes it (with the same config, the number of epochs aside) or asks to overwrite it;
    overwriting removes the earlier run's results first."""
    earlier = [n for n in ("last.pth", "best.pth", "history.json") if (work / n).exists()]
    if resume:
        if not (work / "last.pth").exists():
            raise ConfigError("--resume: no last.pth to resume from (train without --resume to start)", work)
        old_path = work / "config.yaml"
        if old_path.exists() and not overwrite:
            import yaml

            old, new = (flatten(yaml.safe_load(x) or {}) for x in (old_path.read_text(), dump_config(cfg)))
            diff = [k for k in config_changes(old_path.read_text(), cfg) if k not in RESUME_MAY_CHANGE]
            if diff:
                shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:8])
                raise ConfigError(
                    f"--resume with a different config ({shown}); resume with the same config or pass --overwrite",
                    old_path,
                )
    elif earlier and not overwrite:
        raise ConfigError(
            f"holds an earlier run ({', '.join(earlier)}): pass --resume to continue it or --overwrite to replace it",
            work,
        )
    if overwrite and not resume:  # the replaced run's results go (an interrupted rerun must not look finished)
        for old in [*work.glob("predictions_*.csv"), *work.glob("metrics_*.json"), work / "pretrain.json"]:
            old.unlink(missing_ok=True)


def _resume(last_path: Path, model: AQAMethod, opt: Any, sch: Any) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """Load ``last.pth`` into the model, optimiser, scheduler and RNG; returns history, best, next epoch."""
    ck = load_checkpoint(last_path)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    sch.load_state_dict(ck["scheduler"])
    torch.set_rng_state(ck["rng"])
    return ck["history"], ck["best"], ck["epoch"] + 1


def _pair_loader(cfg: dict[str, Any], splits: AQASplits, model: AQAMethod, bs: int, world: int, rank: int):
    """Query-exemplar pairs of the training clips (plus unlabelled queries for semi-supervised
    methods), split over the processes."""
    pool = splits.train
    queries = pool + (splits.unlabelled if model.semi_supervised else [])
    sampler = ExemplarSampler([it.key for it in pool], exemplar_groups(queries, cfg), cfg["seed"])
    pairs = PairDataset(
        queries,
        sampler,
        cfg["data"]["use_dn"],
        cfg["data"]["use_difficulty"],
        cfg["data"]["augment"],
        cfg["data"]["layout"],
        unlabelled={it.key for it in splits.unlabelled} if model.semi_supervised else None,
    )
    dsampler = DistributedSampler(pairs, num_replicas=world, rank=rank, shuffle=True, seed=int(cfg["seed"]))
    loader = DataLoader(pairs, batch_size=bs // world, sampler=dsampler, collate_fn=collate_pairs, num_workers=0)
    return pairs, dsampler, loader


def _train_epoch(
    net: torch.nn.Module,
    model: AQAMethod,
    loader: DataLoader,
    opt: Any,
    cfg: dict[str, Any],
    device,
    desc: str,
    show: bool,
) -> tuple[dict[str, float], int]:
    """One pass over the pairs; returns the summed loss parts and the number of batches."""
    from tqdm import tqdm

    sums: dict[str, float] = {}
    n = 0
    bar = tqdm(loader, desc=desc, leave=False, disable=not show)
    for q, e in bar:
        q, e = _to(q, device), _to(e, device)
        out = net(q, e)
        loss, parts = model.loss(out, q, e)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        n += 1
        bar.set_postfix(loss=f"{parts['loss']:.3f}")
    return sums, n


def _distributed(model: AQAMethod, device: torch.device) -> torch.nn.Module:
    """The DDP wrapper; BatchNorm layers (``model.hse_norm: batch``) become SyncBatchNorm on
    CUDA, so the split batches are normalised as one batch (on CPU, where PyTorch has no
    SyncBatchNorm, each process keeps its own statistics: a warning says so)."""
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        if device.type == "cuda":
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        else:
            import warnings

            warnings.warn("BatchNorm under CPU DDP normalises each process's share of the batch", stacklevel=2)
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def _all_reduce_sums(sums: dict[str, float], n: int, device) -> tuple[dict[str, float], int]:
    keys = sorted(sums)
    tot = torch.tensor([sums[k] for k in keys] + [n], dtype=torch.float64, device=device)
    dist.all_reduce(tot)
    return {k: float(v) for k, v in zip(keys, tot[:-1], strict=True)}, int(tot[-1])


def small_data_warnings(splits: AQASplits, history: list[dict[str, Any]], cfg: dict[str, Any]) -> list[str]:
    """What makes a validation-selected model meaningless on a small dataset: a validation
    split under 10 clips, or a validation SRCC that never moved (``best.pth`` is then just
    the first epoch). Each warning says what to do instead."""
    out = []
    n = len(splits.val)
    if 0 < n < 10 and cfg["train"]["select"] == "best":
        out.append(
            f"the validation split has {n} clip(s): model selection on it is noise "
            "(use train.select: inner_cv or last, or compare methods with posekit cv)"
        )
    srcc = [h["val_srcc"] for h in history if np.isfinite(h.get("val_srcc", np.nan))]
    if len(srcc) >= 3 and np.ptp(srcc) < 1e-6:
        out.append(
            f"validation SRCC did not move over {len(srcc)} evaluations ({srcc[0]:.3f}); "
            "best.pth is the first of them (use train.select: inner_cv or last, or posekit cv)"
        )
    return out


def _test_best(model: AQAMethod, splits: AQASplits, cfg: dict[str, Any], work: Path, history: list, device) -> dict:
    """Evaluate the selected checkpoint: the best validation epoch (``train.select: best``),
    or the last epoch (``last``, or when there is no validation split)."""
    import warnings

    for msg in small_data_warnings(splits, history, cfg):
        warnings.warn(msg, stacklevel=2)
        print(f"warning: {msg}", flush=True)
    best_path = work / "best.pth"
    last = cfg["train"]["select"] == "last"
    if last or not splits.val or not best_path.exists():  # the last epoch is the model
        save_checkpoint(
            best_path,
            {
                "model": model.state_dict(),
                "model_config": model.cfg.to_dict(),
                "method": model.name,
                "epoch": len(history) - 1,
            },
        )
    ck = load_checkpoint(best_path)
    model.load_state_dict(ck["model"])
    if select_seg_prior(model, splits, cfg, device):
        save_checkpoint(best_path, {**ck, "model_config": model.cfg.to_dict()})
    return evaluate_and_write(model, splits, cfg, work, history, device, best_epoch=ck["epoch"])


SEG_PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


def select_seg_prior(model: AQAMethod, splits: AQASplits, cfg: dict[str, Any], device) -> bool:
    """Choose the weight of the stage prior in the segmentation decode (``model.seg_prior``)
    on the validation clips with stage labels: the prior rescues a segmenter that learned
    little (small data) and can only blur a good one, so the weight whose decoded stages
    have the best mean IoU there is kept. Returns whether the config changed."""
    from posekit.metrics import stage_iou
    from posekit.models.segmentation import monotone_decode

    labelled = [it for it in splits.val if it.boundaries.size and (it.boundaries >= 0).all()]
    if not hasattr(model, "stage_log_prior") or not model.segments or len(labelled) < 2:
        return False
    logits = encode_items(model, labelled, device or model.device, False).seg_logits  # the decode is all that varies
    if logits is None:
        return False
    true = np.stack([it.boundaries for it in labelled])
    enc_t, before = int(cfg["data"]["num_frames"]), model.cfg.seg_prior
    scores = {}
    for w in SEG_PRIOR_WEIGHTS:
        pred = monotone_decode(logits, w * model.stage_log_prior).numpy()
        scores[w] = float(stage_iou(pred, true, enc_t).mean())
    best = max(SEG_PRIOR_WEIGHTS, key=lambda w: (round(scores[w], 6), w == before))
    model.cfg.seg_prior = best
    return best != before


def _save_last(path: Path, model: AQAMethod, opt: Any, sch: Any, epoch: int, history: list, best: dict) -> None:
    """``last.pth``: everything ``--resume`` needs (optimiser, scheduler, RNG, history)."""
    save_checkpoint(
        path,
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sch.state_dict(),
            "epoch": epoch,
            "history": history,
            "best": best,
            "rng": torch.get_rng_state(),
            "model_config": model.cfg.to_dict(),
            "method": model.name,
        },
    )


def _pretrain(model: AQAMethod, splits: AQASplits, cfg: dict[str, Any], device, show: bool) -> list[dict[str, float]]:
    """``train.init_from`` (a ``posekit pretrain`` encoder), then ``train.pretrain_epochs`` of
    masked motion prediction on this run's training, validation and unlabelled skeletons -
    never its test clips, and no score (:mod:`posekit.training.pretrain`)."""
    t = cfg["train"]
    if not t.get("init_from") and not t.get("pretrain_epochs"):
        return []
    from posekit.training.pretrain import load_pretrained, pretrain_poses, pretrain_skeleton, skeletal_encoder

    if t.get("init_from"):
        load_pretrained(model, t["init_from"], cfg.get("_source"))
    if not t.get("pretrain_epochs"):
        return []
    return pretrain_skeleton(skeletal_encoder(model, cfg.get("_source")), pretrain_poses(splits), cfg, device, show)


def run_training(
    cfg: dict[str, Any],
    work_dir: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    splits: AQASplits | None = None,
) -> dict[str, Any]:
    """Train, select (``train.select``: the best validation epoch, the last one, or the epoch
    count chosen by inner cross-validation), evaluate on test. Returns the summary (rank 0).

    A work folder that holds an earlier run is refused unless ``resume`` or ``overwrite``
    (:func:`check_work_dir`). ``splits`` replaces the config's own (inner folds)."""
    check_work_dir(Path(work_dir), cfg, resume, overwrite)
    started = init_distributed()
    rank, world = dist_info()
    t = cfg["train"]
    if t.get("num_threads"):
        torch.set_num_threads(int(t["num_threads"]))
    seed_everything(int(cfg["seed"]))
    work = Path(work_dir)
    device = pick_device(cfg)
    splits = splits if splits is not None else build_splits(cfg)
    if t["select"] == "inner_cv":
        from posekit.training.inner_cv import run_inner_cv

        return run_inner_cv(cfg, splits, work)
    if len(splits.train) < 2:
        raise ConfigError(
            f"{len(splits.train)} training clip(s); need at least 2 for exemplar pairs", cfg.get("_source")
        )
    model = build_model(cfg, splits).to(device)
    epochs = 0 if model.closed_form else int(t["epochs"])  # closed-form methods are fitted in build_model
    opt, sch = make_optimizer(cfg, model) if epochs else (None, None)
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": -1, "srcc": -float("inf")}
    start_epoch = 0
    last_path, best_path = work / "last.pth", work / "best.pth"
    if resume and last_path.exists():
        history, best, start_epoch = _resume(last_path, model, opt, sch)
    if rank == 0:
        work.mkdir(parents=True, exist_ok=True)
        atomic_write_text(work / "config.yaml", dump_config(cfg))
    if start_epoch == 0 and epochs:
        pre = _pretrain(model, splits, cfg, device, rank == 0 and bool(t["progress"]))
        if pre and rank == 0:
            write_json(work / "pretrain.json", pre)
    bs = int(t["batch_size"])
    if bs % world:
        raise ConfigError(f"train.batch_size {bs} is not divisible by the {world} processes", cfg.get("_source"))
    pool = splits.train  # labelled clips: exemplars and supervised queries
    pairs, dsampler, loader = _pair_loader(cfg, splits, model, bs, world, rank)
    net = _distributed(model, device) if world > 1 and epochs else model
    model_cfg = model.cfg.to_dict()
    for epoch in range(start_epoch, epochs):
        model.train()
        pairs.set_epoch(epoch)
        dsampler.set_epoch(epoch)
        t0 = time.perf_counter()
        show = rank == 0 and bool(t["progress"])
        sums, n = _train_epoch(net, model, loader, opt, cfg, device, f"epoch {epoch + 1}/{t['epochs']}", show)
        sch.step()
        if world > 1:  # log the mean over all ranks, not rank 0's share
            sums, n = _all_reduce_sums(sums, n, device)
        rec: dict[str, Any] = {"epoch": epoch, **{k: v / max(n, 1) for k, v in sums.items()}}
        rec["seconds"] = time.perf_counter() - t0
        rec["samples_per_s"] = len(dsampler) * world / max(rec["seconds"], 1e-9)
        if rank == 0 and splits.val and ((epoch + 1) % int(t["eval_every"]) == 0 or epoch + 1 == t["epochs"]):
            res = evaluate_items(model, splits.val, pool, cfg, t["val_exemplars"], device)
            rec.update({f"val_{k}": v for k, v in res["metrics"].items()})
            if rec.get("val_srcc", -np.inf) > best["srcc"]:
                best = {"epoch": epoch, "srcc": rec["val_srcc"]}
                save_checkpoint(
                    best_path,
                    {"model": model.state_dict(), "model_config": model_cfg, "method": model.name, "epoch": epoch},
                )
        history.append(rec)
        if rank == 0:
            msg = " ".join(f"{k}={v:.4f}" for k, v in rec.items() if isinstance(v, float) and k != "seconds")
            print(f"epoch {epoch + 1}/{t['epochs']} {msg}", flush=True)
            _save_last(last_path, model, opt, sch, epoch, history, best)
            write_json(work / "history.json", history)
    summary: dict[str, Any] = {}
    if rank == 0:
        summary = _test_best(model, splits, cfg, work, history, device)
    if world > 1:
        dist.barrier()
        if started:
            dist.destroy_process_group()
    return summary


def evaluate_and_write(
    model: AQAMethod,
    splits: AQASplits,
    cfg: dict[str, Any],
    work: Path,
    history: list[dict[str, Any]] | None = None,
    device: torch.device | None = None,
    best_epoch: int | None = None,
    split: str = "test",
) -> dict[str, Any]:
    queries = {"test": splits.test, "val": splits.val, "train": splits.train}[split]
    if not queries:
        raise ConfigError(f"the {split} split is empty", cfg.get("_source"), "data")
    t0 = time.perf_counter()
    res = evaluate_items(model, queries, splits.train, cfg, cfg["train"]["exemplars"], device)
    secs = time.perf_counter() - t0
    work.mkdir(parents=True, exist_ok=True)
    write_predictions(work / f"predictions_{split}.csv", res)
    plots = write_plots(
        work / "plots", res, history or [], model.cfg.T, f"{split}: SRCC {res['metrics'].get('srcc', float('nan')):.3f}"
    )
    summary = {
        "split": split,
        "n": len(queries),
        "exemplars": cfg["train"]["exemplars"],
        "metrics": res["metrics"],
        "best_epoch": best_epoch,
        "method": model.name,
        **{k: v for k, v in model.method_outputs().items() if k in ("stage_weights", "rho")},
        "eval_seconds": secs,
        "data": splits.info,
        "plots": [str(p) for p in plots],
        "predictions": str(work / f"predictions_{split}.csv"),
    }
    write_json(work / f"metrics_{split}.json", summary)
    return summary


def run_evaluation(
    cfg: dict[str, Any], checkpoint: str | Path, work_dir: str | Path, split: str = "test"
) -> dict[str, Any]:
    """``posekit evaluate``: load a checkpoint, evaluate a split, write the outputs."""
    seed_everything(int(cfg["seed"]))
    ck = load_checkpoint(checkpoint)
    check_checkpoint_matches(cfg, ck, checkpoint)
    model = model_from_checkpoint(ck).to(pick_device(cfg))
    splits = build_splits(cfg)
    hist_path = Path(checkpoint).parent / "history.json"
    history = json.loads(hist_path.read_text()) if hist_path.exists() else []
    return evaluate_and_write(model, splits, cfg, Path(work_dir), history, best_epoch=ck.get("epoch"), split=split)
