"""posekit.methods: the specific parts of TSA, CoRe, SAP-Net, progressive sub-action
regression and score decoupling, and every method through the shared trainer, checkpoint,
evaluation and explanation API."""

import copy
import itertools

import numpy as np
import pytest
import torch
import yaml
from conftest import TINY_AQA

from posekit.errors import ConfigError
from posekit.explain import explain
from posekit.methods import METHODS, build_method
from posekit.methods.core import RegressionTree, group_of, quantile_edges
from posekit.methods.decoupling import decoupling_margin, ranking_hinge
from posekit.methods.progressive import temporal_segments
from posekit.methods.sapnet import greedy_subset, group_contrastive, parse_pseudo_labels, subset_cost
from posekit.methods.tsa import ordered_transitions, transition_bce
from posekit.training import build_splits, load_checkpoint, load_config, model_from_checkpoint, run_training
from posekit.training.data import split_labelled
from posekit.training.pairs import item_tensors
from posekit.training.trainer import evaluate_items


# ---------------------------------------------------------------------- TSA
def test_tsa_transitions_are_ordered_argmax_per_window():
    T, L = 12, 2
    logits = torch.full((1, T, L), -5.0)
    logits[0, 9, 0] = 5.0  # transition 1 peaks outside its window (frames 1..6): ignored
    logits[0, 3, 0] = 2.0
    logits[0, 2, 1] = 9.0  # transition 2 peaks before transition 1: outside its window
    logits[0, 8, 1] = 1.0
    t = ordered_transitions(logits)
    assert t.tolist() == [[3, 8]]
    rnd = ordered_transitions(torch.randn(50, 30, 3))
    assert (rnd[:, 1:] >= rnd[:, :-1]).all()


def test_tsa_bce_prefers_the_true_transition_and_skips_unknown():
    T = 10
    b = torch.tensor([[3, 6]])  # transitions at frames 4 and 7
    good = torch.full((1, T, 2), -4.0)
    good[0, 4, 0] = good[0, 7, 1] = 4.0
    bad = torch.full((1, T, 2), -4.0)
    bad[0, 1, 0] = bad[0, 2, 1] = 4.0
    assert transition_bce(good, b) < transition_bce(bad, b)
    assert float(transition_bce(good, torch.tensor([[-1, -1]]))) == 0.0


# ---------------------------------------------------------------------- CoRe
def test_core_groups_hold_equal_shares_of_training_pairs():
    rng = np.random.default_rng(0)
    d = rng.normal(0, 1, 4000) ** 3  # skewed: equal-width bins would be very unequal
    e = quantile_edges(d, 8)
    assert len(e) == 9 and np.all(np.diff(e) > 0)
    g = group_of(torch.from_numpy(d).float(), torch.from_numpy(e).float()).numpy()
    counts = np.bincount(g, minlength=8)
    assert counts.min() >= 0.9 * len(d) / 8 and counts.max() <= 1.1 * len(d) / 8
    assert int(group_of(torch.tensor([1e9]), torch.from_numpy(e).float())) == 7  # out of range -> end group
    assert int(group_of(torch.tensor([-1e9]), torch.from_numpy(e).float())) == 0
    # tied quantiles are spread apart, so no group is empty by construction
    assert np.all(np.diff(quantile_edges(np.zeros(100), 4)) > 0)


def test_core_tree_leaf_probabilities_sum_to_one():
    tree = RegressionTree(8, 3)
    logp, off = tree(torch.randn(5, 8))
    assert logp.shape == off.shape == (5, 8)
    assert torch.allclose(logp.exp().sum(dim=1), torch.ones(5), atol=1e-5)
    assert ((off >= 0) & (off <= 1)).all()


# ---------------------------------------------------------------------- SAP-Net
def test_sapnet_greedy_subset_matches_brute_force():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [30.0, 30.0], [-25.0, 5.0]])
    x = np.concatenate([c + rng.normal(0, 0.3, (30, 2)) for c in centres[:4]])  # data around 4 of 6 states
    for K in (1, 2, 3, 4):
        sel = greedy_subset(x, centres, K)
        assert len(set(sel)) == K
        best = min(itertools.combinations(range(6), K), key=lambda s: subset_cost(x, centres, list(s)))
        opt = subset_cost(x, centres, list(best))
        # greedy is never better than the brute-force optimum of eq. 3, and reaches it for one state
        # and for as many states as the data has clusters
        assert subset_cost(x, centres, sel) >= opt - 1e-9
        if K in (1, 4):
            assert subset_cost(x, centres, sel) == pytest.approx(opt)
        # and every greedy step is the best one-state extension (Algorithm 1, line 4)
        for i in range(1, K):
            rest = [z for z in range(6) if z not in sel[:i]]
            step = min(rest, key=lambda z: subset_cost(x, centres, [*sel[:i], z]))
            assert subset_cost(x, centres, [*sel[:i], step]) == pytest.approx(subset_cost(x, centres, sel[: i + 1]))
    assert set(greedy_subset(x, centres, 4)) == {0, 1, 2, 3}  # the empty states are never chosen


def test_sapnet_pseudo_labels_follow_time_order():
    T = 30
    base = np.concatenate([np.zeros((10, 4)), np.ones((10, 4)) * 5, np.ones((10, 4)) * -5])
    feats = np.stack([base + np.random.default_rng(i).normal(0, 0.1, base.shape) for i in range(4)])
    lab = parse_pseudo_labels(feats.astype(np.float32), M=6, K=3, seed=0)
    assert lab.shape == (4, T)
    assert (lab[:, :10] == 0).all() and (lab[:, 10:20] == 1).all() and (lab[:, 20:] == 2).all()


def test_sapnet_group_contrastive_rewards_agreeing_branches():
    labels = torch.tensor([[0, 0, 1, 1, 2, 2]] * 3)
    protos = torch.eye(3, 8)
    ha = protos[labels] + 0.01 * torch.randn(3, 6, 8)
    agree = group_contrastive(ha, ha.clone(), labels, 3, 0.1)
    shuffled = group_contrastive(ha, protos[(labels + 1) % 3], labels, 3, 0.1)
    assert agree < shuffled
    assert float(group_contrastive(ha, ha, torch.zeros_like(labels), 3, 0.1)) == 0.0  # one group: no negatives


def test_labelled_split_spreads_over_scores():
    items = [
        type("It", (), {"score": float(s), "key": i})() for i, s in enumerate(np.random.default_rng(0).permutation(100))
    ]
    lab, unl = split_labelled(items, 0.2)
    assert len(lab) == 20 and len(unl) == 80 and not {i.key for i in lab} & {i.key for i in unl}
    s = sorted(i.score for i in lab)
    assert s[0] == 0 and s[-1] == 99 and max(np.diff(s)) <= 6
    with pytest.raises(ConfigError, match="labelled_fraction"):
        split_labelled(items, 0.0)


# ---------------------------------------------------------------------- progressive
def test_progressive_temporal_clusters_match_brute_force():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (9, 2))

    def cost(cuts):
        segs = np.split(x, [c + 1 for c in cuts])
        return sum(((s - s.mean(0)) ** 2).sum() for s in segs)

    got = temporal_segments(x, 3)
    best = min(itertools.combinations(range(8), 2), key=cost)
    assert cost(got) == pytest.approx(cost(best))
    assert (np.diff(got) > 0).all()


# ---------------------------------------------------------------------- score decoupling
def test_decoupling_ranking_losses_have_the_right_signs():
    ya, yb = torch.tensor([2.0, 1.0, 1.0]), torch.tensor([1.0, 2.0, 1.0])
    right = ranking_hinge(torch.tensor([1.0, 0.0, 5.0]), torch.tensor([0.0, 1.0, 0.0]), ya, yb, 0.1)
    wrong = ranking_hinge(torch.tensor([0.0, 1.0, 5.0]), torch.tensor([1.0, 0.0, 0.0]), ya, yb, 0.1)
    assert float(right) == 0.0 and float(wrong) == pytest.approx(1.1)  # the tie (third pair) is ignored
    # decoupled branch separates the pair more than the average one -> no loss; less -> loss
    dec_good = decoupling_margin(
        (torch.tensor([2.0]), torch.tensor([0.0])), (torch.tensor([1.0]), torch.tensor([0.5])), ya[:1], yb[:1], 0.1
    )
    dec_bad = decoupling_margin(
        (torch.tensor([1.0]), torch.tensor([0.9])), (torch.tensor([1.0]), torch.tensor([0.0])), ya[:1], yb[:1], 0.1
    )
    assert float(dec_good) == 0.0 and float(dec_bad) > 0.9


# ---------------------------------------------------------------------- every method end to end
@pytest.fixture(scope="module")
def tiny_cfg_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("methods")
    cfg = copy.deepcopy(TINY_AQA)
    cfg["model"] = {"dim": 16, "hse_blocks": 1, "tokens": 2, "mlp_hidden": 16}  # options every method has
    (d / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    return d


@pytest.mark.slow
@pytest.mark.parametrize("method", ["tsa", "core", "sapnet", "progressive", "decoupling"])
def test_method_trains_evaluates_reloads_and_explains(method, tiny_cfg_path):
    over = [f"method={method}"]
    if method == "sapnet":
        over.append("data.labelled_fraction=0.5")
    if method == "tsa":
        over += ["model.heads=2", "model.decoder_layers=1"]
    cfg = load_config(tiny_cfg_path / "tiny.yaml", over)
    work = tiny_cfg_path / method
    summary = run_training(cfg, work)
    assert summary["method"] == method and np.isfinite(summary["metrics"]["mse"])
    ck = load_checkpoint(work / "best.pth")
    assert ck["method"] == method
    model = model_from_checkpoint(ck)
    splits = build_splits(cfg)
    if method == "sapnet":
        n_all = len(splits.train) + len(splits.unlabelled)  # data.labelled_fraction=0.5: half keep their scores
        assert abs(len(splits.train) - n_all / 2) <= 1 and not {i.key for i in splits.train} & {
            i.key for i in splits.unlabelled
        }
    res = evaluate_items(model, splits.test, splits.train, cfg, 3)
    assert np.isfinite(res["pred"]).all() and res["pred"].shape == (len(splits.test),)
    # same weights, same predictions (the reloaded model reproduces the written metrics)
    assert res["metrics"]["mse"] == pytest.approx(summary["metrics"]["mse"], rel=1e-4, abs=1e-6)
    # the explanation API works for every method: completeness of integrated gradients
    q = item_tensors(splits.test[0], False)
    ex = [item_tensors(it, False) for it in splits.train[:3]]
    e = explain(model, q, ex, n_steps=16)
    total = e.joint_frame_array.sum() + sum(e.rgb.get("per_stage", []))
    assert np.isfinite(total) and "predicted score" in e.summary()
    assert total == pytest.approx(e.score - e.baseline_score, abs=0.1 * abs(e.score - e.baseline_score) + 0.1)
    rnd = copy.deepcopy(model)
    with torch.no_grad():
        for p in rnd.parameters():
            p.copy_(torch.randn_like(p))

    def attribution(x):  # skeleton and RGB (SAP-Net's student scores from the RGB features only)
        return np.concatenate([x.joint_frame_array.ravel(), x.rgb.get("per_stage", [])])

    assert not np.allclose(attribution(explain(rnd, q, ex, n_steps=8)), attribution(e))


def test_unknown_method_and_options_are_config_errors(tiny_cfg_path):
    with pytest.raises(ConfigError, match="unknown method"):
        load_config(tiny_cfg_path / "tiny.yaml", ["method=nope"])
    with pytest.raises(ConfigError, match="depth_typo"):
        load_config(tiny_cfg_path / "tiny.yaml", ["method=core", "model.depth_typo=3"])
    assert set(METHODS) == {"hpmcore", "tsa", "core", "sapnet", "progressive", "decoupling", "dct_ridge", "dct_svr"}
    with pytest.raises(ValueError, match="dynamic_dim"):
        build_method("tsa", {"T": 24, "K": 3, "dim": 16})


# ---------------------------------------------------------------------- one interface
def test_every_method_is_an_aqamethod_built_from_typed_options(tmp_path):
    """Every method implements :class:`AQAMethod` and is built from its typed config: the
    loss weights travel in HP-MCoRe's config (never a YAML dict read in the model), and a
    method that does not read ``loss:`` warns that a changed one is ignored."""
    from posekit.methods import method_config
    from posekit.models.base import AQAMethod
    from posekit.models.hpmcore import HPMCoReLoss
    from posekit.training.config import model_section

    for name, cls in METHODS.items():
        assert issubclass(cls, AQAMethod), name
    d = copy.deepcopy(TINY_AQA)
    d["loss"] = {"cont": 0.25, "tau": 0.2}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    cfg = load_config(tmp_path / "c.yaml")
    conf = method_config("hpmcore", model_section(cfg))
    assert conf.loss == HPMCoReLoss(cont=0.25, tau=0.2)
    assert conf.to_dict()["loss"]["tau"] == 0.2
    assert type(conf).from_dict(conf.to_dict()).loss == conf.loss  # checkpoints round-trip
    d["method"], d["model"] = "core", {"dim": 16}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    with pytest.warns(UserWarning, match="does not read the loss: section"):
        load_config(tmp_path / "c.yaml")
    d["loss"] = {"tau": -1.0}
    d["method"], d["model"] = "hpmcore", TINY_AQA["model"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError, match="tau"):
        load_config(tmp_path / "c.yaml")


def test_classical_baselines_are_methods_matching_scikit_learn(tmp_path):
    """``dct_svr`` / ``dct_ridge`` train through ``run_training`` (closed form, no epochs),
    save weights-only checkpoints that reload to the same predictions, match scikit-learn's
    pipeline within 0.01 score units, and can be explained."""
    from posekit.models.baselines import dct_features, dct_svr

    d = copy.deepcopy(TINY_AQA)
    d.update(method="dct_svr", model={"num_coefs": 4})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    cfg = load_config(tmp_path / "c.yaml")
    s = run_training(cfg, tmp_path / "w")
    assert s["best_epoch"] == -1 and np.isfinite(s["metrics"]["srcc"])
    splits = build_splits(cfg)
    fit = splits.train + splits.val
    ref = dct_svr().fit(np.stack([dct_features(it.pose, 4) for it in fit]), [it.score for it in fit])
    want = ref.predict(np.stack([dct_features(it.pose, 4) for it in splits.test]))
    model = model_from_checkpoint(load_checkpoint(tmp_path / "w" / "best.pth"))
    got = evaluate_items(model, splits.test, splits.train, cfg, 3)["pred"]
    assert np.abs(got - want).max() < 0.01
    q = item_tensors(splits.test[0], False)
    e = explain(model, q, [item_tensors(it, False) for it in splits.train[:3]], n_steps=8)
    assert e.stage_names == ["whole clip"] and np.isfinite(e.joint_frame_array).all()
    assert np.abs(e.joint_frame_array).sum() > 0
    d["method"], d["model"] = "dct_ridge", {"num_coefs": 4}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    s = run_training(load_config(tmp_path / "c.yaml"), tmp_path / "r")
    assert np.isfinite(s["metrics"]["mse"])
