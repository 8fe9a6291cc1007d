"""Calibrated layout mappings (a joint regressor fitted on hand labels) and ``posekit fit-mapping``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from graphs import get_layout, get_mapping
from graphs.convert import (
    available_variants,
    calibration_sources,
    fit_mapping,
    load_mapping,
    save_mapping,
)
from posekit.errors import LayoutError

SRC, TGT = get_layout("blazepose33"), get_layout("mpii16")


def _poses(n: int, seed: int = 0) -> np.ndarray:
    """Random BlazePose-33 frames: a jittered template, rotated, scaled and moved per frame."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 30, (SRC.num_joints, 2))
    out = np.empty((n, SRC.num_joints, 3))
    for i in range(n):
        a = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        xy = (base + rng.normal(0, 8, base.shape)) @ rot.T * rng.uniform(0.5, 2) + rng.uniform(0, 400, 2)
        out[i, :, :2], out[i, :, 2] = xy, rng.uniform(0.5, 1, SRC.num_joints)
    return out


def _true_weights() -> np.ndarray:
    """A left/right symmetric mapping within the allowed sources: narrower hips and shoulders,
    a head top from the ears and the nose; everything else geometric."""
    W = get_mapping(SRC, TGT, "geometric").weights.astype(np.float64).copy()

    def row(t: str, terms: dict[str, float]) -> None:
        W[TGT.index(t)] = 0
        for s, w in terms.items():
            W[TGT.index(t), SRC.index(s)] = w

    row("r_hip", {"right_hip": 0.8, "left_hip": 0.2})
    row("l_hip", {"left_hip": 0.8, "right_hip": 0.2})
    row("r_shoulder", {"right_shoulder": 0.7, "left_shoulder": 0.3})
    row("l_shoulder", {"left_shoulder": 0.7, "right_shoulder": 0.3})
    row("head_top", {"left_ear": 0.9, "right_ear": 0.9, "nose": -0.4, "left_shoulder": -0.2, "right_shoulder": -0.2})
    return W


def test_fit_recovers_a_known_mapping_and_keeps_its_invariances() -> None:
    X = _poses(200)
    W = _true_weights()
    Y = np.einsum("ts,nsc->ntc", W, X[..., :2]) + np.random.default_rng(1).normal(0, 0.2, (200, 16, 2))
    m = fit_mapping(SRC, TGT, X, Y, ridge=1e-6)
    np.testing.assert_allclose(m.weights, W, atol=0.02)
    np.testing.assert_allclose(m.weights.sum(1), 1.0, atol=1e-5)
    # an affine combination summing to 1: rotating, scaling and moving the input does the same to the output
    a = 0.7
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    Xt = X.copy()
    Xt[..., :2] = X[..., :2] @ R.T * 1.7 + [30.0, -12.0]
    np.testing.assert_allclose(m.apply(Xt)[..., :2], m.apply(X)[..., :2] @ R.T * 1.7 + [30.0, -12.0], atol=1e-2)
    assert "head_top" in m.synthesised and "r_hip" in m.synthesised and "r_knee" not in m.synthesised


def test_fit_is_left_right_symmetric_and_leaves_limb_joints_alone() -> None:
    X = _poses(150, seed=3)
    W = get_mapping(SRC, TGT, "geometric").weights.astype(np.float64).copy()
    # lopsided labels: only the right hip narrower; knees pulled towards the hips (straight-leg prior)
    W[TGT.index("r_hip")] = 0
    W[TGT.index("r_hip"), [SRC.index("right_hip"), SRC.index("left_hip")]] = [0.6, 0.4]
    for side in ("right", "left"):
        t = TGT.index(f"{side[0]}_knee")
        W[t] = 0
        W[t, [SRC.index(f"{side}_knee"), SRC.index(f"{side}_hip")]] = [0.5, 0.5]
    Y = np.einsum("ts,nsc->ntc", W, X[..., :2])
    m = fit_mapping(SRC, TGT, X, Y, ridge=1e-6)
    w = {t: m.weights[TGT.index(t)] for t in ("r_hip", "l_hip", "r_knee", "l_knee")}
    assert w["r_hip"][SRC.index("right_hip")] == pytest.approx(w["l_hip"][SRC.index("left_hip")], abs=1e-5)
    assert w["r_hip"][SRC.index("left_hip")] == pytest.approx(w["l_hip"][SRC.index("right_hip")], abs=1e-5)
    assert 0.6 < w["r_hip"][SRC.index("right_hip")] < 1.0  # between the two sides' truths (0.6 and 1)
    for t in ("r_knee", "l_knee"):  # a limb joint is the same point in both conventions
        assert np.count_nonzero(w[t]) == 1 and w[t].max() == 1.0
    assert calibration_sources(SRC, TGT)["r_knee"] == ("right_knee",)
    # without symmetry the lopsided truth comes back
    m2 = fit_mapping(SRC, TGT, X, Y, ridge=1e-6, symmetric=False)
    assert m2.weights[TGT.index("r_hip"), SRC.index("right_hip")] == pytest.approx(0.6, abs=1e-3)


def test_ridge_shrinks_towards_the_geometric_mapping_and_missing_frames_are_left_out() -> None:
    X = _poses(40, seed=5)
    W = _true_weights()
    Y = np.einsum("ts,nsc->ntc", W, X[..., :2])
    geo = get_mapping(SRC, TGT, "geometric").weights
    big = fit_mapping(SRC, TGT, X, Y, ridge=1e9)
    np.testing.assert_allclose(big.weights, geo, atol=1e-4)
    # a frame whose hip source is missing, or whose hip label is not there, does not move the fit
    Xb, vis = X.copy(), np.ones((40, 16), bool)
    Xb[0, SRC.index("left_hip")] = [1e6, 1e6, 0.0]  # confidence 0: missing
    Yb = Y.copy()
    Yb[1, TGT.index("r_hip")] = [-1e6, 1e6]
    vis[1, TGT.index("r_hip")] = False
    m = fit_mapping(SRC, TGT, Xb, Yb, vis, ridge=1e-6, symmetric=False)
    assert m.weights[TGT.index("r_hip"), SRC.index("right_hip")] == pytest.approx(0.8, abs=1e-3)


def test_fit_rejects_bad_shapes() -> None:
    with pytest.raises(LayoutError, match="source_xy"):
        fit_mapping(SRC, TGT, np.zeros((3, 17, 3)), np.zeros((3, 16, 2)))
    with pytest.raises(LayoutError, match="scale"):
        fit_mapping(SRC, TGT, _poses(3), np.zeros((3, 16, 2)), scale=np.array([1.0, 0.0, 1.0]))


def test_mapping_json_round_trip_and_clear_errors(tmp_path: Path) -> None:
    X = _poses(60)
    m = fit_mapping(SRC, TGT, X, np.einsum("ts,nsc->ntc", _true_weights(), X[..., :2]), name="mine")
    p = save_mapping(m, tmp_path / "m.json")
    back = load_mapping(p)
    np.testing.assert_allclose(back.weights, m.weights, atol=1e-7)
    assert back.name == "mine" and back.synthesised == m.synthesised
    assert get_mapping("blazepose33", "mpii16", p).name == "mine"  # a path works as a variant
    obj = json.loads(p.read_text())
    obj["weights"]["r_hip"]["right_hip"] += 0.5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(obj))
    with pytest.raises(LayoutError, match=r"bad\.json: field 'weights\.r_hip': weights sum to 1\.5"):
        load_mapping(bad)
    obj = json.loads(p.read_text())
    obj["weights"]["head_top"] = {"tail": 1.0}
    bad.write_text(json.dumps(obj))
    with pytest.raises(LayoutError, match=r"field 'weights\.head_top': 'tail' is not a blazepose33 joint"):
        load_mapping(bad)
    obj = json.loads(p.read_text())
    del obj["target"]
    bad.write_text(json.dumps(obj))
    with pytest.raises(LayoutError, match=r"field 'target': missing"):
        load_mapping(bad)
    bad.write_text("{")
    with pytest.raises(LayoutError, match="not JSON"):
        load_mapping(bad)
    with pytest.raises(LayoutError, match="available: geometric, finediving"):
        get_mapping("blazepose33", "mpii16", "nonesuch")


def test_the_shipped_finediving_mapping_is_the_estimators_default() -> None:
    assert available_variants("blazepose33", "mpii16") == ["geometric", "finediving"]
    m = get_mapping("blazepose33", "mpii16", None)
    assert m.name == "finediving"
    np.testing.assert_allclose(m.weights.sum(1), 1.0, atol=1e-5)
    flip_s, flip_t = SRC.flip_index, TGT.flip_index
    np.testing.assert_allclose(m.weights[flip_t][:, flip_s], m.weights, atol=1e-6)  # mirror symmetric
    for t in ("r_ankle", "r_knee", "r_wrist", "r_elbow", "l_ankle", "l_knee", "l_wrist", "l_elbow"):
        assert np.count_nonzero(m.weights[TGT.index(t)]) == 1
    assert m.meta["pckh_held_out"] > m.meta["pckh_geometric"]
    assert get_mapping("coco17", "mpii16", None).name == "geometric"  # no calibrated one for COCO
    from posekit.pose.estimate import BlazePoseEstimator, build_estimator

    est = BlazePoseEstimator()
    assert est.mapping.name == "finediving"
    assert build_estimator("blazepose", mapping="geometric", model=est.model).mapping.name == "geometric"


def test_held_out_predictions_never_see_their_own_labels() -> None:
    from posekit.pose.calibrate import held_out_predictions

    X = _poses(12, seed=7).astype(np.float32)
    Y = np.einsum("ts,nsc->ntc", _true_weights(), X[..., :2])
    vis = np.ones((12, 16), bool)
    groups = np.repeat([0, 1, 2], 4)
    p1 = held_out_predictions(X, Y, vis, groups)
    Y2 = Y.copy()
    Y2[groups == 1] += 50.0  # change one group's labels only
    p2 = held_out_predictions(X, Y2, vis, groups)
    np.testing.assert_allclose(p1[groups == 1], p2[groups == 1], atol=1e-4)
    assert not np.allclose(p1[groups == 0], p2[groups == 0], atol=1e-2)


def test_cli_fit_mapping_on_real_labelled_frames(shared_data: Path, tmp_path: Path, capsys) -> None:
    from posekit.cli import main

    root = shared_data / "finediving" / "pose_frames"
    recs = json.loads((root / "annotations.json").read_text())
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(recs[10:16]))
    out = tmp_path / "m.json"
    rc = main(
        ["fit-mapping", str(labels), "--image-dir", str(root / "images"), "--out", str(out), "--name", "six"]
        + ["--new-group-at", recs[13]["image"]]
    )
    assert rc == 0
    m = load_mapping(out)
    assert m.name == "six" and m.meta["images"] == 6 and m.meta["held_out_groups"] == 2
    np.testing.assert_allclose(m.weights.sum(1), 1.0, atol=1e-5)
    rc = main(
        ["fit-mapping", str(labels), "--image-dir", str(root / "images"), "--out", str(out)]
        + ["--new-group-at", "nope.jpg"]
    )
    assert rc != 0 and "nope.jpg" in capsys.readouterr().err
