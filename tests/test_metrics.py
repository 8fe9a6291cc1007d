"""Metrics: golden values from released predictions, hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit import metrics


@pytest.mark.parametrize("model", ["tsa", "mcore"])
def test_golden_finediving_metrics(shared_data: Path, model: str) -> None:
    gm = shared_data / "golden_metrics"
    expected = json.loads((gm / "expected.json").read_text())[f"{model}_finediving"]
    pred = np.load(gm / f"{model}_finediving_pred.npy")
    true = np.load(gm / f"{model}_finediving_true.npy")
    assert len(pred) == expected["n"] == 749
    assert round(metrics.spearman(pred, true), 6) == expected["srcc"]
    assert round(metrics.r_l2(pred, true), 6) == pytest.approx(expected["r_l2_x100"], abs=1e-6)
    assert round(metrics.r_l1(pred, true), 6) == pytest.approx(expected["r_l1_x100_paper_formula"], abs=1e-6)
    assert round(metrics.mse(pred, true), 6) == pytest.approx(expected["mse"], abs=1e-6)


def test_score_metrics_by_hand() -> None:
    true = np.array([10.0, 20.0, 30.0, 40.0])
    pred = np.array([12.0, 18.0, 35.0, 40.0])
    assert metrics.spearman(pred, true) == pytest.approx(1.0)
    assert metrics.spearman(pred[::-1], true) == pytest.approx(-1.0)
    # ((2/30)^2 + (2/30)^2 + (5/30)^2 + 0) / 4 * 100
    assert metrics.r_l2(pred, true) == pytest.approx((4 + 4 + 25) / 900 / 4 * 100)
    assert metrics.mse(pred, true) == pytest.approx((4 + 4 + 25) / 4)
    assert metrics.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)  # ties averaged
    with pytest.raises(ValueError, match="NaN"):
        metrics.spearman([1, np.nan], [1, 2])
    with pytest.raises(ValueError, match="max == min"):
        metrics.r_l2([1, 2], [3, 3])


def test_segment_iou_hand_computed() -> None:
    assert metrics.segment_iou([10, 30], [10, 30]) == 1.0
    assert metrics.segment_iou([10, 30], [20, 40]) == pytest.approx(10 / 30)
    assert metrics.segment_iou([0, 10], [20, 40]) == 0.0
    assert metrics.segment_iou([10, 30], [15, 25]) == pytest.approx(10 / 20)
    # three transitions: boxes [0,10] + [10,20] vs [5,10] + [10,30] -> inter [5,20] = 15, union [0,30] = 30
    assert metrics.segment_iou([0, 10, 20], [5, 10, 30]) == pytest.approx(0.5)
    assert metrics.segment_iou([5, 5], [5, 5]) == 1.0
    with pytest.raises(ValueError, match="at least 2"):
        metrics.segment_iou([5], [6])


def test_aiou() -> None:
    pred = np.array([[10, 30], [10, 30], [0, 10], [12, 30]])
    true = np.array([[10, 30], [20, 40], [20, 40], [10, 30]])
    # IoUs 1, 1/3, 0, 0.9
    assert metrics.aiou(pred, true, 0.5) == pytest.approx(0.5)
    assert metrics.aiou(pred, true, 0.95) == pytest.approx(0.25)
    assert metrics.aiou(pred, true, [0.3, 0.75]) == {0.3: 0.75, 0.75: 0.5}


def test_pckh_hand_computed() -> None:
    from graphs import get_layout

    lay = get_layout("mpii16")
    true = np.zeros((2, 16, 2))
    true[:, lay.index("upper_neck")] = [0, 0]
    true[:, lay.index("head_top")] = [0, -10]  # head size 10 -> threshold 5 at alpha 0.5
    pred = true.copy()
    pred[0, lay.index("r_wrist")] += [3, 4]  # distance 5: correct (<=)
    pred[1, lay.index("r_wrist")] += [6, 0]  # distance 6: wrong
    res = metrics.pckh(pred, true)
    assert res["per_joint"]["r_wrist"] == 0.5
    assert res["pckh"] == pytest.approx(31 / 32)
    vis = np.ones((2, 16), bool)
    vis[1, lay.index("r_wrist")] = False
    assert metrics.pckh(pred, true, vis)["per_joint"]["r_wrist"] == 1.0
    valid = np.ones((2, 16), bool)
    valid[0, 0] = False
    assert metrics.pckh(pred, true, pred_valid=valid)["per_joint"]["r_ankle"] == 0.5
