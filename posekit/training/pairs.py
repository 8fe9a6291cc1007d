"""Training batches: an :class:`~posekit.training.data.AQAItem` as tensors, (query, exemplar)
pairs for the pairwise objectives (CoRe / HP-MCoRe: a query is scored *relative* to an
exemplar), skeleton augmentation and modality dropout.

Items and splits live in :mod:`posekit.training.data`; this module is only the torch side.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import torch
from torch.utils.data import Dataset

from posekit.datasets.exemplars import ExemplarSampler, stable_hash
from posekit.training.data import AQAItem


def item_tensors(it: AQAItem, use_difficulty: bool) -> dict[str, torch.Tensor]:
    out = {
        "pose": torch.from_numpy(it.pose),
        "boundaries": torch.from_numpy(it.boundaries),
        "target": torch.tensor(it.target(use_difficulty), dtype=torch.float32),
        "difficulty": torch.tensor(it.difficulty, dtype=torch.float32),
    }
    if it.dynamic is not None:
        out["dynamic"] = torch.from_numpy(it.dynamic)
    if it.static is not None:
        out["static"] = torch.from_numpy(it.static)
    return out


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def collate_pairs(pairs: list[tuple[dict, dict]]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    return collate([p[0] for p in pairs]), collate([p[1] for p in pairs])


def augment_pose(
    pose: np.ndarray, rng: np.random.Generator, flip_index: np.ndarray, flip: float, scale: float, rotate: float
) -> np.ndarray:
    """Training augmentation of a normalised ``(C, T, V)`` skeleton (pyskl-style): mirror
    with left/right joints swapped (probability ``flip``), isotropic scale ``1 +- scale``,
    in-plane rotation ``+- rotate`` degrees. Missing joints stay at 0 with confidence 0.
    The motion channels (``(5, T, V)``: x, y, confidence, dx, dy) are mirrored, scaled and
    rotated with the coordinates."""
    out = pose.copy()
    valid = out[2] > 0 if out.shape[0] > 2 else np.ones(out.shape[1:], bool)
    vectors = [(0, 1)] + ([(3, 4)] if out.shape[0] >= 5 else [])
    if flip and rng.random() < flip:
        out = out[:, :, flip_index]
        for cx, _ in vectors:
            out[cx] = -out[cx]
        valid = valid[:, flip_index]
    a = np.deg2rad(rng.uniform(-rotate, rotate)) if rotate else 0.0
    s = rng.uniform(1 - scale, 1 + scale) if scale else 1.0
    c, si = np.cos(a) * s, np.sin(a) * s
    for cx, cy in vectors:
        x, y = out[cx].copy(), out[cy].copy()
        out[cx], out[cy] = c * x - si * y, si * x + c * y
        out[[cx, cy]] *= valid[None]
    return out


class PairDataset(Dataset):
    """Training pairs (query, exemplar); the exemplar depends on ``(seed, key, epoch)`` only.

    With ``augment`` (``data.augment``: flip / scale / rotate), each skeleton is augmented by
    a generator seeded with ``(seed, key, epoch)``, so runs and DDP ranks agree. ``drop_rgb``
    / ``drop_pose`` are modality dropout (ModDrop, Neverova et al. 2015): with that
    probability a clip's RGB features (both streams) or its skeleton are zeroed - as if that
    input were missing - so a fused model cannot leave one modality unused (at most one is
    dropped per clip).
    """

    def __init__(
        self,
        items: list[AQAItem],
        sampler: ExemplarSampler,
        use_dn: bool,
        use_difficulty: bool,
        augment: dict[str, float] | None = None,
        layout: str = "mpii16",
        unlabelled: set[Hashable] | None = None,
    ):
        self.items = items
        self.unlabelled = unlabelled
        self.by_key = {it.key: it for it in items}
        self.sampler, self.use_dn, self.use_difficulty = sampler, use_dn, use_difficulty
        self.epoch = 0
        self.augment = {k: float(v) for k, v in (augment or {}).items() if v}
        if self.augment:
            from graphs.layout import get_layout

            self.flip_index = get_layout(layout).flip_index

    def _tensors(self, it: AQAItem, salt: int) -> dict[str, torch.Tensor]:
        t = item_tensors(it, self.use_difficulty)
        if self.augment:
            rng = np.random.default_rng([self.sampler.seed, stable_hash(it.key), self.epoch, salt])
            p_rgb, p_pose = self.augment.get("drop_rgb", 0.0), self.augment.get("drop_pose", 0.0)
            # modality dropout: u in [0, drop_rgb) drops RGB, [drop_rgb, drop_rgb + drop_pose) the skeleton
            u = rng.random() if p_rgb or p_pose else 1.0
            if u < p_rgb:
                for k in ("dynamic", "static"):
                    if k in t:
                        t[k] = torch.zeros_like(t[k])
            elif u < p_rgb + p_pose and ("dynamic" in t or "static" in t):
                t["pose"] = torch.zeros_like(t["pose"])
                return self._flag(it, t)
            pose = augment_pose(
                it.pose,
                rng,
                self.flip_index,
                self.augment.get("flip", 0.0),
                self.augment.get("scale", 0.0),
                self.augment.get("rotate", 0.0),
            )
            t["pose"] = torch.from_numpy(np.ascontiguousarray(pose))
        return self._flag(it, t)

    def _flag(self, it: AQAItem, t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.unlabelled is not None:  # semi-supervised: hidden scores are flagged (and zeroed)
            hidden = it.key in self.unlabelled
            t["labelled"] = torch.tensor(0.0 if hidden else 1.0)
            if hidden:
                t["target"] = torch.tensor(0.0)
        return t

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        q = self.items[i]
        e = self.by_key[self.sampler.train_exemplar(q.key, self.epoch, self.use_dn)]
        return self._tensors(q, 0), self._tensors(e, 1)
