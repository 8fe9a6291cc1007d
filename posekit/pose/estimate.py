"""Top-down pose estimators on the athlete box.

Interface: ``estimator.estimate(frames, boxes) -> (poses (T, J, 3), info list)`` with poses in
``estimator.layout`` (frame pixel coordinates + confidence) and ``info`` a dict per frame
(e.g. the rotation used). Frames without a box get an all-missing pose.

* :class:`BlazePoseEstimator` (default, offline): BlazePose full on a context crop around the
  box, with test-time augmentation for upside-down, spinning divers: the crop is tried at
  several rotations (and mirrored), every run is mapped back to the frame, runs are put in
  left/right agreement with the most confident one, and each joint is the
  visibility-weighted mean of the runs that agree with the per-joint median (a robust
  consensus, better than keeping the single most confident run). A second pass framed on
  the first estimate's own extent adds its runs to the vote (``refine``). Output in MPII-16
  through the calibrated BlazePose -> MPII mapping fitted on hand-labelled diving frames
  (``mapping``; see :func:`graphs.convert.fit_mapping` and ``posekit fit-mapping``). On a
  tracked clip the quality presets run :meth:`BlazePoseEstimator.estimate_tracked` instead:
  BlazePose's landmark network alone (LiteRT) on the region the previous poses give
  (:func:`roi_from_landmarks`), as BlazePose's own tracking stage does.
* :class:`MMPoseEstimator`: an mmpose top-down model (HRNet by default) from a config and a
  checkpoint, batched over crops.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from graphs import get_layout, get_mapping
from posekit.errors import PosekitError


class Estimator(Protocol):
    """What extraction needs of a top-down pose estimator (beside
    :class:`posekit.pose.detect.Detector`): its ``layout`` (a :mod:`graphs` layout name) and
    ``estimate(frames, boxes) -> (poses (T, J, 3), info)`` with ``J`` that layout's joints,
    frame pixel coordinates and a confidence in [0, 1]; ``info`` is a dict per frame."""

    layout: str

    def estimate(
        self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray | None]
    ) -> tuple[np.ndarray, list[dict]]: ...


def _swap_lr(lm: np.ndarray, perm: np.ndarray) -> np.ndarray:
    return lm[perm]


def fuse_runs(
    runs: Sequence[np.ndarray], flip_index: np.ndarray, keep_quantile: float = 0.6, agree_tol: float = 0.08
) -> np.ndarray:
    """Robust consensus of TTA runs ``(R, J, 3)`` already in frame coordinates.

    1. Left/right consistency: each run is compared with the most confident run as given
       and with its left/right pairs swapped; the closer assignment is kept.
    2. Per joint, runs farther from the median than the ``keep_quantile`` quantile of their
       distances are dropped; the rest are averaged with visibility weights.
    3. The confidence of a joint is the agreement of the runs: the fraction of them that
       put it within ``agree_tol`` of the body's extent (the consensus box diagonal) of the
       consensus. BlazePose's own score is a *visibility* (the probability that the joint
       is not occluded), not a localisation confidence: the far-side limbs of a diver seen
       from the side are occluded yet placed well by every rotation, and a visibility
       threshold dropped them (right wrist PCKh 0.29 on the real single frames).
    """
    R = np.asarray(runs, dtype=np.float64)
    if len(R) == 1:
        return R[0].astype(np.float32)
    ref = R[np.argmax(R[:, :, 2].mean(1))]
    A = np.array([_closer_assignment(r, ref, flip_index) for r in R])
    med = np.median(A[:, :, :2], axis=0)
    d = np.linalg.norm(A[:, :, :2] - med, axis=2)  # (R, J)
    thr = np.quantile(d, keep_quantile, axis=0) + 1e-6
    agree = d <= thr
    w = A[:, :, 2] * agree + 1e-9 * agree
    xy = (A[:, :, :2] * w[..., None]).sum(0) / np.maximum(w.sum(0), 1e-12)[:, None]
    diag = float(np.hypot(*(xy.max(0) - xy.min(0))))
    near = np.linalg.norm(A[:, :, :2] - xy, axis=2) <= agree_tol * max(diag, 1.0)
    return np.concatenate([xy, near.mean(0)[:, None]], 1).astype(np.float32)


def _closer_assignment(run: np.ndarray, ref: np.ndarray, flip_index: np.ndarray) -> np.ndarray:
    """``run`` as given or with its left/right pairs exchanged, whichever is closer to ``ref``."""
    sw = _swap_lr(run, flip_index)
    d0 = np.linalg.norm(run[:, :2] - ref[:, :2], axis=1).mean()
    d1 = np.linalg.norm(sw[:, :2] - ref[:, :2], axis=1).mean()
    return sw if d1 < d0 else run


def _run_angles(
    model, frame: np.ndarray, region: Sequence[float], angles: Sequence[float], hflip: bool, size: int, runs, tags
) -> None:
    """``model.on_crops`` on the square ``region`` (centre x, y, side) at each angle (and
    mirrored); appends each run that found a person to ``runs`` and ``(angle, mirrored, mean
    visibility)`` to ``tags``."""
    cx, cy, side = region
    crops = [(cx, cy, side, a, size, flip) for a in angles for flip in ((False, True) if hflip else (False,))]
    for (_, _, _, a, _, flip), lm in zip(crops, model.on_crops(frame, crops), strict=True):
        if lm is not None:
            runs.append(lm)
            tags.append((a, flip, float(lm[:, 2].mean())))


def _most_confident(tags: Sequence[tuple], n: int | None, angles: Sequence[float]) -> tuple[float, ...]:
    """The ``n`` angles whose runs (``tags``: angle, mirrored, mean visibility) were the most
    confident, in the order of ``angles``; every angle when ``n`` is None."""
    if n is None:
        return tuple(angles)
    best: dict[float, float] = {}
    for a, _, v in tags:
        best[a] = max(best.get(a, 0.0), v)
    keep = set(sorted(best, key=best.get, reverse=True)[:n])
    return tuple(a for a in angles if a in keep)


def roi_from_landmarks(lm: np.ndarray, scale: float = 1.25) -> tuple[float, float, float, float]:
    """The tracking region of interest of "BlazePose: On-device Real-time Body Pose
    tracking" (Bazarevsky et al., 2020) from a pose's 33 landmarks ``(33, >=2)``: centred on
    the hips' midpoint, the side ``scale`` x the diameter of the circle about that centre
    that holds every landmark, rotated by the angle (degrees, OpenCV's counter-clockwise
    convention of :func:`posekit.pose.blazepose.crop_transform`) that turns the
    hips -> shoulders direction upright. Returns ``(cx, cy, side, angle)``."""
    hips = lm[[23, 24], :2].mean(0)
    dx, dy = lm[[11, 12], :2].mean(0) - hips
    radius = float(np.linalg.norm(lm[:, :2] - hips, axis=1).max())
    return float(hips[0]), float(hips[1]), max(2.0 * radius * scale, 16.0), float(np.degrees(np.arctan2(dx, -dy)))


class BlazePoseEstimator:
    """Embedded BlazePose with rotation (and mirror) test-time augmentation, output MPII-16."""

    def __init__(
        self,
        angles: Sequence[float] = (0, 45, 90, 135, 180, 225, 270, 315),
        hflip: bool = True,
        context: float = 3.5,
        crop_size: int = 384,
        layout: str = "mpii16",
        refine: bool = True,
        model=None,
        mapping: str | Path | None = None,
        landmarker=None,
    ):
        from posekit.pose.blazepose import build_blazepose

        self.model = model or build_blazepose()
        # the direct landmark network for the temporal path (built on first use; False: unavailable)
        self._landmarker = landmarker or getattr(self.model, "landmarker", None)
        self.angles = tuple(angles)
        self.hflip = hflip
        self.context = context
        self.crop_size = crop_size
        self.refine = refine
        self.layout = layout
        self._src = get_layout("blazepose33")
        # None: the pair's default (the calibrated FineDiving mapping for MPII-16); "geometric",
        # another shipped name, or a path to a mapping JSON from ``posekit fit-mapping``
        self._mapping = get_mapping("blazepose33", layout, mapping)

    def _runs(
        self, frame: np.ndarray, box: np.ndarray, runs: list, tags: list, angles: Sequence[float], hflip: bool
    ) -> None:
        x0, y0, x1, y1 = box[:4]
        region = ((x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0, 16.0) * self.context)
        _run_angles(self.model, frame, region, angles, hflip, self.crop_size, runs, tags)

    def estimate_near(
        self, frame: np.ndarray, box: np.ndarray, rotation: float, offsets: Sequence[float], mirror: bool
    ) -> tuple[np.ndarray, dict]:
        """The temporal path of a tracked clip: the test-time runs centred on the body
        orientation of the previous frame (``rotation`` + each of ``offsets`` degrees, and
        mirrored when ``mirror``) instead of the full 8 angles x mirror, and the refine pass
        only when those runs disagree (mean agreement under 0.7). Returns the pose in the
        output layout and its info (runs, angles, whether it refined)."""
        angles = tuple(float(rotation + o) % 360 for o in offsets)
        fused, info = self.landmarks_one(frame, box, angles, mirror, refine=False)
        if fused is not None and fused[:, 2].mean() < 0.7 and self.refine:
            from posekit.pose.detect import landmarks_box

            refined = landmarks_box(fused)
            if refined is not None:
                fused2, info2 = self.landmarks_one(frame, refined, angles, mirror, refine=False)
                if fused2 is not None and fused2[:, 2].mean() > fused[:, 2].mean():
                    fused, info = fused2, {**info2, "runs": info["runs"] + info2["runs"], "refined": True}
        info = {**info, "angles": list(angles), "mirror": mirror}
        if fused is None:
            return np.zeros((self._mapping.target.num_joints, 3), np.float32), info
        info["landmarks"] = fused
        return self._mapping.apply(fused[None])[0], info

    @property
    def landmarker(self):
        """The direct BlazePose landmark network (:class:`BlazePoseLandmarker`), or None when
        ``ai-edge-litert`` is not installed (the temporal path then uses the solution API)."""
        if self._landmarker is None:
            from posekit.pose.blazepose import BlazePoseLandmarker

            try:
                self._landmarker = BlazePoseLandmarker()
            except PosekitError as exc:
                import warnings

                warnings.warn(f"{exc}; the temporal path runs the solution API instead (slower)", stacklevel=2)
                self._landmarker = False
        return self._landmarker or None

    def estimate_tracked(
        self,
        frame: np.ndarray,
        history: Sequence[np.ndarray],
        shift: Sequence[float],
        offsets: Sequence[float],
        mirror: bool,
        passes: int = 1,
    ) -> tuple[np.ndarray, dict]:
        """The temporal path with the direct landmark network ("BlazePose: On-device
        Real-time Body Pose tracking", the tracking stage). The region of interest comes from
        the last frame's landmarks (``history[-1]``, ``(33, 3)``), moved by ``shift`` pixels
        (the tracker's predicted motion) and turned on at the body's angular velocity (the
        change of orientation between ``history[-2]`` and ``history[-1]``: a somersault
        rotates steadily); it is tried at ``offsets`` degrees around that orientation (and
        mirrored when ``mirror``), and the runs are fused as in :func:`fuse_runs`. A second
        pass on the fused pose's own region (the tracking loop's next step, taken within the
        frame) runs when ``passes`` is 2, or when the region moved by more than a tenth of its
        side or turned by more than 15 degrees. Same return as :meth:`estimate_near`;
        ``info["roi"]`` is the region used."""
        cx, cy, side, angle = roi_from_landmarks(history[-1])
        turn = 0.0
        if len(history) > 1:
            turn = (angle - roi_from_landmarks(history[-2])[3] + 180.0) % 360.0 - 180.0
        roi = (cx + float(shift[0]), cy + float(shift[1]), side, angle + turn)
        fused, info = self._direct_runs(frame, roi, offsets, mirror)
        if fused is not None and self.refine and passes > 0:
            new = roi_from_landmarks(fused)
            moved = np.hypot(new[0] - roi[0], new[1] - roi[1]) > 0.1 * roi[2]
            if passes > 1 or moved or abs((new[3] - roi[3] + 180) % 360 - 180) > 15:
                fused2, info2 = self._direct_runs(frame, new, offsets, mirror)
                if fused2 is not None:
                    fused, info = fused2, {**info2, "runs": info["runs"] + info2["runs"], "refined": True}
        if fused is None:
            return np.zeros((self._mapping.target.num_joints, 3), np.float32), info
        info["landmarks"] = fused
        return self._mapping.apply(fused[None])[0], info

    def _direct_runs(
        self, frame: np.ndarray, roi: tuple[float, float, float, float], offsets: Sequence[float], mirror: bool
    ) -> tuple[np.ndarray | None, dict]:
        angles = [float(roi[3] + o) % 360 for o in offsets]
        runs: list[np.ndarray] = []
        tags: list[tuple] = []
        _run_angles(self.landmarker, frame, roi[:3], angles, mirror, self.landmarker.size, runs, tags)
        info = {"runs": len(runs), "angles": angles, "mirror": mirror, "direct": True}
        info["roi"] = [round(v, 1) for v in roi]
        if not runs:
            return None, {**info, "rotation": None}
        best = max(tags, key=lambda t: t[2])
        return fuse_runs(runs, self._src.flip_index), {**info, "rotation": best[0], "mirrored": best[1]}

    @property
    def mapping(self):
        """The :class:`graphs.convert.LayoutMapping` from BlazePose-33 to the output layout."""
        return self._mapping

    def landmarks_one(
        self,
        frame: np.ndarray,
        box: np.ndarray,
        angles: Sequence[float] | None = None,
        hflip: bool | None = None,
        refine: bool | None = None,
        refine_angles: int | None = None,
    ) -> tuple[np.ndarray | None, dict]:
        """The fused BlazePose-33 landmarks ``(33, 3)`` of one box (None when no run found a
        person), before the layout mapping: what ``posekit fit-mapping`` calibrates on.
        ``angles`` / ``hflip`` / ``refine`` override the estimator's own for this call;
        ``refine_angles``: the refine pass runs only at that many angles whose first runs
        were the most confident (None: at every angle)."""
        angles = self.angles if angles is None else angles
        hflip = self.hflip if hflip is None else hflip
        runs: list[np.ndarray] = []
        tags: list[tuple] = []
        self._runs(frame, box, runs, tags, angles, hflip)
        if not runs:
            return None, {"runs": 0, "rotation": None}
        fused = fuse_runs(runs, self._src.flip_index)
        if self.refine if refine is None else refine:
            from posekit.pose.detect import landmarks_box

            refined = landmarks_box(fused)
            if refined is not None:  # a second pass framed on the first estimate; all runs vote
                self._runs(frame, refined, runs, tags, _most_confident(tags, refine_angles, angles), hflip)
                fused = fuse_runs(runs, self._src.flip_index)
        best = max(tags, key=lambda t: t[2])
        return fused, {"runs": len(runs), "rotation": best[0], "mirrored": best[1]}

    def estimate_one(self, frame: np.ndarray, box: np.ndarray, **overrides: Any) -> tuple[np.ndarray, dict]:
        """The pose of one box in the output layout and its info; ``overrides`` (``angles`` /
        ``hflip`` / ``refine``, as :meth:`landmarks_one` takes them) replace the estimator's
        own for this call (a preset's cheaper search)."""
        fused, info = self.landmarks_one(frame, box, **overrides)
        if fused is None:
            return np.zeros((self._mapping.target.num_joints, 3), np.float32), info
        info["landmarks"] = fused  # the BlazePose-33 landmarks before the mapping (posekit fit-mapping)
        return self._mapping.apply(fused[None])[0], info

    def estimate(
        self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray | None]
    ) -> tuple[np.ndarray, list[dict]]:
        J = self._mapping.target.num_joints
        out = np.zeros((len(frames), J, 3), np.float32)
        info: list[dict] = []
        for t, (f, b) in enumerate(zip(frames, boxes, strict=True)):
            if b is None or not np.isfinite(b[:4]).all():
                info.append({"runs": 0, "rotation": None})
                continue
            out[t], inf = self.estimate_one(f, b)
            info.append(inf)
        return out, info


class MMPoseEstimator:
    """mmpose top-down model (e.g. HRNet-W32 256x256, MPII-16) from config + checkpoint.

    All boxes of a call are pushed through the model in batches of ``batch_size`` crops.
    The checkpoint comes from a local path and is loaded weights-only, mmengine's metadata
    objects allow-listed (:mod:`posekit.checkpoints`); anything else is refused unless
    ``trust_checkpoint``. The config is Python and runs when it is read (as in mmpose): give
    only configs you trust. ``init_cfg`` URLs in the config are ignored: nothing is downloaded.
    """

    def __init__(
        self,
        config: str | Path,
        checkpoint: str | Path,
        device: str = "cpu",
        batch_size: int = 32,
        layout: str = "mpii16",
        trust_checkpoint: bool = False,
    ):
        for p, what in ((config, "config"), (checkpoint, "checkpoint")):
            if not Path(p).exists():
                raise PosekitError(f"{p}: mmpose {what} not found")
        from posekit import compat
        from posekit.checkpoints import load_checkpoint

        compat.install()
        from mmengine.config import Config
        from mmpose.apis import init_model

        cfg = Config.fromfile(str(config))
        _strip_init_cfg(cfg.model)
        self.model = init_model(cfg, None, device=device)
        ckpt = load_checkpoint(checkpoint, trust=trust_checkpoint)
        from mmengine.runner.checkpoint import _load_checkpoint_to_model

        _load_checkpoint_to_model(self.model, ckpt, strict=True)
        meta = (ckpt.get("meta") or {}).get("dataset_meta")
        if meta:
            self.model.dataset_meta = meta
        self.batch_size = batch_size
        self.layout = layout
        head_out = getattr(getattr(self.model, "head", None), "out_channels", None)
        meta = self.model.dataset_meta or {}
        if meta.get("num_keypoints") != get_layout(layout).num_joints and head_out == get_layout(layout).num_joints:
            from posekit.pose.mmpose_meta import dataset_meta

            self.model.dataset_meta = dataset_meta(layout)  # the checkpoint carried none (or COCO's default)
        n = self.model.dataset_meta.get("num_keypoints") if self.model.dataset_meta else None
        if n is not None and n != get_layout(layout).num_joints:
            raise PosekitError(
                f"{checkpoint}: the model predicts {n} keypoints, layout {layout} has {get_layout(layout).num_joints}"
            )

    def estimate(
        self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray | None]
    ) -> tuple[np.ndarray, list[dict]]:
        import torch
        from mmengine.dataset import Compose, pseudo_collate

        J = get_layout(self.layout).num_joints
        out = np.zeros((len(frames), J, 3), np.float32)
        pipeline = Compose(self.model.cfg.test_dataloader.dataset.pipeline)
        items = []
        for t, (f, b) in enumerate(zip(frames, boxes, strict=True)):
            if b is None or not np.isfinite(b[:4]).all():
                continue
            data = {
                "img": f[..., ::-1].copy(),
                "bbox": np.asarray(b[:4], np.float32)[None],
                "bbox_score": np.ones(1, np.float32),
            }
            data.update(self.model.dataset_meta)
            items.append((t, pipeline(data)))
        for i in range(0, len(items), self.batch_size):
            chunk = items[i : i + self.batch_size]
            batch = pseudo_collate([d for _, d in chunk])
            with torch.no_grad():
                results = self.model.test_step(batch)
            for (t, _), res in zip(chunk, results, strict=True):
                kp = res.pred_instances.keypoints[0]
                sc = res.pred_instances.keypoint_scores[0]
                out[t] = np.concatenate([kp, np.clip(sc, 0, 1)[:, None]], 1)
        return out, [{"runs": 1, "rotation": 0} for _ in frames]


def _strip_init_cfg(node) -> None:
    """Remove ``init_cfg`` entries that point to URLs (offline: never download)."""
    if isinstance(node, dict):
        init = node.get("init_cfg")
        if isinstance(init, dict) and str(init.get("checkpoint", "")).startswith(("http://", "https://")):
            node["init_cfg"] = None
        for v in node.values():
            _strip_init_cfg(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _strip_init_cfg(v)


def build_estimator(
    kind: str = "blazepose",
    config: str | None = None,
    checkpoint: str | None = None,
    device: str = "cpu",
    mapping: str | Path | None = None,
    trust_checkpoint: bool = False,
    **kwargs,
) -> Estimator:
    """``mapping`` (BlazePose only): the BlazePose -> MPII-16 mapping, None for the default
    calibrated one, ``geometric``, or a mapping JSON from ``posekit fit-mapping``.
    ``trust_checkpoint`` (mmpose only): load a checkpoint that is not weights-only."""
    if kind == "blazepose":
        return BlazePoseEstimator(mapping=mapping, **kwargs)
    if kind == "mmpose":
        if not (config and checkpoint):
            raise PosekitError("--pose mmpose needs --pose-config and --pose-checkpoint")
        return MMPoseEstimator(config, checkpoint, device=device, trust_checkpoint=trust_checkpoint)
    raise PosekitError(f"unknown pose estimator '{kind}' (blazepose, mmpose)")
