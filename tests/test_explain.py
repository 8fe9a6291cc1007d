"""posekit.explain: captum attributions of a posekit model, their bookkeeping and I/O."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import TINY_AQA

from posekit.explain import Explanation, explain
from posekit.training import build_splits, load_checkpoint, load_config, model_from_checkpoint, run_training
from posekit.training.pairs import item_tensors


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("explain")
    (d / "tiny.yaml").write_text(yaml.safe_dump(TINY_AQA))
    cfg = load_config(d / "tiny.yaml")
    run_training(cfg, d / "work")
    model = model_from_checkpoint(load_checkpoint(d / "work" / "best.pth"))
    splits = build_splits(cfg)
    q = item_tensors(splits.test[0], False)
    ex = [item_tensors(it, False) for it in splits.train[:3]]
    return d, model, q, ex


def test_integrated_gradients_completeness_and_views(trained):
    _, model, q, ex = trained
    e = explain(model, q, ex, attribution="integrated_gradients", n_steps=48)
    total = e.joint_frame_array.sum() + sum(e.rgb["per_stage"])
    assert total == pytest.approx(e.score - e.baseline_score, abs=0.05 * abs(e.score - e.baseline_score) + 0.05)
    assert e.convergence_delta is not None and e.convergence_delta < 0.1
    assert e.per_level().sum() == pytest.approx(e.per_joint().sum(), abs=1e-6)
    assert e.per_stage().sum() == pytest.approx(e.per_joint().sum(), abs=1e-6)
    assert len(e.stage_deltas) == 3 and sum(e.stage_weights) == pytest.approx(1.0, abs=1e-5)
    assert e.score == pytest.approx(np.mean(e.exemplar_predictions), abs=1e-3)  # eq. 24
    top = e.top_joints(3)
    assert len(top) == 3 and abs(top[0][1]) >= abs(top[-1][1])
    assert "predicted score" in e.summary() and "stage" in e.summary()
    assert 0 <= e.rgb["share"] <= 1 and "rho" in e.attention and "skeletal_per_stage" in e.attention


def test_json_round_trip(trained, tmp_path):
    _, model, q, ex = trained
    e = explain(model, q, ex, attribution="gradient_x_input")
    e.to_json(tmp_path / "e.json")
    back = Explanation.from_json(tmp_path / "e.json")
    assert back.to_dict() == e.to_dict()
    assert Explanation.from_json(e.to_json()).top_joints(2) == e.top_joints(2)


def test_occlusion_and_model_randomisation(trained):
    _, model, q, ex = trained
    occ = explain(model, q, ex, attribution="occlusion")
    assert occ.joint_frame_array.shape == (24, 16) and np.isfinite(occ.joint_frame_array).all()
    ig = explain(model, q, ex)
    rnd = copy.deepcopy(model)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in rnd.parameters():
            p.normal_(0, 0.2)
    ig_rnd = explain(rnd, q, ex)
    a, b = ig.joint_frame_array.ravel(), ig_rnd.joint_frame_array.ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.9  # attributions depend on what the model learned


def test_bad_arguments(trained):
    _, model, q, ex = trained
    with pytest.raises(ValueError, match="attribution"):
        explain(model, q, ex, attribution="shap")
    with pytest.raises(ValueError, match="baseline"):
        explain(model, q, ex, baseline="median")


def test_cli_writes_json_and_pictures(trained):
    from posekit.cli import main

    d, *_ = trained
    out = d / "expl"
    args = ["explain", str(d / "tiny.yaml"), "--checkpoint", str(d / "work" / "best.pth"), "--out", str(out)]
    assert main([*args, "--sample", "test/1", "--exemplars", "3"]) == 0
    for name in ("explanation.json", "explain_skeletons.png", "explain_heatmap.png", "explain_stages.png"):
        assert (Path(out) / name).exists(), name
    assert main([*args, "--sample", "nope/1"]) == 2


def test_explain_sample_votes_with_the_exemplars_evaluation_uses(trained):
    """One exemplar rule: ``explain_sample`` (the CLI's and the demo's entry point) draws the
    exemplars ``select_exemplars`` gives evaluation, so ``data.use_dn`` and
    ``data.exemplar_group`` change them in both places alike; the score it explains is the
    one evaluation votes."""
    from posekit.explain import explain_sample
    from posekit.training.data import key_str, select_exemplars
    from posekit.training.trainer import evaluate_items

    d, model, *_ = trained
    ck = d / "work" / "best.pth"
    picked = {}
    for over in (["data.use_dn=true"], ["data.use_dn=false"], ["data.use_dn=true", "data.exemplar_group=difficulty"]):
        cfg = load_config(d / "tiny.yaml", over)
        splits = build_splits(cfg)
        q = splits.test[1]
        res = explain_sample(cfg, ck, key_str(q.key), exemplars=3)
        want = [key_str(k) for k in select_exemplars([q], splits.train, cfg, 3)[0]]
        assert res.exemplars == want
        ev = evaluate_items(model, [q], splits.train, cfg, 3)
        assert res.explanation.score == pytest.approx(float(ev["pred"][0]), abs=1e-4)
        picked[tuple(over)] = tuple(res.exemplars)
    assert len(set(picked.values())) > 1  # the options reach the explanation


def test_align_to_stages_warps_each_stage_onto_the_query_stages():
    from posekit.explain import align_to_stages
    from posekit.models.segmentation import boundaries_to_labels_t

    T = 30
    src = torch.tensor([[5, 20], [12, 15]])
    dst = torch.tensor([[9, 24]])
    # pose (N, C, T, V) whose value is the frame's stage under src; features on a 10-step grid
    lab = boundaries_to_labels_t(src, T).float()  # (2, T)
    pose = lab[:, None, :, None].expand(2, 3, T, 4).clone()
    out = align_to_stages(pose, src, dst, T, time_dim=2)
    assert out.shape == pose.shape
    want = boundaries_to_labels_t(dst, T)[0].float()
    # inside each stage the warped value is that stage's index (edges interpolate between stages)
    assert torch.allclose(out[:, 0, :, 0], want.expand(2, T))
    # identity when the stages already agree, and on a coarser feature grid
    assert torch.allclose(align_to_stages(pose[:1], src[:1], src[:1], T, time_dim=2), pose[:1])
    feat = torch.randn(2, 10, 5)
    assert align_to_stages(feat, src, dst, T).shape == (2, 10, 5)
    assert torch.allclose(align_to_stages(feat[:1], src[:1], src[:1], T), feat[:1])


def test_explanation_drawn_on_video_frames(trained, tmp_path):
    from posekit.viz import plot_explanation_on_frames

    _, model, q, ex = trained
    e = explain(model, q, ex, attribution="gradient_x_input")
    F = 10
    frames = [np.full((60, 80, 3), 40 * (i % 5), np.uint8) for i in range(F)]
    kp = np.concatenate([np.random.default_rng(0).uniform(5, 55, (F, 16, 2)), np.ones((F, 16, 1))], -1)
    p = plot_explanation_on_frames(e, frames, kp, tmp_path / "video.png")
    assert p.exists() and p.stat().st_size > 1000
    with pytest.raises(ValueError, match="keypoints must be"):
        plot_explanation_on_frames(e, frames, kp[:5], tmp_path / "bad.png")
