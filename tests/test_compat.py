"""Each workaround of posekit.compat, proven against a brute-force reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from posekit import compat

compat.install()


def brute_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union

    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep: list[int] = []
    for i in order:
        if all(iou(boxes[i], boxes[k]) <= thr for k in keep):
            keep.append(i)
    return keep


def random_boxes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 40 + 1
    return torch.cat([xy, xy + wh], 1), torch.rand(n, generator=g)


@pytest.mark.parametrize("seed,thr", [(0, 0.5), (1, 0.3), (2, 0.7)])
def test_torchvision_nms_equals_brute_force(seed: int, thr: float) -> None:
    import torchvision

    boxes, scores = random_boxes(80, seed)
    got = torchvision.ops.nms(boxes, scores, thr).tolist()
    assert got == brute_nms(boxes.numpy(), scores.numpy(), thr)
    assert len(got) < 80  # something was suppressed


def test_torchvision_batched_nms_keeps_classes_apart() -> None:
    import torchvision

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    idx = torch.tensor([0, 0, 1])
    assert sorted(torchvision.ops.batched_nms(boxes, scores, idx, 0.5).tolist()) == [0, 2]


def test_torchvision_unported_ops_still_fail_clearly() -> None:
    import torchvision

    with pytest.raises(RuntimeError, match="custom C\\+\\+ ops"):
        torchvision.ops.deform_conv2d(torch.rand(1, 1, 5, 5), torch.zeros(1, 18, 3, 3), torch.rand(1, 1, 3, 3))


def test_mmpose_apis_import_and_mmcv_nms() -> None:
    import mmpose.apis  # noqa: F401
    from mmcv.ops import nms

    boxes, scores = random_boxes(60, 3)
    dets, keep = nms(boxes, scores, 0.5)
    assert keep.tolist() == brute_nms(boxes.numpy(), scores.numpy(), 0.5)
    assert dets.shape == (len(keep), 5)


def test_mmcv_stub_names_missing_ops() -> None:
    import mmcv._ext as ext
    from mmengine.utils.dl_utils import mmcv_full_available

    assert mmcv_full_available() is False  # mmengine asks pkgutil for the loader: none, not an error

    with pytest.raises(NotImplementedError, match="roi_align_forward"):
        ext.roi_align_forward()


def brute_knn(x: torch.Tensor, k: int, batch: torch.Tensor, loop: bool) -> set[tuple[int, int]]:
    edges = set()
    for i in range(len(x)):
        cand = [j for j in range(len(x)) if batch[j] == batch[i] and (loop or j != i)]
        d = sorted(cand, key=lambda j: float(((x[i] - x[j]) ** 2).sum()))
        edges |= {(j, i) for j in d[:k]}  # source -> target (flow source_to_target)
    return edges


@pytest.mark.parametrize("loop", [False, True])
def test_pyg_knn_graph_equals_brute_force(loop: bool) -> None:
    from torch_geometric.nn import knn_graph

    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 4, generator=g)
    batch = torch.tensor([0] * 12 + [1] * 18)
    ei = knn_graph(x, k=5, batch=batch, loop=loop)
    assert set(map(tuple, ei.T.tolist())) == brute_knn(x, 5, batch, loop)


def test_pyg_dynamic_edge_conv_trains() -> None:
    from torch_geometric.nn import DynamicEdgeConv, EdgeConv, GCNConv

    x = torch.randn(20, 3, requires_grad=True)
    conv = DynamicEdgeConv(torch.nn.Linear(6, 8), k=4)
    conv(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    ei = torch.tensor(list(itertools.permutations(range(5), 2))).T
    assert EdgeConv(torch.nn.Linear(6, 2))(torch.randn(5, 3), ei).shape == (5, 2)
    assert GCNConv(3, 2)(torch.randn(5, 3), ei).shape == (5, 2)


def test_install_is_idempotent() -> None:
    first = compat.install()
    assert all(first.values()), first
    compat._STATE.clear()  # forget the cache: installing again must not register any operator twice
    again = compat.install()
    assert again == first
    import torchvision

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30.0]])
    assert torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
