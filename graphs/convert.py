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

**Calibrated mappings.** Two keypoint conventions need not put a joint at the same place even
when they share its name: BlazePose/COCO hips sit wider than MPII's, and the synthesised
joints above are guesses. :func:`fit_mapping` learns the weights from hand labels (a joint
regressor, as 3D body models map mesh vertices to a dataset's joints): per target joint, an
affine combination of a few allowed source joints (:func:`calibration_sources`), weights
summing to 1 (so the mapping still commutes with translation, rotation and scale), shrunk
towards the geometric mapping (ridge) and fitted on the labels and their left/right mirror
images, so left and right joints get mirror weights and the mapping cannot learn which side
faced the camera in the labelled footage. Limb joints (ankle, knee, wrist, elbow) are the same
anatomical point in both conventions and stay the identity: a regressor that pulled a knee
towards the hip-ankle line would learn "the legs were straight in the labelled frames" and
hide the bent knees a judge penalises. Fitted mappings are JSON files
(:func:`save_mapping` / :func:`load_mapping`); the ones posekit ships live in
``graphs/layouts/mappings/`` and are picked by name in :func:`get_mapping`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphs.errors import LayoutError, write_json_atomic
from graphs.layout import Layout, get_layout

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
    name: str = "geometric"
    meta: dict = field(default_factory=dict, compare=False)

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


MAPPINGS_DIR = Path(__file__).parent / "layouts" / "mappings"

#: The calibrated mapping a pose estimator uses by default for a layout pair (the others:
#: the geometric one). Fitted by ``posekit fit-mapping`` on the 51 hand-labelled FineDiving
#: frames; its provenance and held-out figures are in the file's ``meta``.
DEFAULT_VARIANT: dict[tuple[str, str], str] = {("blazepose33", "mpii16"): "finediving"}


def available_variants(source: str | Layout, target: str | Layout) -> list[str]:
    """Names :func:`get_mapping` accepts for ``source -> target``: ``geometric`` and the shipped
    calibrated mappings ``graphs/layouts/mappings/<source>_<target>_<name>.json``."""
    src, tgt = get_layout(source), get_layout(target)
    prefix = f"{src.name}_{tgt.name}_"
    return ["geometric"] + sorted(p.stem[len(prefix) :] for p in MAPPINGS_DIR.glob(f"{prefix}*.json"))


def get_mapping(
    source: str | Layout, target: str | Layout, variant: str | Path | LayoutMapping | None = "geometric"
) -> LayoutMapping:
    """The mapping ``source -> target``. ``variant``: ``"geometric"`` (the registered or
    by-name mapping), the name of a shipped calibrated mapping (:func:`available_variants`),
    a path to a mapping JSON (:func:`save_mapping`), a :class:`LayoutMapping` (checked), or
    None for the pair's default (:data:`DEFAULT_VARIANT`, else geometric)."""
    src, tgt = get_layout(source), get_layout(target)
    if isinstance(variant, LayoutMapping):
        if (variant.source.name, variant.target.name) != (src.name, tgt.name):
            raise LayoutError(
                f"mapping {variant.name} maps {variant.source.name} -> {variant.target.name}, "
                f"expected {src.name} -> {tgt.name}"
            )
        return variant
    if variant is None:
        variant = DEFAULT_VARIANT.get((src.name, tgt.name), "geometric")
    if variant != "geometric":
        path = Path(variant)
        if path.suffix != ".json":
            path = MAPPINGS_DIR / f"{src.name}_{tgt.name}_{variant}.json"
            if not path.exists():
                raise LayoutError(
                    f"no mapping '{variant}' from {src.name} to {tgt.name}; "
                    f"available: {', '.join(available_variants(src, tgt))} (or a path to a mapping JSON)"
                )
        m = load_mapping(path)
        if (m.source.name, m.target.name) != (src.name, tgt.name):
            raise LayoutError(
                f"maps {m.source.name} -> {m.target.name}, expected {src.name} -> {tgt.name}", path, "source"
            )
        return m
    spec = _MAPPINGS.get((src.name, tgt.name))
    weights = np.zeros((tgt.num_joints, src.num_joints), dtype=np.float32)
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
    return LayoutMapping(src, tgt, weights, _synthesised(src, tgt, weights))


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


# ----------------------------------------------------------------------------- calibration


def calibration_sources(source: str | Layout, target: str | Layout) -> dict[str, tuple[str, ...]]:
    """The source joints a calibrated mapping may use for each target joint.

    A limb joint (ankle, knee, wrist, elbow) keeps its own source joint only: it is the same
    anatomical point in both conventions. A girdle joint (hip, shoulder) may move along the
    girdle: its own joint and its left/right partner (conventions differ in hip and shoulder
    width). The synthesised MPII joints use the joints they are defined from: the pelvis the
    hips; the thorax, upper neck and head top the shoulders and the face points (nose, eyes,
    ears, mouth corners, whichever the source layout has). Any other target joint keeps the
    geometric mapping's sources.
    """
    src, tgt = get_layout(source), get_layout(target)
    geo = _geometric_weights(src, tgt)
    face = [
        j
        for j in ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right")
        if j in src.joints
    ]
    shoulders = [j for j in ("left_shoulder", "right_shoulder") if j in src.joints]
    hips = [j for j in ("left_hip", "right_hip") if j in src.joints]
    out: dict[str, tuple[str, ...]] = {}
    for t, name in enumerate(tgt.joints):
        own = [src.joints[s] for s in np.flatnonzero(geo[t])]
        part = name.split("_", 1)[-1]
        if name == "pelvis":
            cand = hips
        elif name in ("thorax", "upper_neck", "head_top"):
            cand = shoulders + face
        elif part == "hip" and len(own) == 1:
            cand = own + [h for h in hips if h != own[0]]
        elif part == "shoulder" and len(own) == 1:
            cand = own + [h for h in shoulders if h != own[0]]
        else:
            cand = own
        missing = [j for j in own if j not in cand]
        out[name] = tuple(cand + missing)  # always a superset of the geometric sources
    return out


def _geometric_weights(src: Layout, tgt: Layout) -> np.ndarray:
    return get_mapping(src, tgt, "geometric").weights.astype(np.float64)


def fit_mapping(
    source: str | Layout,
    target: str | Layout,
    source_xy: np.ndarray,
    target_xy: np.ndarray,
    visible: np.ndarray | None = None,
    *,
    scale: np.ndarray | None = None,
    ridge: float = 1.0,
    symmetric: bool = True,
    sources: dict[str, tuple[str, ...]] | None = None,
    min_source_conf: float = 0.0,
    name: str = "fitted",
) -> LayoutMapping:
    """Fit a calibrated ``source -> target`` mapping to labelled frames (a joint regressor).

    ``source_xy`` ``(N, J_source, 2|3)`` are a model's keypoints (with confidence), ``target_xy``
    ``(N, J_target, 2)`` the hand labels of the same frames, ``visible`` ``(N, J_target)`` which
    labels exist, ``scale`` ``(N,)`` a per-frame length (e.g. the head segment, so every frame
    weighs by PCKh's yardstick; default 1). For each target joint ``t`` with allowed sources
    ``S_t`` (:func:`calibration_sources`) and geometric weights ``w0``, it solves

        min_w  sum_n |(sum_{s in S_t} w_s x_{n,s} - y_{n,t}) / scale_n|^2 + ridge |w - w0|^2
        s.t.   sum_s w_s = 1

    (the same weights for x and y, so the result commutes with rotation and scaling) in
    closed form on the sum-zero subspace. With ``symmetric`` the frames' left/right mirror
    images are added (source and target joints relabelled by their layouts' flip pairs):
    mirror joints get mirror weights. Frames where the label or an allowed source is missing
    (confidence <= ``min_source_conf``) are left out for that joint.
    """
    src, tgt = get_layout(source), get_layout(target)
    X = np.asarray(source_xy, dtype=np.float64)
    Y = np.asarray(target_xy, dtype=np.float64)[..., :2]
    N = len(X)
    if X.ndim != 3 or X.shape[1] != src.num_joints or X.shape[2] not in (2, 3):
        raise LayoutError(f"source_xy: expected (N, {src.num_joints}, 2|3) for {src.name}, got {X.shape}")
    if Y.shape != (N, tgt.num_joints, 2):
        raise LayoutError(f"target_xy: expected ({N}, {tgt.num_joints}, 2) for {tgt.name}, got {Y.shape}")
    vis = np.ones((N, tgt.num_joints), bool) if visible is None else np.asarray(visible).astype(bool)
    if vis.shape != (N, tgt.num_joints):
        raise LayoutError(f"visible: expected ({N}, {tgt.num_joints}), got {vis.shape}")
    sc = np.ones(N) if scale is None else np.asarray(scale, dtype=np.float64).reshape(N)
    if not (np.isfinite(sc).all() and (sc > 0).all()):
        raise LayoutError("scale: every frame needs a positive finite length")
    conf = X[..., 2] if X.shape[2] == 3 else np.ones(X.shape[:2])
    ok_src = np.isfinite(X[..., :2]).all(-1) & (conf > min_source_conf)
    sets = [(X[..., :2], Y, vis, ok_src)]
    if symmetric:
        fs, ft = src.flip_index, tgt.flip_index
        sets.append((X[:, fs, :2], Y[:, ft], vis[:, ft], ok_src[:, fs]))
    allowed = sources or calibration_sources(src, tgt)
    W0 = _geometric_weights(src, tgt)
    W = np.zeros_like(W0)
    for t, tname in enumerate(tgt.joints):
        cand = [src.index(j) for j in allowed.get(tname, ())]
        if not cand or any(W0[t, s] != 0 and s not in cand for s in np.flatnonzero(W0[t])):
            raise LayoutError(f"sources of '{tname}' must include its geometric sources")
        w0 = W0[t, cand]
        k = len(cand)
        if k == 1:
            W[t, cand] = 1.0
            continue
        rows_x, rows_y = [], []
        for xs, ys, vs, oks in sets:
            use = vs[:, t] & oks[:, cand].all(1) & np.isfinite(ys[:, t]).all(-1)
            if use.any():
                s_ = sc[use][:, None]
                rows_x += [xs[use][:, cand, 0] / s_, xs[use][:, cand, 1] / s_]
                rows_y += [ys[use, t, 0] / s_[:, 0], ys[use, t, 1] / s_[:, 0]]
        if not rows_x:
            W[t] = W0[t]
            continue
        A, b = np.concatenate(rows_x), np.concatenate(rows_y)
        Z = np.linalg.svd(np.eye(k) - 1.0 / k)[0][:, : k - 1]  # orthonormal basis of sum-zero
        AZ = A @ Z
        v = np.linalg.solve(AZ.T @ AZ + ridge * np.eye(k - 1), AZ.T @ (b - A @ w0))
        W[t, cand] = w0 + Z @ v
    synth = _synthesised(src, tgt, W)
    meta = {"frames": int(N), "ridge": float(ridge), "symmetric": bool(symmetric)}
    return LayoutMapping(src, tgt, W.astype(np.float32), synth, name=name, meta=meta)


def _synthesised(src: Layout, tgt: Layout, W: np.ndarray) -> tuple[str, ...]:
    """Target joints that are not one source joint of the same name."""
    return tuple(
        n
        for t, n in enumerate(tgt.joints)
        if np.count_nonzero(W[t]) > 1 or not _same_joint(n, src.joints[int(np.argmax(np.abs(W[t])))])
    )


def mapping_to_dict(m: LayoutMapping) -> dict:
    return {
        "source": m.source.name,
        "target": m.target.name,
        "name": m.name,
        "weights": {
            t: {m.source.joints[s]: float(m.weights[i, s]) for s in np.flatnonzero(m.weights[i])}
            for i, t in enumerate(m.target.joints)
        },
        "meta": m.meta,
    }


def save_mapping(m: LayoutMapping, path: str | Path) -> Path:
    """Write a mapping as JSON (atomically)."""
    return write_json_atomic(Path(path), mapping_to_dict(m))


def load_mapping(path: str | Path) -> LayoutMapping:
    """Read a mapping JSON (:func:`save_mapping`); errors name the file and the field."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LayoutError(f"cannot read mapping ({exc.strerror or exc})", path) from None
    except json.JSONDecodeError as exc:
        raise LayoutError(f"not JSON ({exc})", path) from None
    if not isinstance(obj, dict):
        raise LayoutError("expected an object {source, target, weights}", path)
    for key in ("source", "target", "weights"):
        if key not in obj:
            raise LayoutError("missing", path, key)
    try:
        src, tgt = get_layout(obj["source"]), get_layout(obj["target"])
    except Exception as exc:
        raise LayoutError(f"unknown layout ({exc})", path, "source/target") from None
    spec = obj["weights"]
    if not isinstance(spec, dict):
        raise LayoutError("expected {target_joint: {source_joint: weight}}", path, "weights")
    W = np.zeros((tgt.num_joints, src.num_joints), np.float32)
    for t, name in enumerate(tgt.joints):
        terms = spec.get(name)
        if not isinstance(terms, dict) or not terms:
            raise LayoutError(f"target joint '{name}' has no source weights", path, f"weights.{name}")
        for s, w in terms.items():
            if s not in src.joints:
                raise LayoutError(f"'{s}' is not a {src.name} joint", path, f"weights.{name}")
            if not isinstance(w, (int, float)) or not np.isfinite(w):
                raise LayoutError(f"weight of '{s}' is {w!r}, expected a number", path, f"weights.{name}")
            W[t, src.index(s)] = w
        total = float(sum(terms.values()))
        if abs(total - 1.0) > 1e-4:
            raise LayoutError(f"weights sum to {total:.6f}, expected 1", path, f"weights.{name}")
    extra = sorted(set(spec) - set(tgt.joints))
    if extra:
        raise LayoutError(f"{extra} are not {tgt.name} joints", path, "weights")
    synth = _synthesised(src, tgt, W)
    return LayoutMapping(src, tgt, W, synth, name=str(obj.get("name", path.stem)), meta=dict(obj.get("meta") or {}))
