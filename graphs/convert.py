"""Converters between skeleton layouts, carrying confidence.

A conversion is a ``(J_target, J_source)`` weight matrix ``W``: each target joint is an
affine combination of source joints (weights sum to 1, so it commutes with translation
and scaling), ``xy_t = sum_s W[t, s] xy_s``. Its confidence is the smallest confidence of
the source joints it uses, so a target joint built from a missing source is missing.

Joints MPII-16 has and COCO-17 / BlazePose-33 lack are synthesised (and listed in
:attr:`LayoutMapping.synthesised`):

* ``pelvis``     = midpoint of the hips;
* ``thorax``     = midpoint of the shoulders;
* ``upper_neck`` = halfway from the thorax to the head centre (midpoint of the ears);
* ``head_top``   = head centre + (head centre - upper_neck), i.e.
  ``1.5 * ears_mid - 0.5 * shoulders_mid``: the head is taken as twice the distance from
  the upper neck to the ear line. This is a geometric approximation of the MPII
  convention, not a fitted one.

Layouts that share joint names (a user layout that extends MPII-16 with equipment
points, say) convert by name without a registered mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphs.layout import Layout, get_layout
from posekit.errors import LayoutError

_Spec = dict[str, dict[str, float]]


def _side(prefix: str) -> dict[str, str]:
    return {
        f"{prefix[0]}_ankle": f"{prefix}ankle",
        f"{prefix[0]}_knee": f"{prefix}knee",
        f"{prefix[0]}_hip": f"{prefix}hip",
        f"{prefix[0]}_wrist": f"{prefix}wrist",
        f"{prefix[0]}_elbow": f"{prefix}elbow",
        f"{prefix[0]}_shoulder": f"{prefix}shoulder",
    }


def _to_mpii_spec() -> _Spec:
    """Shared by COCO-17 and BlazePose-33, whose limb/ear joint names are the same."""
    spec: _Spec = {}
    for side in ("right_", "left_"):
        for t, s in _side(side).items():
            spec[t] = {s: 1.0}
    spec["pelvis"] = {"left_hip": 0.5, "right_hip": 0.5}
    spec["thorax"] = {"left_shoulder": 0.5, "right_shoulder": 0.5}
    spec["upper_neck"] = {"left_shoulder": 0.25, "right_shoulder": 0.25, "left_ear": 0.25, "right_ear": 0.25}
    spec["head_top"] = {"left_ear": 0.75, "right_ear": 0.75, "left_shoulder": -0.25, "right_shoulder": -0.25}
    return spec


_MAPPINGS: dict[tuple[str, str], _Spec] = {
    ("coco17", "mpii16"): _to_mpii_spec(),
    ("blazepose33", "mpii16"): _to_mpii_spec(),
}


@dataclass(frozen=True)
class LayoutMapping:
    source: Layout
    target: Layout
    weights: np.ndarray  # (J_target, J_source) float32
    synthesised: tuple[str, ...]

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return self.apply(data)

    def apply(self, data: np.ndarray) -> np.ndarray:
        """``(T, J_source, C)`` (C = 2 or 3: x, y[, confidence]) -> ``(T, J_target, 3)`` float32."""
        data = np.asarray(data, dtype=np.float32)
        if data.ndim != 3 or data.shape[1] != self.source.num_joints or data.shape[2] not in (2, 3):
            raise LayoutError(
                f"expected (T, {self.source.num_joints}, 2|3) for layout {self.source.name}, got {data.shape}"
            )
        xy = np.einsum("ts,nsc->ntc", self.weights, data[..., :2])
        if data.shape[2] == 3:
            conf = data[..., 2]
        else:
            conf = np.ones(data.shape[:2], dtype=np.float32)
        used = self.weights != 0  # (Jt, Js)
        big = np.where(used[None], conf[:, None, :], np.inf)  # (T, Jt, Js)
        out_conf = big.min(axis=2)
        out_conf = np.where(np.isfinite(out_conf), out_conf, 0.0)
        out = np.concatenate([xy, out_conf[..., None]], axis=2).astype(np.float32)
        out[out[..., 2] <= 0, :2] = 0.0
        return out


def register_mapping(source: str, target: str, spec: _Spec, overwrite: bool = False) -> None:
    """Register ``{target_joint: {source_joint: weight}}`` for ``source -> target``."""
    key = (source, target)
    if key in _MAPPINGS and not overwrite:
        raise LayoutError(f"a mapping {source} -> {target} is already registered")
    _MAPPINGS[key] = spec


def get_mapping(source: str | Layout, target: str | Layout) -> LayoutMapping:
    src, tgt = get_layout(source), get_layout(target)
    spec = _MAPPINGS.get((src.name, tgt.name))
    weights = np.zeros((tgt.num_joints, src.num_joints), dtype=np.float32)
    synthesised: list[str] = []
    if spec is None:
        missing = [j for j in tgt.joints if j not in src.joints]
        if missing:
            raise LayoutError(
                f"no mapping registered from {src.name} to {tgt.name}, and joints {missing} of {tgt.name} "
                f"are not in {src.name}; register one with graphs.convert.register_mapping"
            )
        for t, name in enumerate(tgt.joints):
            weights[t, src.index(name)] = 1.0
    else:
        for t, name in enumerate(tgt.joints):
            if name not in spec:
                raise LayoutError(f"mapping {src.name} -> {tgt.name} does not define target joint '{name}'")
            terms = spec[name]
            for s, w in terms.items():
                weights[t, src.index(s)] = w
            if abs(sum(terms.values()) - 1.0) > 1e-6:
                raise LayoutError(f"mapping {src.name} -> {tgt.name}: weights of '{name}' do not sum to 1")
            if len(terms) > 1 or not _same_joint(name, next(iter(terms))):
                synthesised.append(name)
    return LayoutMapping(src, tgt, weights, tuple(synthesised))


def _same_joint(a: str, b: str) -> bool:
    """``r_knee`` and ``right_knee`` name the same joint."""
    norm = {"r_": "right_", "l_": "left_"}
    for short, long in norm.items():
        if a.startswith(short):
            a = long + a[2:]
        if b.startswith(short):
            b = long + b[2:]
    return a == b


def convert(data: np.ndarray, source: str | Layout, target: str | Layout) -> np.ndarray:
    """Convert a ``(T, J, C)`` array between layouts (see the module docstring)."""
    return get_mapping(source, target).apply(data)
