"""The one place where posekit makes its third-party stack import on a CPU-only machine.

Three workarounds, each idempotent and each proven by a test (``tests/test_compat.py``):

1. **torchvision** (0.28.0, a CUDA build): its compiled ``_C`` does not load, and
   ``import torchvision`` then fails because it registers a fake kernel for
   ``torchvision::nms`` / ``qnms``, operators that only ``_C`` defines. We define both
   operators with a pure-torch CPU kernel (:func:`nms_reference`) before the import, and let
   ``torchvision.ops.nms`` through its "has compiled ops" check. Every other compiled op
   (roi_align, deform_conv, image decoding) still raises torchvision's own clear error.
2. **mmcv-lite** has no ``mmcv._ext``; ``mmcv.ops`` (which mmpose imports) asks for it.
   We register a stub module whose ``nms`` is the pure-torch one and whose other attributes
   are functions that raise ``NotImplementedError`` naming the op.
3. **PyG** ``knn`` / ``knn_graph`` / ``DynamicEdgeConv`` call ``torch.ops.pyg.knn`` from
   pyg-lib, which is not on PyPI. We define that operator in pure torch (brute force,
   exact) and switch ``torch_geometric.typing.WITH_KNN`` on.

Call :func:`install` (every posekit module that needs torch does) before importing
torchvision, mmpose or torch_geometric yourself.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

import torch

_STATE: dict[str, bool] = {}
_LIBS: list[Any] = []  # keep torch.library.Library objects alive


# ---------------------------------------------------------------------- NMS
def box_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor, offset: float = 0.0) -> torch.Tensor:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` xyxy boxes (``offset=1`` is the legacy +1 area)."""
    area_a = (boxes_a[:, 2] - boxes_a[:, 0] + offset).clamp(min=0) * (boxes_a[:, 3] - boxes_a[:, 1] + offset).clamp(
        min=0
    )
    area_b = (boxes_b[:, 2] - boxes_b[:, 0] + offset).clamp(min=0) * (boxes_b[:, 3] - boxes_b[:, 1] + offset).clamp(
        min=0
    )
    lt = torch.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    rb = torch.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    wh = (rb - lt + offset).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, offset: float = 0.0) -> torch.Tensor:
    """Greedy non-maximum suppression in pure torch (same contract as ``torchvision.ops.nms``).

    Returns the int64 indices of the kept boxes in decreasing score order; a box is dropped
    when its IoU with a kept, higher-scoring box is greater than ``iou_threshold``.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    boxes = boxes.float()
    order = torch.argsort(scores.float(), descending=True, stable=True)
    iou = box_iou(boxes[order], boxes[order], offset=offset)
    n = order.numel()
    suppressed = torch.zeros(n, dtype=torch.bool, device=boxes.device)
    keep: list[int] = []
    for i in range(n):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long, device=boxes.device)]


# ---------------------------------------------------------------------- torchvision
def install_torchvision_ops() -> bool:
    """Define ``torchvision::nms`` / ``qnms`` in pure torch when torchvision's ``_C`` is absent.

    Returns True when the workaround is active (False when torchvision is not installed or
    its compiled ops load by themselves).
    """
    if "torchvision" in _STATE:
        return _STATE["torchvision"]
    active = False
    if importlib.util.find_spec("torchvision") is not None:
        try:
            torch.ops.torchvision.nms  # noqa: B018 - defined already (real _C or a previous install)
            has_nms = True
        except (AttributeError, RuntimeError):
            has_nms = False
        if not has_nms and "torchvision" not in sys.modules:
            lib = torch.library.Library("torchvision", "DEF")
            for name in ("nms", "qnms"):
                lib.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
                lib.impl(name, _nms_kernel, "CompositeExplicitAutograd")
            _LIBS.append(lib)
            active = True
        import torchvision.extension
        import torchvision.ops.boxes as tv_boxes

        if not torchvision.extension._has_ops():
            tv_boxes._assert_has_ops = _assert_nms_only
            active = True
    _STATE["torchvision"] = active
    return active


def _nms_kernel(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.5) -> torch.Tensor:
    return nms_reference(dets, scores, iou_threshold)


def _assert_nms_only() -> None:
    """torchvision's ``_assert_has_ops`` for ``ops.boxes``: nms is there (pure torch)."""


# ---------------------------------------------------------------------- mmcv-lite
class _MissingExtOp:
    def __init__(self, name: str):
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"mmcv op '{self.__name__}' needs the compiled mmcv._ext, which mmcv-lite does not ship; "
            "posekit provides only 'nms' (pure torch). Install full mmcv for other ops."
        )


def _mmcv_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, offset: int = 0) -> torch.Tensor:
    return nms_reference(boxes, scores, float(iou_threshold), offset=float(offset))


def install_mmcv_ext() -> bool:
    """Register the ``mmcv._ext`` stub when mmcv is installed without compiled ops."""
    if "mmcv" in _STATE:
        return _STATE["mmcv"]
    ours = getattr(sys.modules.get("mmcv._ext"), "__doc__", "") or ""
    active = ours.startswith("posekit stub")  # installed by an earlier call: still active
    if importlib.util.find_spec("mmcv") is not None and "mmcv._ext" not in sys.modules:
        spec = importlib.util.find_spec("mmcv._ext")
        if spec is None:
            stub = types.ModuleType("mmcv._ext")
            # a spec without a loader: mmengine's mmcv_full_available() (pkgutil.find_loader) reads it as
            # "mmcv-full is not installed", which is true
            stub.__spec__ = importlib.machinery.ModuleSpec("mmcv._ext", None)
            stub.__doc__ = "posekit stub for mmcv-lite: pure-torch nms; other ops raise NotImplementedError."
            stub.nms = _mmcv_nms  # type: ignore[attr-defined]

            def __getattr__(name: str) -> Any:
                if name.startswith("__"):
                    raise AttributeError(name)
                return _MissingExtOp(name)

            stub.__getattr__ = __getattr__  # type: ignore[attr-defined]
            sys.modules["mmcv._ext"] = stub
            active = True
    _STATE["mmcv"] = active
    return active


# ---------------------------------------------------------------------- PyG knn
def knn_reference(
    x: torch.Tensor,
    y: torch.Tensor,
    ptr_x: torch.Tensor | None,
    ptr_y: torch.Tensor | None,
    k: int,
    cosine: bool = False,
) -> torch.Tensor:
    """For every row of ``y`` its ``k`` nearest rows of ``x`` within the same batch segment.

    Returns ``(2, E)`` int64: row 0 indexes ``y``, row 1 indexes ``x`` (pyg-lib's layout).
    Exact brute force; distance is squared Euclidean, or ``1 - cos`` with ``cosine=True``.
    """
    if ptr_x is None:
        ptr_x = torch.tensor([0, x.size(0)], device=x.device)
    if ptr_y is None:
        ptr_y = torch.tensor([0, y.size(0)], device=y.device)
    rows, cols = [], []
    for b in range(ptr_x.numel() - 1):
        x0, x1 = int(ptr_x[b]), int(ptr_x[b + 1])
        y0, y1 = int(ptr_y[b]), int(ptr_y[b + 1])
        if x1 <= x0 or y1 <= y0:
            continue
        xb, yb = x[x0:x1].float(), y[y0:y1].float()
        if cosine:
            dist = 1 - torch.nn.functional.normalize(yb, dim=1) @ torch.nn.functional.normalize(xb, dim=1).T
        else:
            dist = torch.cdist(yb, xb).pow(2)
        kk = min(k, x1 - x0)
        idx = torch.topk(dist, kk, dim=1, largest=False, sorted=True).indices
        rows.append((torch.arange(y0, y1, device=x.device)[:, None].expand(-1, kk)).reshape(-1))
        cols.append((idx + x0).reshape(-1))
    if not rows:
        return torch.empty(2, 0, dtype=torch.long, device=x.device)
    return torch.stack([torch.cat(rows), torch.cat(cols)]).long()


def _pyg_knn_kernel(
    x: torch.Tensor,
    y: torch.Tensor,
    ptr_x: torch.Tensor | None,
    ptr_y: torch.Tensor | None,
    k: int = 1,
    cosine: bool = False,
    num_workers: int = 1,
) -> torch.Tensor:
    # the dispatcher drops trailing arguments equal to their schema defaults
    return knn_reference(x, y, ptr_x, ptr_y, k, cosine)


_PYG_KNN_OURS: list[bool] = []  # non-empty once posekit defined torch.ops.pyg.knn


def install_pyg_knn() -> bool:
    """Define ``torch.ops.pyg.knn`` in pure torch when pyg-lib is absent."""
    if "pyg" in _STATE:
        return _STATE["pyg"]
    active = False
    if importlib.util.find_spec("torch_geometric") is not None:
        import torch_geometric.typing as pyg_typing

        if not pyg_typing.WITH_KNN:
            try:
                torch.ops.pyg.knn  # noqa: B018
                defined = True
            except (AttributeError, RuntimeError):
                defined = False
            if not defined:
                lib = torch.library.Library("pyg", "FRAGMENT")
                lib.define(
                    "knn(Tensor x, Tensor y, Tensor? ptr_x=None, Tensor? ptr_y=None, int k=1, "
                    "bool cosine=False, int num_workers=1) -> Tensor"
                )
                lib.impl("knn", _pyg_knn_kernel, "CompositeExplicitAutograd")
                _LIBS.append(lib)
                _PYG_KNN_OURS.append(True)
            pyg_typing.WITH_KNN = True
            active = True
        elif _PYG_KNN_OURS:  # installed by an earlier call: still ours, still active
            active = True
    _STATE["pyg"] = active
    return active


def install() -> dict[str, bool]:
    """Apply every workaround (idempotent). Returns which ones are active."""
    return {
        "torchvision": install_torchvision_ops(),
        "mmcv": install_mmcv_ext(),
        "pyg_knn": install_pyg_knn(),
    }
