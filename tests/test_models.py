"""HP-MCoRe parts: shapes, the hierarchy they use, decoding, pooling, losses, ablations."""

import pytest
import torch

from graphs.hierarchy import build_hierarchy
from posekit.models import (
    HierarchicalSkeletalEncoder,
    HPMCoRe,
    HPMCoReConfig,
    PoseGuidedFusion,
    monotone_decode,
    stage_contrastive_loss,
    stage_pool,
)
from posekit.models.losses import contrastive_loss, critic
from posekit.models.segmentation import boundaries_to_labels_t, labels_to_boundaries_t


@pytest.mark.parametrize("layout", ["mpii16", "coco17", "blazepose33"])
def test_skeletal_encoder_any_layout(layout):
    V = build_hierarchy(layout).num_joints
    enc = HierarchicalSkeletalEncoder(3, 16, layout, num_blocks=1)
    joints, pooled = enc(torch.randn(2, 3, 10, V))
    assert joints.shape == (2, 10, V, 16) and pooled.shape == (2, 10, 16)
    with pytest.raises(ValueError, match="expected"):
        enc(torch.randn(2, 3, 10, V + 1))


def test_skeletal_encoder_uses_the_graph():
    """A change at one joint reaches its graph neighbours in one block, not the whole body
    when EdgeConv is off (GCN messages follow the hierarchy)."""
    torch.manual_seed(0)
    enc = HierarchicalSkeletalEncoder(3, 8, "mpii16", levels=[2], edgeconv=False, num_blocks=1, temporal_kernel=1)
    for name, mod in list(enc.named_modules()):  # GroupNorm mixes statistics over joints: remove it here
        if isinstance(mod, torch.nn.GroupNorm):
            parent = enc.get_submodule(name.rsplit(".", 1)[0]) if "." in name else enc
            setattr(parent, name.rsplit(".", 1)[-1], torch.nn.Identity())
    enc.eval()
    x = torch.randn(1, 3, 4, 16)
    y0, _ = enc(x)
    x2 = x.clone()
    x2[0, :, :, 0] += 5.0  # r_ankle
    y1, _ = enc(x2)
    changed = (y1 - y0).abs().amax(dim=(0, 1, 3)) > 1e-6
    h = build_hierarchy("mpii16")
    assert changed[0]
    assert not changed[h.level_joints(0)].any()  # torso joints do not hear the ankle at level H2


def test_monotone_decode_is_ordered_and_follows_confident_logits():
    T, K = 12, 3
    labels = torch.tensor([[0] * 3 + [1] * 6 + [2] * 3])
    logits = torch.nn.functional.one_hot(labels, K).float() * 8
    logits[0, 5] = torch.tensor([0.0, 0.0, 9.0])  # an out-of-order spike is overruled
    b = monotone_decode(logits)
    assert b.tolist() == [[2, 8]]
    rnd = monotone_decode(torch.randn(20, T, K))
    assert (rnd[:, 1] >= rnd[:, 0]).all() and (rnd >= 0).all() and (rnd < T).all()


def test_labels_boundaries_roundtrip():
    b = torch.tensor([[2, 8], [0, 0], [5, 10]])
    assert torch.equal(labels_to_boundaries_t(boundaries_to_labels_t(b, 12), 3), b)


def test_stage_pool():
    x = torch.arange(10.0).reshape(1, 10, 1)
    out = stage_pool(x, torch.tensor([[3, 6]]), tokens=2)
    assert out.shape == (1, 3, 2, 1)
    assert out[0, :, :, 0].tolist() == [[0.0, 3.0], [4.0, 6.0], [7.0, 9.0]]
    # an empty stage takes the nearest frame instead of failing
    assert torch.isfinite(stage_pool(x, torch.tensor([[3, 3]]), tokens=3)).all()


def test_fusion_variants_and_rho():
    torch.manual_seed(0)
    dy, sk = torch.randn(4, 5, 16), torch.randn(4, 5, 16)
    for kind in ("weighted", "add", "dot"):
        f = PoseGuidedFusion(16, 2, kind)
        assert f(dy, sk).shape == (4, 5, 16)
    w = PoseGuidedFusion(16, 2, "weighted")
    assert w.rho.requires_grad and not PoseGuidedFusion(16, 2, "add").rho.requires_grad
    # the skeleton changes the attention (pose guidance), rho = 0 removes it
    a1 = (w(dy, sk), w.last_attention)[1]
    a2 = (w(dy, torch.randn(4, 5, 16)), w.last_attention)[1]
    assert not torch.allclose(a1, a2)
    with torch.no_grad():
        w.rho.zero_()
    b1 = (w(dy, sk), w.last_attention)[1]
    b2 = (w(dy, torch.randn(4, 5, 16)), w.last_attention)[1]
    assert torch.allclose(b1, b2)
    with pytest.raises(ValueError, match="fusion kind"):
        PoseGuidedFusion(16, 2, "concat")


def test_stage_contrastive_loss_prefers_aligned_stages():
    torch.manual_seed(0)
    base = torch.randn(8, 3, 32)
    aligned = stage_contrastive_loss(base, base + 0.05 * torch.randn_like(base))
    shuffled = stage_contrastive_loss(base, base[:, [1, 2, 0]])
    assert aligned < shuffled
    d = critic(base, base)
    assert torch.allclose(torch.diagonal(d, dim1=-2, dim2=-1), torch.ones(8, 3), atol=1e-4)
    for kind in ("infonce", "triplet", "none"):
        assert torch.isfinite(contrastive_loss(kind, base, base + 0.1))
    with pytest.raises(ValueError):
        contrastive_loss("cosine", base, base)


def _batch(N=3, T=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "pose": torch.randn(N, 3, T, 16, generator=g),
        "dynamic": torch.randn(N, 5, 12, generator=g),
        "static": torch.randn(N, T, 10, generator=g),
        "boundaries": torch.tensor([[3, 11]] * N),
        "target": torch.rand(N, generator=g) * 50,
    }


ABLATIONS = [
    {},
    {"dve": False, "sve": False},
    {"hse": False},
    {"sve": False},
    {"hse_levels": [0, 2], "hse_edgeconv": False},
    {"fusion": "dot"},
    {"K": 1},
    {"stage_source": "uniform"},
]


@pytest.mark.parametrize("flags", ABLATIONS)
def test_hpmcore_ablations_run_and_learn(flags):
    torch.manual_seed(0)
    cfg = HPMCoReConfig(
        **{"T": 16, "dim": 16, "dynamic_dim": 12, "static_dim": 10, "hse_blocks": 1, "decoder_layers": 1, **flags}
    )
    model = HPMCoRe(cfg)
    q, e = _batch(seed=1), _batch(seed=2)
    if cfg.K == 1:
        q["boundaries"] = e["boundaries"] = torch.zeros(3, 0, dtype=torch.long)
    out = model(q, e)
    assert out["pred"].shape == (3,) and out["stage_delta"].shape == (3, cfg.K)
    # eq. 19: prediction = exemplar score + sum of stage deltas
    assert torch.allclose(out["pred"], e["target"] + out["stage_delta"].sum(1), atol=1e-5)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(15):
        out = model(q, e)
        loss = ((out["pred"] - q["target"]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_multi_exemplar_voting_is_the_mean():
    torch.manual_seed(0)
    model = HPMCoRe(HPMCoReConfig(T=16, dim=16, dynamic_dim=12, static_dim=10, hse_blocks=1)).eval()
    q = model.encode(_batch(seed=1))
    exs = [model.encode(_batch(seed=s)) for s in (2, 3, 4)]
    targets = torch.tensor([[10.0, 20.0, 30.0]] * 3)
    v = model.vote(q, exs, targets)
    single = [targets[:, m] + model.relative(q, exs[m]).sum(1) for m in range(3)]
    assert torch.allclose(v["pred"], torch.stack(single, 1).mean(1), atol=1e-5)


def test_bad_config_and_inputs():
    from posekit.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one"):
        HPMCoReConfig.from_dict({"dve": False, "sve": False, "hse": False})
    with pytest.raises(ConfigError, match="unknown model option"):
        HPMCoReConfig.from_dict({"dimension": 3})
    model = HPMCoRe(HPMCoReConfig(T=16, dim=16, dynamic_dim=12, static_dim=10, hse_blocks=1))
    b = _batch()
    b["boundaries"] = torch.tensor([[3]] * 3)
    with pytest.raises(ValueError, match="boundaries of shape"):
        model.encode(b, use_labels=True)
    b = _batch()
    b["dynamic"] = torch.randn(3, 5, 7)
    with pytest.raises(ValueError, match="dynamic features"):
        model.encode(b)


def test_fusion_values_paper_vs_both():
    """Eq. 9 as printed (values='dynamic'): with rho = 0 the skeleton has no effect at all;
    values='both' lets skeletal content through."""
    torch.manual_seed(0)
    dy, sk1, sk2 = torch.randn(2, 5, 16), torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    paper = PoseGuidedFusion(16, 2, "weighted", values="dynamic")
    both = PoseGuidedFusion(16, 2, "weighted", values="both")
    with torch.no_grad():
        paper.rho.zero_()
        both.rho.zero_()
    assert torch.allclose(paper(dy, sk1), paper(dy, sk2))
    assert not torch.allclose(both(dy, sk1), both(dy, sk2))
    with pytest.raises(ValueError, match="values"):
        PoseGuidedFusion(16, 2, values="skeleton")


@pytest.mark.parametrize("method", ["hpmcore", "tsa"])
def test_hse_norm_batch_trains_reloads_and_is_validated(method, tiny_aqa, tmp_path):
    """``model.hse_norm: batch`` builds BatchNorm in the skeletal encoder of every method; the
    running statistics travel in the checkpoint (the reloaded model reproduces the written
    test metrics); a clip is encoded the same alone or among others (evaluation uses the
    running statistics, whatever mode the model was left in); another value is a config
    error naming the key."""
    import yaml

    from posekit.errors import ConfigError
    from posekit.training import build_splits, load_checkpoint, load_config, run_training
    from posekit.training.checkpoint import model_from_checkpoint
    from posekit.training.trainer import encode_items, evaluate_items

    if method == "tsa":
        tiny_aqa["model"] = {k: v for k, v in tiny_aqa["model"].items() if k != "seg_hidden"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_aqa))
    over = [f"method={method}", "model.hse_norm=batch"] + (["model.heads=2"] if method == "tsa" else [])
    cfg = load_config(tmp_path / "c.yaml", over)
    summary = run_training(cfg, tmp_path / "w")
    model = model_from_checkpoint(load_checkpoint(tmp_path / "w" / "best.pth"))
    (enc,) = [m for m in model.modules() if isinstance(m, HierarchicalSkeletalEncoder)]
    bns = [m for m in enc.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(int(m.num_batches_tracked) > 0 for m in bns)
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in enc.modules())
    splits = build_splits(cfg)
    res = evaluate_items(model, splits.test, splits.train, cfg, cfg["train"]["exemplars"])
    assert res["metrics"]["mse"] == pytest.approx(summary["metrics"]["mse"], rel=1e-4, abs=1e-6)
    model.train()
    alone = encode_items(model, splits.test[:1], model.device, False).fused
    among = encode_items(model, splits.test, model.device, False).fused
    assert torch.allclose(alone[0], among[0], atol=1e-5)
    with pytest.raises(ValueError, match="norm"):
        HierarchicalSkeletalEncoder(3, 16, "mpii16", num_blocks=1, norm="layer")
    with pytest.raises(ConfigError, match="hse_norm"):
        load_config(tmp_path / "c.yaml", [f"method={method}", "model.hse_norm=layer"])
