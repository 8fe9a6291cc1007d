"""The generated diving benchmark: deterministic, scores follow the injected flaws, the
ground-truth penalties add up, the RGB-only flaw does not move any joint."""

import numpy as np
import pytest

from posekit.synthetic import FLAWS, DiveGenerator, difficulty_of, write_finediving_layout


@pytest.fixture(scope="module")
def gen():
    return DiveGenerator(num_frames=32, static_dim=16, dynamic_dim=16)


def test_deterministic(gen):
    a, b = gen.dive(3, seed=1), gen.dive(3, seed=1)
    np.testing.assert_array_equal(a.skeleton.data, b.skeleton.data)
    np.testing.assert_array_equal(a.static, b.static)
    assert a.score == b.score and a.flaws == b.flaws
    assert not np.array_equal(a.skeleton.data, gen.dive(4, seed=1).skeleton.data)


def test_shapes_and_stages(gen):
    d = gen.dive(0)
    assert d.skeleton.data.shape == (32, 16, 3) and d.skeleton.data.dtype == np.float32
    assert d.static.shape == (32, 16) and d.dynamic.shape == (9, 16)
    b0, b1 = d.boundaries
    assert 0 <= b0 < b1 < 31
    assert set(np.unique(d.stage_labels)) == {0, 1, 2}
    assert d.difficulty == difficulty_of(d.dive_number)


def test_penalties_add_up_to_the_true_score(gen):
    for i in range(10):
        d = gen.dive(i)
        total = sum(d.penalties["by_flaw"].values())
        assert d.true_score == pytest.approx(3 * d.difficulty * 9.5 - total)
        assert d.penalties["stage"].sum() == pytest.approx(total)
        assert d.penalties["frame"].sum() == pytest.approx(total)
        assert d.penalties["joint"].sum() == pytest.approx(total - d.penalties["visual_only"])
        # judged score = true score up to judge noise and half-point rounding
        assert abs(d.score - d.true_score) < 3 * d.difficulty * 1.5


def test_flaws_lower_the_score_and_show_where_they_should():
    g = DiveGenerator(num_frames=32, static_dim=16, dynamic_dim=16, flaw_rate=0.0, judge_noise=0.0, dropout=0.0)
    clean = g.dive(5, seed=2)
    assert all(v == 0 for v in clean.flaws.values())
    gen_flawed = DiveGenerator(
        num_frames=32, static_dim=16, dynamic_dim=16, flaw_rate=1.0, judge_noise=0.0, dropout=0.0
    )
    scores = [gen_flawed.dive(i, seed=2).true_score for i in range(5)]
    assert max(scores) < 3 * 3.0 * 9.5
    # splash is seen by the features only: same skeleton, different features
    d = gen_flawed.dive(1, seed=2)
    assert d.flaws["splash"] > 0 and FLAWS["splash"]["joints"] == []


def test_missing_joints_under_water(gen):
    d = gen.dive(2)
    conf = d.skeleton.data[..., 2]
    assert (conf[-1] == 0).sum() > (conf[0] == 0).sum()  # submerged at the end


def test_finediving_layout_roundtrip(tmp_path, gen):
    from posekit.datasets import FineDiving

    dives = gen.dataset(6, seed=0, split="train")
    root = write_finediving_layout(tmp_path / "fd", {"train": dives[:4], "test": dives[4:]})
    fd = FineDiving(root / "annotations")
    assert len(fd.split("train")) == 4 and len(fd.split("test")) == 2
    key = fd.split("train")[0]
    np.testing.assert_array_equal(fd.stage_boundaries(key, K=3, T=32), dives[0].boundaries)
    assert (root / "pose" / key[0] / f"{key[1]}.npz").exists()
    assert np.load(root / "features" / "static" / key[0] / f"{key[1]}.npy").shape == (32, 16)


def test_controlled_flaws_and_dive_number(gen):
    d = gen.dive(1, seed=3, flaws={"legs_apart": 0.9}, dive_number="105B")
    assert d.dive_number == "105B" and d.flaws["legs_apart"] == 0.9
    assert sum(v > 0 for v in d.flaws.values()) == 1
    assert d.penalties["stage"][1] == pytest.approx(sum(d.penalties["by_flaw"].values()))
    # only the legs differ from the flawless twin, and only in flight
    twin = gen.dive(1, seed=3, flaws={}, dive_number="105B")
    diff = np.abs(d.skeleton.xy - twin.skeleton.xy).max(axis=2)
    legs = [0, 1, 4, 5]
    assert diff[:, legs].max() > 3 * diff[:, [7, 8, 9]].max()
    with pytest.raises(ValueError, match="unknown flaw"):
        gen.dive(1, flaws={"splashh": 1.0})
    with pytest.raises(ValueError, match="dive number"):
        gen.dive(1, dive_number="405C")


def test_flawed_joints_are_measured_against_the_flawless_twin(gen):
    from posekit.synthetic import JOINTS, MOVED_FRACTION

    for flaw, dn in (("bent_knees", "105A"), ("legs_apart", "107B"), ("arm_timing", "103C"), ("entry_angle", "105B")):
        d = gen.dive(7, seed=4, flaws={flaw: 0.9}, dive_number=dn)
        twin = gen.dive(7, seed=4, flaws={}, dive_number=dn)
        moved = d.penalties["moved_joints"][flaw]
        assert list(d.penalties["moved_joints"]) == [flaw]
        # recompute the motion from the two skeletons (frames of the flaw's stage where both
        # show the joint; the generator also counts frames where only the twin's is submerged)
        frames = d.stage_labels == FLAWS[flaw]["stage"]
        vis = (d.skeleton.data[..., 2] > 0) & (twin.skeleton.data[..., 2] > 0)
        motion = (np.linalg.norm(d.skeleton.xy - twin.skeleton.xy, axis=2) * vis)[frames].sum(axis=0)
        assert JOINTS[int(np.argmax(motion))] in moved, flaw
        assert not set(moved) & {JOINTS[j] for j in np.nonzero(motion < 0.5 * MOVED_FRACTION * motion.max())[0]}
        # the per-joint penalty sits on the joints the flaw moves, most on the most-moved one
        pj = d.penalties["joint"]
        assert pj.sum() == pytest.approx(d.penalties["by_flaw"][flaw])
        assert np.argmax(pj) == np.argmax(motion)
        assert (pj[motion == 0] <= 1e-9 * pj.max()).all()
        if flaw != "entry_angle":  # posture flaws move (part of) the body part they act on
            assert set(moved) <= set(FLAWS[flaw]["joints"])
        else:  # a tilt about the pelvis: the legs above the water move most, not the submerged head
            assert {"r_ankle", "l_ankle"} <= set(moved) and "head_top" not in moved
