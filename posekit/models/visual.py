"""Visual encoders over precomputed RGB features (HP-MCoRe eq. 2-3).

AQA users work with features extracted once (``posekit features``): dynamic clip features
``(N, T_c, D_d)`` (I3D: 9 x 1024 per FineDiving clip) and static frame features
``(N, T_s, D_s)`` (ResNet-50: 2048 per frame). Either may also carry a spatial grid
``(N, T, D, h, w)``, which is max-pooled (eq. 3) or pooled at several scales (eq. 2).
Both encoders resample their output to the model's time grid of ``T`` frames (linear
interpolation), where the procedure segmentation works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def to_time_grid(x: torch.Tensor, T: int) -> torch.Tensor:
    """``(N, T_in, D)`` -> ``(N, T, D)`` by linear interpolation along time."""
    if x.shape[1] == T:
        return x
    return F.interpolate(x.transpose(1, 2), size=T, mode="linear", align_corners=True).transpose(1, 2)


class DynamicVisualEncoder(nn.Module):
    """Eq. 3: ``F_dy = maxpool(Conv_mix(I(V)))`` on precomputed clip features ``I(V)``.

    ``Conv_mix`` is three temporal convolutions with growing dilation (1, 2, 4), which widen
    the temporal receptive field as the paper's mixed convolution layers do; the spatial
    max-pool applies when the features keep a spatial grid.
    """

    def __init__(self, in_dim: int, dim: int = 64, num_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(in_dim, dim, 1)]
        for i in range(num_layers):
            d = 2**i
            layers += [nn.Conv1d(dim, dim, 3, padding=d, dilation=d), nn.GroupNorm(1, dim), nn.ReLU(inplace=True)]
        self.net = nn.Sequential(*layers)
        self.in_dim = in_dim

    def forward(self, x: torch.Tensor, T: int) -> torch.Tensor:
        if x.ndim == 5:  # (N, Tc, D, h, w): spatial max-pool
            x = x.amax(dim=(-2, -1))
        if x.ndim != 3 or x.shape[-1] != self.in_dim:
            raise ValueError(f"expected dynamic features (N, T_c, {self.in_dim}), got {tuple(x.shape)}")
        return to_time_grid(self.net(x.transpose(1, 2)).transpose(1, 2), T)


class StaticVisualEncoder(nn.Module):
    """Eq. 2: ``F_st = Down_mul(R(V))`` on precomputed per-frame features ``R(V)``.

    ``Down_mul`` = a convolution then three down-sampling branches (strides 1, 2, 4 along
    time - or spatial pools 1, 2, 4 when a grid is given) whose outputs are brought back to
    the time grid and concatenated, so local detail at several scales survives.
    """

    def __init__(self, in_dim: int, dim: int = 64, scales: tuple[int, ...] = (1, 2, 4)):
        super().__init__()
        self.in_dim = in_dim
        self.scales = scales
        self.conv = nn.Sequential(nn.Conv1d(in_dim, dim, 3, padding=1), nn.GroupNorm(1, dim), nn.ReLU(inplace=True))
        self.branches = nn.ModuleList([nn.Conv1d(dim, dim, 3, padding=1) for _ in scales])
        self.out = nn.Sequential(nn.Linear(dim * len(scales), dim), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor, T: int) -> torch.Tensor:
        if x.ndim == 5:  # (N, Ts, D, h, w): average the grid (scales act on time below)
            x = x.mean(dim=(-2, -1))
        if x.ndim != 3 or x.shape[-1] != self.in_dim:
            raise ValueError(f"expected static features (N, T_s, {self.in_dim}), got {tuple(x.shape)}")
        h = self.conv(x.transpose(1, 2))
        outs = []
        for s, br in zip(self.scales, self.branches, strict=True):
            y = F.max_pool1d(h, s, s, ceil_mode=True) if s > 1 else h
            y = torch.relu(br(y))
            outs.append(to_time_grid(y.transpose(1, 2), T))
        return self.out(torch.cat(outs, dim=-1))
