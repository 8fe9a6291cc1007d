"""Hierarchical skeletal encoder (HP-MCoRe eq. 4-5, after HD-GCN).

Input ``(N, C, T, V)`` (x, y, confidence of a :mod:`graphs` layout). Per block and per
semantic level ``H_i`` (torso, inner limbs, outer limbs), a graph convolution over the
identity / centripetal / centrifugal subsets of :class:`graphs.hierarchy.Hierarchy`
(eq. 4: ``H_i = ||_s A_i^s MLP(P) W_i^s``, then a point-wise convolution and a temporal
convolution), and an EdgeConv (``torch_geometric.nn.EdgeConv``) over the time-averaged
joint features on the edges joining the joints of level ``i - 1`` and level ``i`` (for
``H_0``, the torso joints among themselves) - eq. 5's ``Z_i . 1/T sum_t MLP(P)``. The
block output is ``sum_i [H_i || Z_i]`` projected back to ``D`` channels (eq. 5), with a
residual connection. Output: per-frame joint features ``(N, T, V, D)`` and a per-frame readout ``(N, T, D)``
(a linear map of the concatenated joint features, which keeps joint identity).

Normalisation (``norm``): ``"group"`` (GroupNorm, the default) normalises each clip on its
own, so a DDP run over split batches computes exactly what one process computes on the whole
batch; it also removes each clip's overall amplitude of motion (a per-sample statistic).
``"batch"`` (BatchNorm, as ST-GCN and pyskl's GCNs use) normalises with statistics over the
batch (running statistics at evaluation) and keeps how much one clip moves compared with
another, which the score of a speed climb depends on (``bench/speed_climbing.py``); the
trainer turns it into SyncBatchNorm under DDP.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import EdgeConv

from graphs.hierarchy import NUM_LEVELS, SUBSETS, build_hierarchy

NORMS = ("group", "batch")


def _norm(c: int, kind: str = "group") -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(c)
    if kind != "group":
        raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")
    g = 8 if c % 8 == 0 else (4 if c % 4 == 0 else 1)
    return nn.GroupNorm(g, c)


class LevelGraphConv(nn.Module):
    """Eq. 4 for one level: ``||_s A^s (x W^s)`` over the three subsets, then a point-wise
    convolution to ``out`` channels and a temporal convolution."""

    def __init__(self, dim: int, out: int, adjacency: np.ndarray, temporal_kernel: int = 5, norm: str = "group"):
        super().__init__()
        self.register_buffer("A", torch.as_tensor(adjacency, dtype=torch.float32))  # (3, V, V)
        self.subset_convs = nn.ModuleList([nn.Conv2d(dim, out, 1) for _ in SUBSETS])
        self.pointwise = nn.Sequential(nn.Conv2d(out * len(SUBSETS), out, 1), _norm(out, norm), nn.ReLU(inplace=True))
        pad = (temporal_kernel - 1) // 2
        self.temporal = nn.Sequential(
            nn.Conv2d(out, out, (temporal_kernel, 1), padding=(pad, 0)), _norm(out, norm), nn.ReLU(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, D, T, V)
        parts = [torch.einsum("nctv,wv->nctw", conv(x), self.A[s]) for s, conv in enumerate(self.subset_convs)]
        return self.temporal(self.pointwise(torch.cat(parts, dim=1)))


class LevelEdgeConv(nn.Module):
    """EdgeConv (Wang et al. 2019) on the time-averaged joint features, over the edges that
    join level ``i - 1`` to level ``i`` (HP-MCoRe eq. 5)."""

    def __init__(self, dim: int, out: int, edge_index: np.ndarray, num_joints: int):
        super().__init__()
        ei = torch.as_tensor(edge_index, dtype=torch.long)
        loops = torch.arange(num_joints).repeat(2, 1)
        self.register_buffer("edge_index", torch.cat([ei, loops], dim=1))
        self.num_joints = num_joints
        self.conv = EdgeConv(
            nn.Sequential(nn.Linear(2 * dim, out), nn.ReLU(inplace=True), nn.Linear(out, out)), aggr="max"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, D, T, V) -> (N, out, 1, V)
        n, d, _, v = x.shape
        nodes = x.mean(dim=2).permute(0, 2, 1).reshape(n * v, d)
        offsets = (torch.arange(n, device=x.device) * v).repeat_interleave(self.edge_index.shape[1])
        ei = self.edge_index.repeat(1, n) + offsets
        out = self.conv(nodes, ei)
        return out.reshape(n, v, -1).permute(0, 2, 1).unsqueeze(2)


class HierarchicalBlock(nn.Module):
    """One block of eq. 4-5 over the enabled levels."""

    def __init__(
        self,
        dim: int,
        hierarchy,
        levels: Sequence[int] = (0, 1, 2),
        edgeconv: bool = True,
        temporal_kernel: int = 5,
        norm: str = "group",
    ):
        super().__init__()
        self.levels = [int(lv) for lv in levels]
        if not self.levels or any(lv not in range(NUM_LEVELS) for lv in self.levels):
            raise ValueError(f"levels must be a non-empty subset of 0..{NUM_LEVELS - 1}, got {list(levels)}")
        V = hierarchy.num_joints
        self.gcn = nn.ModuleDict(
            {str(lv): LevelGraphConv(dim, dim, hierarchy.adjacency[lv], temporal_kernel, norm) for lv in self.levels}
        )
        self.edgeconv = edgeconv
        if edgeconv:
            convs = {}
            for lv in self.levels:
                if lv == 0:
                    torso = hierarchy.level_joints(0)
                    ei = np.asarray([(i, j) for i in torso for j in torso if i != j], dtype=np.int64).reshape(-1, 2).T
                else:
                    ei = hierarchy.inter_level_edge_index(lv)
                convs[str(lv)] = LevelEdgeConv(dim, dim, ei, V)
            self.edge = nn.ModuleDict(convs)
        width = 2 * dim if edgeconv else dim
        self.project = nn.Sequential(nn.Conv2d(width, dim, 1), _norm(dim, norm))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = 0
        for lv in self.levels:
            h = self.gcn[str(lv)](x)
            if self.edgeconv:
                z = self.edge[str(lv)](x).expand(-1, -1, h.shape[2], -1)
                h = torch.cat([h, z], dim=1)
            total = total + h
        return self.act(self.project(total) + x)


class HierarchicalSkeletalEncoder(nn.Module):
    """HP-MCoRe's hierarchical skeletal encoder for any layout of :mod:`graphs`.

    ``forward(x)`` with ``x`` ``(N, C, T, V)`` returns ``(joint_features (N, T, V, D),
    pooled (N, T, D))``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        dim: int = 64,
        layout: str = "mpii16",
        levels: Sequence[int] = (0, 1, 2),
        edgeconv: bool = True,
        num_blocks: int = 2,
        temporal_kernel: int = 5,
        norm: str = "group",
    ):
        super().__init__()
        self.hierarchy = build_hierarchy(layout)
        self.num_joints = self.hierarchy.num_joints
        self.embed = nn.Sequential(nn.Conv2d(in_channels, dim, 1), _norm(dim, norm), nn.ReLU(inplace=True))  # MLP(P)
        self.joint_embedding = nn.Parameter(torch.zeros(1, dim, 1, self.num_joints))
        self.blocks = nn.ModuleList(
            [HierarchicalBlock(dim, self.hierarchy, levels, edgeconv, temporal_kernel, norm) for _ in range(num_blocks)]
        )
        # per-frame readout that keeps joint identity (a linear map of the concatenated
        # joints) rather than their mean, so a flaw of one limb survives pooling
        self.readout = nn.Sequential(nn.Linear(self.num_joints * dim, dim), nn.ReLU(inplace=True))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or x.shape[-1] != self.num_joints:
            raise ValueError(f"expected (N, C, T, {self.num_joints}) skeletons, got {tuple(x.shape)}")
        h = self.embed(x) + self.joint_embedding
        for blk in self.blocks:
            h = blk(h)
        joints = h.permute(0, 2, 3, 1)  # (N, T, V, D)
        return joints, self.readout(joints.flatten(2))
