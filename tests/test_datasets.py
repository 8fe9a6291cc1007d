"""Dataset readers on the real annotations, stage conversion, exemplars, generic folders."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets import (
    MTLAQA,
    ExemplarSampler,
    SkeletonFolderDataset,
    SpeedClimbing,
    boundaries_to_labels,
    labels_to_boundaries,
    read_speed21_file,
    stage_boundaries,
)
from posekit.datasets.stages import step_of_frame, steps_to_stages, transits_from_labels
from posekit.errors import AnnotationError, SkeletonFormatError
from posekit.skeleton import SkeletonSequence


# ---------------------------------------------------------------------- stages (no data needed)
def test_step_of_frame_uses_last_frame_convention() -> None:
    # 10 frames, steps end at frames 2 and 6: steps 0,0,0,1,1,1,1,2,2,2
    assert step_of_frame([2, 6], 10).tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    assert transits_from_labels([4, 4, 4, 25, 25, 25, 25, 36, 36, 36]).tolist() == [2, 6]
    with pytest.raises(AnnotationError, match="outside a clip of 10 frames"):
        step_of_frame([2, 12], 10)


def test_steps_to_stages() -> None:
    assert steps_to_stages(4, 3).tolist() == [0, 1, 1, 2]  # take-off | soms + twists | entry
    assert steps_to_stages(4, 4).tolist() == [0, 1, 2, 3]
    assert steps_to_stages(3, 2).tolist() == [0, 0, 1]
    assert steps_to_stages(3, 2, k2="takeoff").tolist() == [0, 1, 1]
    assert steps_to_stages(3, 1).tolist() == [0, 0, 0]
    with pytest.raises(AnnotationError, match="K = 4"):
        steps_to_stages(3, 4)


def test_stage_boundaries_hand_computed() -> None:
    # identity resampling (T = n): boundaries are the transits themselves
    assert stage_boundaries([2, 6], 10, K=3, T=10).tolist() == [2, 6]
    # 4 steps into 3 stages: the middle two merge
    assert stage_boundaries([2, 4, 6], 10, K=3, T=10).tolist() == [2, 6]
    # downsampling 10 -> 5 frames: sampled frames 0,2,4,6,9 -> steps 0,0,1,1,2
    assert stage_boundaries([2, 6], 10, K=3, T=5).tolist() == [1, 3]
    b = np.array([3, 7])
    assert labels_to_boundaries(boundaries_to_labels(b, 12), 3).tolist() == [3, 7]


# ---------------------------------------------------------------------- FineDiving
def tsa_transitions(frame_labels: np.ndarray, T: int = 96) -> np.ndarray:
    """The released TSA loader's rule, for comparison."""
    labels = list(frame_labels)
    idx = np.linspace(0, len(labels) - 1, T).astype(int)
    fl = [labels[i] for i in idx]
    cats = list(dict.fromkeys(fl))
    tr = [fl.index(c) for c in cats]
    return np.array([tr[1] - 1, tr[-1] - 1])


def test_finediving_counts_and_fields(finediving) -> None:
    fd = finediving
    assert len(fd) == 3000 and len(fd.split("train")) == 2251 and len(fd.split("test")) == 749
    assert not set(fd.split("train")) & set(fd.split("test"))
    rec = fd[("01", 1)]
    assert rec.dive_number == "407C" and rec.score == 88.0 and rec.difficulty == 3.2
    assert len(rec.judge_scores) == 7 and rec.num_frames == 85
    assert rec.transits.tolist() == [2, 34]
    scores = [r.score for r in fd]
    assert 0 <= min(scores) and max(scores) == pytest.approx(114.8)


def test_finediving_stage_boundaries_match_tsa(finediving) -> None:
    fd = finediving
    same = 0
    for rec in fd:
        b = fd.stage_boundaries(rec.key, K=3, T=96)
        assert b.shape == (2,) and 0 <= b[0] <= b[1] <= 95
        same += np.array_equal(b, tsa_transitions(rec.frame_labels))
    # the one dive that differs has a sub-action label flickering back (TSA keys on first appearance)
    assert same == len(fd) - 1


def test_finediving_invalid_transits_are_reported(finediving) -> None:
    assert len(finediving.issues) == 6
    rec = finediving[("05", 56)]
    assert rec.extra["steps_transit_frames_raw"].tolist() == [99, 133]
    assert rec.transits.tolist() == [28, 57]


def test_finediving_other_K(finediving) -> None:
    key = ("01", 1)  # 3 steps
    assert finediving.stage_boundaries(key, K=1).tolist() == []
    k2 = finediving.stage_boundaries(key, K=2)
    k3 = finediving.stage_boundaries(key, K=3)
    assert k2.tolist() == [k3[1]]
    assert finediving.stage_boundaries(key, K=2, k2="takeoff").tolist() == [k3[0]]
    with pytest.raises(AnnotationError, match="K = 4"):
        finediving.stage_boundaries(key, K=4)
    four = next(r.key for r in finediving if len(r.transits) == 3)
    assert len(finediving.stage_boundaries(four, K=4)) == 3


def test_finediving_missing_file(tmp_path: Path) -> None:
    from posekit.datasets import FineDiving

    with pytest.raises(AnnotationError, match="FineDiving_coarse_annotation.pkl"):
        FineDiving(tmp_path)


# ---------------------------------------------------------------------- MTL-AQA
def test_mtl_aqa(shared_data: Path) -> None:
    ds = MTLAQA(shared_data / "mtl_aqa" / "annotations")
    assert len(ds) == 1412 and len(ds.split("train")) == 1059 and len(ds.split("test")) == 353
    rec = ds[(1, 1)]
    assert rec.dive_number == "407C" and rec.difficulty == 3.2 and rec.score == 88.0
    assert rec.execution == pytest.approx(88.0 / 3.2)
    assert all(r.difficulty > 0 for r in ds)


# ---------------------------------------------------------------------- exemplars
def pool() -> tuple[list[tuple[str, int]], dict]:
    keys = [("v", i) for i in range(40)]
    dns = {k: ("107B" if k[1] < 25 else "5253B" if k[1] < 38 else "626C") for k in keys}
    return keys, dns


def test_train_exemplars_exclude_self_and_follow_dn() -> None:
    keys, dns = pool()
    s = ExemplarSampler(keys, dns, seed=3)
    for k in keys:
        e = s.train_exemplar(k, epoch=0)
        assert e != k and dns[e] == dns[k]
    assert s.train_exemplar(keys[0], epoch=0) == ExemplarSampler(list(reversed(keys)), dns, seed=3).train_exemplar(
        keys[0], epoch=0
    )
    picks = {s.train_exemplar(keys[0], epoch=e) for e in range(20)}
    assert len(picks) > 3  # varies over epochs


def test_test_exemplars_with_and_without_dn() -> None:
    keys, dns = pool()
    s = ExemplarSampler(keys, dns, seed=0)
    ex = s.test_exemplars(("q", 1), M=10, dive_number="107B")
    assert len(set(ex)) == 10 and all(dns[e] == "107B" for e in ex)
    assert ex == s.test_exemplars(("q", 1), M=10, dive_number="107B")  # deterministic
    assert ex != ExemplarSampler(keys, dns, seed=1).test_exemplars(("q", 1), M=10, dive_number="107B")
    with pytest.warns(UserWarning, match="only 2 training exemplar"):
        few = s.test_exemplars(("q", 2), M=10, dive_number="626C")
    assert len(set(few)) == 10 and sum(dns[e] == "626C" for e in few) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wo = s.test_exemplars(("q", 2), M=10, use_dn=False)
    assert len(set(wo)) == 10
    with pytest.raises(AnnotationError, match="no dive number"):
        s.test_exemplars(("q", 3), M=5)


def test_exemplars_on_finediving(finediving) -> None:
    fd = finediving
    s = ExemplarSampler(fd.split("train"), fd.dive_numbers(), seed=0)
    q = fd.split("test")[0]
    ex = s.test_exemplars(q, M=10)
    assert all(fd[e].dive_number == fd[q].dive_number for e in ex) and q not in ex


# ---------------------------------------------------------------------- generic folder
def make_folder(tmp_path: Path, labels: str, name: str = "labels.csv") -> Path:
    clips = tmp_path / "clips"
    clips.mkdir()
    rng = np.random.default_rng(0)
    for n in ("a", "b"):
        SkeletonSequence(rng.uniform(0, 1, (20, 16, 3)), "mpii16").save(clips / f"{n}.npz")
    (tmp_path / name).write_text(labels)
    return tmp_path


def test_generic_folder_csv(tmp_path: Path) -> None:
    root = make_folder(tmp_path, "name,score,boundaries,group\na,7.5,4;12,vault\nb,8.25,,floor\n")
    ds = SkeletonFolderDataset(root)
    assert len(ds) == 2 and ds.keys() == ["a", "b"]
    s = ds[0]
    assert s.record.score == 7.5 and s.boundaries.tolist() == [4, 12] and s.record.dive_number == "vault"
    assert s.skeleton.num_frames == 20 and ds[1].boundaries is None


def test_generic_folder_json(tmp_path: Path) -> None:
    root = make_folder(tmp_path, '{"a": {"score": 1}, "b": {"score": 2, "boundaries": [3, 9]}}', "labels.json")
    assert [s.record.score for s in SkeletonFolderDataset(root)] == [1.0, 2.0]


@pytest.mark.parametrize(
    "labels,message",
    [
        ("name,score\na,seven\nb,8\n", "row 2: score 'seven' is not a number"),
        ("name,score\na,7\nc,8\n", "c.npz"),
        ("name,points\na,7\n", "needs 'name' and 'score'"),
        ("name,score,boundaries\na,7,9;2\nb,1,\n", "not in order"),
        ("name,score\na,7\na,8\n", "duplicate"),
    ],
)
def test_generic_folder_errors_name_file_row_field(tmp_path: Path, labels: str, message: str) -> None:
    root = make_folder(tmp_path, labels)
    with pytest.raises(AnnotationError) as err:
        SkeletonFolderDataset(root)
    assert "labels.csv" in str(err.value) and message in str(err.value)


def test_generic_boundaries_outside_clip(tmp_path: Path) -> None:
    root = make_folder(tmp_path, "name,score,boundaries\na,7,4;40\nb,1,\n")
    with pytest.raises(AnnotationError, match="outside its 20 frames"):
        SkeletonFolderDataset(root)[0]


# ---------------------------------------------------------------------- speed climbing
def test_speed_climbing(shared_data: Path) -> None:
    ds = SpeedClimbing(shared_data / "speed_climbing")
    assert len(ds) == 362
    rid = "10_2020-11-21_1"
    seq = ds.load(rid)
    assert seq.layout == "mpii16" and seq.data.shape == (225, 16, 3) and seq.fps == 30
    assert seq.meta["time_sec"] == pytest.approx(7.47)
    # a run with missing frames keeps them as confidence 0
    with_null = next(
        r for r in ds.run_ids() if "NULL" in (shared_data / "speed_climbing" / "skeletons" / f"{r}.data").read_text()
    )
    s = ds.load(with_null)
    assert (~s.valid.any(axis=1)).any() and s.valid.any()
    assert len(set(ds.climbers().values())) > 40


def test_speed21_bad_line(tmp_path: Path) -> None:
    p = tmp_path / "x.data"
    p.write_text("1#" + ";".join(["1.0,2.0"] * 16) + "\n2#1.0,2.0;3.0\n")
    with pytest.raises(SkeletonFormatError, match=r"x.data: field 'line': line 2: 2 joints"):
        read_speed21_file(p)


def test_dataset_registry_one_place_for_a_new_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A kind registered once is accepted by the config, loaded by build_splits and
    summarised by ``posekit dataset-info``; unknown kinds name the registered ones."""
    import yaml

    from posekit.cli import main
    from posekit.errors import ConfigError
    from posekit.training import build_splits, load_config
    from posekit.training.datasets import DATASETS, DatasetKind, dataset_kind, register_dataset

    synth = dataset_kind("synthetic")
    kind = DatasetKind(
        "my_sport",
        lambda d, K, seed: synth.load(d, K, seed),
        needs_root=False,
        summary=lambda root: {"root": root.name},
        official_split=True,
    )
    register_dataset(kind)
    try:
        cfg_path = tmp_path / "c.yaml"
        cfg_path.write_text(yaml.safe_dump({"data": {"kind": "my_sport", "synthetic": {"n_train": 12, "n_test": 4}}}))
        splits = build_splits(load_config(cfg_path))
        assert len(splits.test) == 4 and len(splits.train) + len(splits.val) == 12
        assert main(["dataset-info", "my_sport", str(tmp_path)]) == 0
        assert '"root": "' + tmp_path.name in capsys.readouterr().out
        with pytest.raises(ConfigError, match="already registered"):
            register_dataset(DatasetKind("my_sport", kind.load))
    finally:
        DATASETS.pop("my_sport")
    cfg_path.write_text(yaml.safe_dump({"data": {"kind": "mtl-aqa"}}))
    with pytest.raises(ConfigError, match=r"unknown data.kind 'mtl-aqa'.*mtl_aqa"):
        load_config(cfg_path)


def test_dataset_info_finediving_is_json(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from posekit.cli import main

    assert main(["dataset-info", "finediving", str(shared_data / "finediving" / "annotations")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["records"] == info["train"] + info["test"] > 0
    assert all(isinstance(k, str) for k in info["annotation_issues"])
