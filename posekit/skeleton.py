"""The skeleton data model: :class:`SkeletonSequence`.

One canonical array layout for the whole toolkit: ``data`` is float32 ``(T, J, 3)`` =
x, y, confidence, joints in the order of a :mod:`graphs` layout. A missing joint has
confidence 0 (its x, y are not used); NaN and inf are never stored. Alongside: the layout
name, fps, the source frame index of each row, a ``(T, J)`` mask of joints that were
filled by interpolation, and a JSON-serialisable provenance dict.

File format (``.npz``, one file per clip, read with ``allow_pickle=False``)::

    format_version  int64 scalar (currently 1)
    data            float32 (T, J, 3)
    layout          str
    fps             float64 scalar
    frame_indices   int64 (T,)
    interpolated    bool (T, J)
    meta            str (JSON)
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from graphs.layout import Layout, get_layout, is_builtin, register_layout
from posekit.errors import LayoutError, SkeletonFormatError
from posekit.io import save_npz

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = 1
_KEYS = ("format_version", "data", "layout", "fps", "frame_indices", "interpolated", "meta")


@dataclass
class SkeletonSequence:
    """A ``(T, J, 3)`` float32 skeleton sequence (x, y, confidence) of one clip."""

    data: np.ndarray
    layout: str = "mpii16"
    fps: float = 25.0
    frame_indices: np.ndarray | None = None
    interpolated: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        where = self.path or self.meta.get("source")
        try:
            lay = get_layout(self.layout)
        except LayoutError as exc:
            raise SkeletonFormatError(str(exc), where, "layout") from None
        self.layout = lay.name
        data = np.asarray(self.data)
        if data.ndim != 3 or data.shape[2] not in (2, 3):
            raise SkeletonFormatError(
                f"expected shape (T, {lay.num_joints}, 3) (x, y, confidence), got {data.shape}", where, "data"
            )
        if data.shape[0] == 0:
            raise SkeletonFormatError("empty sequence (T = 0); expected at least one frame", where, "data")
        if data.shape[1] != lay.num_joints:
            raise SkeletonFormatError(
                f"layout {lay.name} has {lay.num_joints} joints, data has {data.shape[1]} (shape {data.shape})",
                where,
                "data",
            )
        if not np.issubdtype(data.dtype, np.number):
            raise SkeletonFormatError(f"expected numbers, got dtype {data.dtype}", where, "data")
        data = data.astype(np.float32, copy=True)
        if data.shape[2] == 2:  # coordinates only: a joint at exactly (0, 0) is the usual "missing"
            present = ~(data == 0).all(axis=2, keepdims=True)
            data = np.concatenate([data, present.astype(np.float32)], axis=2)
        bad = ~np.isfinite(data)
        if bad.any():
            t, j, c = np.argwhere(bad)[0]
            raise SkeletonFormatError(
                f"{int(bad.sum())} non-finite value(s) (NaN/inf), first at frame {t}, joint {lay.joints[j]}, "
                f"channel {'xyc'[c]}; mark a missing joint with confidence 0 instead",
                where,
                "data",
            )
        out_of_range = (data[..., 2] < 0) | (data[..., 2] > 1)
        if out_of_range.any():
            t, j = np.argwhere(out_of_range)[0]
            raise SkeletonFormatError(
                f"confidence must be in [0, 1]; {int(out_of_range.sum())} value(s) outside, first "
                f"{float(data[t, j, 2]):g} at frame {t}, joint {lay.joints[j]} (COCO visibility 0/1/2? map it to "
                "confidence first with posekit.skeleton.visibility_to_confidence: 2 -> 1, 1 -> 0.5, 0 -> 0)",
                where,
                "data",
            )
        self.data = data
        T = data.shape[0]
        if self.frame_indices is None:
            self.frame_indices = np.arange(T, dtype=np.int64)
        self.frame_indices = np.asarray(self.frame_indices, dtype=np.int64).reshape(-1)
        if self.frame_indices.shape != (T,):
            raise SkeletonFormatError(
                f"expected {T} frame indices, got {self.frame_indices.shape[0]}", where, "frame_indices"
            )
        if self.interpolated is None:
            self.interpolated = np.zeros((T, lay.num_joints), dtype=bool)
        self.interpolated = np.asarray(self.interpolated, dtype=bool)
        if self.interpolated.shape != (T, lay.num_joints):
            raise SkeletonFormatError(
                f"expected shape {(T, lay.num_joints)}, got {self.interpolated.shape}", where, "interpolated"
            )
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise SkeletonFormatError(f"fps must be a positive number, got {self.fps}", where, "fps")
        self.fps = float(self.fps)

    # ------------------------------------------------------------------ accessors
    @property
    def num_frames(self) -> int:
        return int(self.data.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.data.shape[1])

    def __len__(self) -> int:
        return self.num_frames

    @property
    def layout_obj(self) -> Layout:
        return get_layout(self.layout)

    @property
    def xy(self) -> np.ndarray:
        return self.data[..., :2]

    @property
    def confidence(self) -> np.ndarray:
        return self.data[..., 2]

    @property
    def valid(self) -> np.ndarray:
        """``(T, J)`` bool: joints with confidence > 0."""
        return self.data[..., 2] > 0

    def copy(self, **changes: Any) -> SkeletonSequence:
        base = dict(
            data=self.data.copy(),
            frame_indices=self.frame_indices.copy(),
            interpolated=self.interpolated.copy(),
            meta=json.loads(json.dumps(self.meta)),
        )
        base.update(changes)
        return replace(self, **base)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the ``.npz`` atomically (temporary file, then rename). A layout that is not
        built in travels with the data (``layout_spec``, JSON): loading registers it."""
        extra = {} if is_builtin(self.layout) else {"layout_spec": np.str_(json.dumps(self.layout_obj.to_dict()))}
        return save_npz(
            path,
            format_version=np.int64(FORMAT_VERSION),
            data=self.data,
            layout=np.str_(self.layout),
            **extra,
            fps=np.float64(self.fps),
            frame_indices=self.frame_indices,
            interpolated=self.interpolated,
            meta=np.str_(json.dumps(self.meta, default=_json_safe)),
        )

    @classmethod
    def load(cls, path: str | Path) -> SkeletonSequence:
        """Read a posekit ``.npz``; errors name the file and the field."""
        path = Path(path)
        arrays = _read_npz(path)
        missing = [k for k in _KEYS if k not in arrays]
        if missing:
            hint = " (a pred_comp file? use SkeletonSequence.from_pred_comp)" if "pred" in arrays else ""
            raise SkeletonFormatError(f"missing key(s) {missing}{hint}", path, missing[0])
        version = int(arrays["format_version"])
        if version > FORMAT_VERSION:
            raise SkeletonFormatError(
                f"format version {version} is newer than this posekit ({FORMAT_VERSION})", path, "format_version"
            )
        try:
            meta = json.loads(str(arrays["meta"]))
        except json.JSONDecodeError as exc:
            raise SkeletonFormatError(f"not valid JSON ({exc})", path, "meta") from None
        if "layout_spec" in arrays:
            _register_spec(str(arrays["layout_spec"]), path)
        return cls(
            data=arrays["data"],
            layout=str(arrays["layout"]),
            fps=float(arrays["fps"]),
            frame_indices=arrays["frame_indices"],
            interpolated=arrays["interpolated"],
            meta=meta,
            path=str(path),
        )

    @classmethod
    def from_pred_comp(cls, path: str | Path, fps: float = 25.0) -> SkeletonSequence:
        """Read an HP-MCoRe / FineDiving-Pose ``pred_comp_<idx>.npz`` (key ``pred``,
        ``(T, 16, 2)`` or ``(T, 16, 3)``, MPII-16 order). Two channels mean confidence 1."""
        path = Path(path)
        arrays = _read_npz(path)
        if "pred" not in arrays:
            raise SkeletonFormatError(f"missing key 'pred' (keys: {sorted(arrays)})", path, "pred")
        pred = arrays["pred"]
        if pred.ndim != 3 or pred.shape[1:] not in ((16, 2), (16, 3)):
            raise SkeletonFormatError(f"expected (T, 16, 2) or (T, 16, 3), got {pred.shape}", path, "pred")
        return cls(
            data=pred, layout="mpii16", fps=fps, meta={"source": str(path), "format": "pred_comp"}, path=str(path)
        )

    # ------------------------------------------------------------------ operations
    def resample(self, num_frames: int) -> SkeletonSequence:
        """Resample to a fixed length ``num_frames`` (e.g. 96) at ``linspace(0, T-1, num_frames)``.

        Between two valid samples x, y and confidence are interpolated linearly; where either
        neighbour is missing, the nearest sample is taken (so missing stays missing). The fps
        is scaled so the clip keeps its duration; the interpolated mask and the source frame
        index come from the nearest sample.
        """
        if num_frames < 1:
            raise SkeletonFormatError(f"num_frames must be >= 1, got {num_frames}", self.path, "num_frames")
        T = self.num_frames
        pos = np.linspace(0.0, T - 1, num_frames) if num_frames > 1 else np.zeros(1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, T - 1)
        w = (pos - lo).astype(np.float32)[:, None, None]
        a, b = self.data[lo], self.data[hi]
        both = (a[..., 2] > 0) & (b[..., 2] > 0)
        nearest_idx = np.where(pos - lo < 0.5, lo, hi)
        near = self.data[nearest_idx]
        lin = (1 - w) * a + w * b
        out = np.where(both[..., None], lin, near).astype(np.float32)
        duration = T / self.fps
        meta = dict(self.meta)
        meta["resampled_from"] = T
        return SkeletonSequence(
            data=out,
            layout=self.layout,
            fps=num_frames / duration,
            frame_indices=self.frame_indices[nearest_idx],
            interpolated=self.interpolated[nearest_idx],
            meta=meta,
            path=self.path,
        )

    def normalise(self, center: Literal["frame", "sequence", "body", "body_oriented"] = "frame") -> SkeletonSequence:
        """Centre on the layout's root (pelvis) and scale by the torso length.

        ``center="frame"`` subtracts each frame's root (pose-centric, insensitive to camera
        pans); ``"sequence"`` subtracts the mean root over the clip (keeps the trajectory);
        ``"body"`` also rotates every frame so that its spine (root to neck) points up, the 2-D
        form of pyskl's ``PreNormalize3D`` spine alignment: the posture in the body's own
        frame, the same whether the diver is upright, horizontal or upside down (the body's
        orientation is dropped; frames without root or neck take the nearest frame's angle).
        ``"body_oriented"`` is ``"body"`` with the orientation kept: the root joint, which
        body-centring pins at the origin, carries the unit spine direction in the image
        (``(sin a, -cos a)``; ``(0, -1)`` upright), so a tilt of the whole body (a diver's
        entry angle) stays visible in the skeleton, at the root.
        The torso length is the median over frames of ``|mean(neck) - mean(root)|``. Frames
        whose root is missing use the mean root of the valid frames. The offsets, scale (and
        the per-frame spine angle for ``"body"``) are recorded in ``meta["normalisation"]``.
        """
        if center not in ("frame", "sequence", "body", "body_oriented"):
            raise ValueError(f"center must be 'frame', 'sequence', 'body' or 'body_oriented', got {center!r}")
        lay = self.layout_obj
        if not lay.root or not lay.neck:
            raise SkeletonFormatError(
                f"layout {lay.name} defines no root/neck joints to normalise by", self.path, "layout"
            )
        root_i, neck_i = lay.root_index(), lay.neck_index()
        valid = self.valid
        root_ok = valid[:, root_i].all(axis=1)
        neck_ok = valid[:, neck_i].all(axis=1)
        if not root_ok.any():
            raise SkeletonFormatError(f"root joint(s) {list(lay.root)} are missing in every frame", self.path, "data")
        root = self.xy[:, root_i].mean(axis=1)
        neck = self.xy[:, neck_i].mean(axis=1)
        fill = root[root_ok].mean(axis=0)
        root = np.where(root_ok[:, None], root, fill)
        both = root_ok & neck_ok
        if not both.any():
            raise SkeletonFormatError(
                "no frame has both root and neck joints; cannot measure the torso", self.path, "data"
            )
        scale = float(np.median(np.linalg.norm(neck[both] - root[both], axis=1)))
        if scale <= 1e-8:
            raise SkeletonFormatError("torso length is zero; cannot normalise", self.path, "data")
        origin = root if center != "sequence" else np.broadcast_to(root[root_ok].mean(axis=0), root.shape)
        out = self.data.copy()
        out[..., :2] = (out[..., :2] - origin[:, None, :]) / scale
        meta = dict(self.meta)
        meta["normalisation"] = {"center": center, "scale": scale}
        if center in ("body", "body_oriented"):
            spine = neck - root
            ang = np.arctan2(spine[:, 0], -spine[:, 1])  # 0 when the neck is straight above the root
            idx = np.nonzero(both)[0]
            nearest = idx[np.abs(np.arange(len(ang))[:, None] - idx[None, :]).argmin(axis=1)]
            ang = ang[nearest]
            c, s_ = np.cos(ang)[:, None], np.sin(ang)[:, None]
            x, y = out[..., 0].copy(), out[..., 1].copy()
            out[..., 0], out[..., 1] = c * x + s_ * y, -s_ * x + c * y  # rotate by -angle: spine up
            meta["normalisation"]["spine_angle"] = ang.astype(float).tolist()
            if center == "body_oriented":
                r = root_i[0] if len(root_i) == 1 else None
                if r is None:
                    raise SkeletonFormatError(
                        f"layout {lay.name}: body_oriented needs a single root joint, has {list(lay.root)}",
                        self.path,
                        "layout",
                    )
                out[:, r, 0], out[:, r, 1] = np.sin(ang), -np.cos(ang)
        out[~valid, :2] = 0.0
        return self.copy(data=out, meta=meta)

    def flip(self, width: float | None = None) -> SkeletonSequence:
        """Mirror left/right: swap the layout's flip pairs and mirror x (``x -> width - x`` for
        pixel coordinates, ``x -> -x`` when ``width`` is None, e.g. after :meth:`normalise`)."""
        lay = self.layout_obj
        perm = lay.flip_index
        out = self.data[:, perm].copy()
        out[..., 0] = (width - out[..., 0]) if width is not None else -out[..., 0]
        out[out[..., 2] <= 0, :2] = 0.0
        return self.copy(data=out, interpolated=self.interpolated[:, perm].copy())

    def to_tensor(self, channels: int = 3) -> torch.Tensor:
        """``(C, T, V, M=1)`` float32 tensor (pyskl / ST-GCN layout); ``channels=2`` drops confidence."""
        import torch

        if channels not in (2, 3):
            raise ValueError(f"channels must be 2 or 3, got {channels}")
        arr = np.ascontiguousarray(self.data[..., :channels].transpose(2, 0, 1)[..., None])
        return torch.from_numpy(arr)

    def to_layout(self, target: str | Layout) -> SkeletonSequence:
        """Convert to another layout with :mod:`graphs.convert` (confidence carried)."""
        from graphs.convert import get_mapping

        mapping = get_mapping(self.layout, target)
        data = mapping.apply(self.data)
        interp = (self.interpolated.astype(np.float32) @ (mapping.weights != 0).T.astype(np.float32)) > 0
        meta = dict(self.meta)
        meta["converted_from"] = self.layout
        meta["synthesised_joints"] = list(mapping.synthesised)
        return SkeletonSequence(
            data=data,
            layout=mapping.target.name,
            fps=self.fps,
            frame_indices=self.frame_indices.copy(),
            interpolated=interp,
            meta=meta,
        )


def _json_safe(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def visibility_to_confidence(v: np.ndarray, occluded: float = 0.5) -> np.ndarray:
    """COCO keypoint visibility (0 not labelled, 1 labelled but occluded, 2 visible) as a
    posekit confidence in [0, 1]: 0 -> 0, 1 -> ``occluded``, 2 -> 1. Any other value is an
    error: a file that mixes conventions should not be guessed at."""
    v = np.asarray(v)
    if not np.isin(v, (0, 1, 2)).all():
        bad = v[~np.isin(v, (0, 1, 2))].ravel()[0]
        raise SkeletonFormatError(f"COCO visibility must be 0, 1 or 2, got {bad!r}", field="visibility")
    return np.choose(v.astype(np.int64), [0.0, occluded, 1.0]).astype(np.float32)


def _register_spec(text: str, path: Path) -> None:
    """Register the layout a file carries (or check it against the registered one)."""
    try:
        spec = json.loads(text)
        register_layout(Layout.from_dict(spec, source=str(path)))
    except json.JSONDecodeError as exc:
        raise SkeletonFormatError(f"not valid JSON ({exc})", path, "layout_spec") from None
    except (LayoutError, TypeError, KeyError, AttributeError) as exc:
        raise SkeletonFormatError(str(exc), path, "layout_spec") from None


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise SkeletonFormatError("file not found", path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise SkeletonFormatError(
            f"not a readable .npz (truncated or corrupt?): {type(exc).__name__}: {exc}", path
        ) from None
