"""posekit train / evaluate: configs, data checks, a tiny run, resume, DDP with gloo."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from posekit.errors import AnnotationError, ConfigError
from posekit.synthetic import DiveGenerator, write_finediving_layout
from posekit.training import build_splits, load_checkpoint, load_config, run_training
from posekit.training.config import dump_config, model_section


def _write(path: Path, obj) -> Path:
    path.write_text(yaml.safe_dump(obj))
    return path


@pytest.fixture()
def tiny_cfg(tmp_path, tiny_aqa):
    return _write(tmp_path / "tiny.yaml", tiny_aqa)


def test_config_base_and_overrides(tmp_path, tiny_cfg):
    child = _write(tmp_path / "child.yaml", {"_base_": "tiny.yaml", "model": {"fusion": "dot"}})
    cfg = load_config(child, ["train.epochs=5", "loss.cont_kind=triplet"])
    assert cfg["model"]["fusion"] == "dot" and cfg["model"]["dim"] == 16  # merged key by key
    assert cfg["train"]["epochs"] == 5 and cfg["loss"]["cont_kind"] == "triplet"
    assert cfg["train"]["lr"] == 1e-3  # default
    assert "fusion: dot" in dump_config(cfg)


def test_config_delete_replaces_a_base_section(tmp_path, tiny_cfg):
    """mmengine's ``_delete_: true``: another method's model section, not merged with the
    base's (whose options that method does not have)."""
    child = _write(
        tmp_path / "core.yaml", {"_base_": "tiny.yaml", "method": "core", "model": {"_delete_": True, "dim": 8}}
    )
    cfg = load_config(child)
    assert cfg["model"] == {"dim": 8} and "_delete_" not in dump_config(cfg)
    assert cfg["train"] == load_config(tiny_cfg)["train"]  # other sections still merged
    merged = _write(tmp_path / "m.yaml", {"_base_": "tiny.yaml", "model": {"dim": 8}})
    assert load_config(merged)["model"] == {**load_config(tiny_cfg)["model"], "dim": 8}


def test_options_added_later_at_their_default_keep_runs_reusable(tmp_path, tiny_cfg):
    """A run written before an option existed is the same config while that option keeps its
    default; any other difference counts."""
    from posekit.training.config import config_changes

    cfg = load_config(tiny_cfg)
    stored = yaml.safe_load(dump_config(cfg))
    del stored["train"]["pretrain_epochs"]  # written by an older posekit
    old = yaml.safe_dump(stored, sort_keys=False)
    assert config_changes(old, cfg) == []
    assert config_changes(old, load_config(tiny_cfg, ["train.pretrain_epochs=3"])) == ["train.pretrain_epochs"]
    assert config_changes(old, load_config(tiny_cfg, ["train.lr=0.5"])) == ["train.lr"]


def test_config_errors_name_file_and_key(tmp_path):
    bad = _write(tmp_path / "bad.yaml", {"train": {"epoch": 3}})
    with pytest.raises(ConfigError, match=r"bad\.yaml.*train\.epoch"):
        load_config(bad)
    with pytest.raises(ConfigError, match="unknown model option"):
        load_config(_write(tmp_path / "m.yaml", {"model": {"layers": 2}}))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("data: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "broken.yaml")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(None, ["train.epochs"])
    with pytest.raises(ConfigError, match=r"c\.yaml.*data\.center must be one of \['frame', 'sequence', 'body'"):
        load_config(_write(tmp_path / "c.yaml", {"data": {"center": "torso"}}))


def test_renamed_options_still_load_with_a_warning(tmp_path):
    """One name per idea: data.T -> data.num_frames, seg_input skeleton -> pose; old configs load."""
    old = _write(tmp_path / "old.yaml", {"data": {"T": 40, "synthetic": {"T": 50}}, "model": {"seg_input": "skeleton"}})
    with pytest.warns(FutureWarning, match=r"old\.yaml: 'data\.T' is now 'data\.num_frames'"):
        cfg = load_config(old)
    assert cfg["data"]["num_frames"] == 40 and cfg["data"]["synthetic"]["num_frames"] == 50 and "T" not in cfg["data"]
    from posekit.methods import method_config

    with pytest.warns(FutureWarning, match="seg_input 'skeleton' is now 'pose'"):
        assert method_config("hpmcore", model_section(cfg)).seg_input == "pose"
    with pytest.warns(FutureWarning, match="--set"):
        assert load_config(None, ["data.T=30"])["data"]["num_frames"] == 30
    with pytest.raises(ConfigError, match=r"both\.yaml.*both 'data\.T' and its new name 'data\.num_frames'"):
        load_config(_write(tmp_path / "both.yaml", {"data": {"T": 40, "num_frames": 40}}))


def test_all_shipped_configs_load():
    root = Path(__file__).resolve().parents[1] / "configs" / "aqa"
    files = sorted(root.rglob("*.yaml"))
    assert len(files) >= 5
    for f in files:
        load_config(f)


def test_validation_is_carved_from_train_never_test(tiny_cfg):
    splits = build_splits(load_config(tiny_cfg))
    tr, va, te = ({it.key for it in s} for s in (splits.train, splits.val, splits.test))
    assert len(va) == 4 and not (va & tr) and not (va & te) and all(k[0] == "train" for k in va)


def _fd_root(tmp_path, n_train=8, n_test=3):
    g = DiveGenerator(num_frames=24, static_dim=16, dynamic_dim=16, num_clips=4)
    return write_finediving_layout(
        tmp_path / "fd", {"train": g.dataset(n_train, split="train"), "test": g.dataset(n_test, 1, split="test")}
    )


def test_finediving_layout_data_errors(tmp_path):
    root = _fd_root(tmp_path)
    cfg = load_config(None, ["data.kind=finediving", f"data.root={root}", "data.num_frames=24"])
    splits = build_splits(cfg)
    assert len(splits.train) + len(splits.val) == 8 and splits.train[0].dynamic.shape == (4, 16)
    key = splits.test[0].key
    feat = root / "features" / "static" / key[0] / f"{key[1]}.npy"
    arr = np.load(feat)
    np.save(feat, arr[:, :5])
    with pytest.raises(AnnotationError, match="static shapes differ"):
        build_splits(cfg)
    arr[0, 0] = np.nan
    np.save(feat, arr)
    with pytest.raises(AnnotationError, match=r"NaN.*|.*NaN"):
        build_splits(cfg)
    np.save(feat, arr[..., 0])
    with pytest.raises(AnnotationError, match=r"must be \(T, D\)"):
        build_splits(cfg)
    (root / "pose" / key[0] / f"{key[1]}.npz").unlink()
    with pytest.raises(AnnotationError, match=f"{key[1]}.npz"):
        build_splits(cfg)


def test_train_resume_evaluate(tmp_path, tiny_cfg):
    cfg = load_config(tiny_cfg)
    s = run_training(cfg, tmp_path / "full")
    for name in ("best.pth", "last.pth", "metrics_test.json", "predictions_test.csv", "history.json", "config.yaml"):
        assert (tmp_path / "full" / name).exists(), name
    assert (tmp_path / "full" / "plots" / "scatter.png").exists()
    m = s["metrics"]
    assert {"srcc", "r_l2_x100", "mse", "aiou@0.5", "aiou@0.75"} <= set(m)
    hist = json.loads((tmp_path / "full" / "history.json").read_text())
    assert len(hist) == 2 and "val_srcc" in hist[0] and hist[1]["loss"] < hist[0]["loss"] * 1.5
    # an interrupted run resumes to the same weights
    run_training(load_config(tiny_cfg, ["train.epochs=1"]), tmp_path / "part")
    run_training(cfg, tmp_path / "part", resume=True)
    a = load_checkpoint(tmp_path / "full" / "last.pth")["model"]
    b = load_checkpoint(tmp_path / "part" / "last.pth")["model"]
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-5
    # evaluate reproduces the test metrics from the best checkpoint
    from posekit.cli import main

    assert (
        main(
            [
                "evaluate",
                str(tiny_cfg),
                "--checkpoint",
                str(tmp_path / "full" / "best.pth"),
                "--out",
                str(tmp_path / "ev"),
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "ev" / "metrics_test.json").read_text())["metrics"]
    assert again == pytest.approx(m)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_checkpoint(tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a posekit checkpoint"):
        load_checkpoint(tmp_path / "junk.pth")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_one(tmp_path, tiny_cfg):
    """torchrun with 2 gloo processes over split batches = 1 process on the whole batch."""
    run_training(load_config(tiny_cfg), tmp_path / "one")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        "-m",
        "posekit.cli",
        "train",
        str(tiny_cfg),
        "--work-dir",
        str(tmp_path / "two"),
    ]
    for _attempt in range(2):  # a second try with a fresh port if the first one was taken meanwhile
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if r.returncode == 0 or "EADDRINUSE" not in r.stderr + r.stdout:
            break
        cmd[cmd.index("--master_port") + 1] = str(_free_port())
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-4000:])
    a = load_checkpoint(tmp_path / "one" / "last.pth")["model"]
    b = load_checkpoint(tmp_path / "two" / "last.pth")["model"]
    diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert diff < 5e-3, diff
    one, two = (load_checkpoint(tmp_path / d / "last.pth") for d in ("one", "two"))
    assert one["epoch"] == two["epoch"] and len(one["history"]) == len(two["history"])  # both trained alike


def test_generic_folder_dataset_trains(tmp_path):
    """Bring-your-own-sport: skeleton .npz files + labels.csv with boundaries, skeleton only."""
    g = DiveGenerator(num_frames=24, static_dim=8, dynamic_dim=8, num_clips=3)
    (tmp_path / "clips").mkdir()
    rows = ["name,score,boundaries,group"]
    for i, d in enumerate(g.dataset(14)):
        d.skeleton.save(tmp_path / "clips" / f"jump_{i:03d}.npz")
        rows.append(f"jump_{i:03d},{d.score},{d.boundaries[0]};{d.boundaries[1]},{d.dive_number}")
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    over = [
        f"data.root={tmp_path}",
        "data.num_frames=24",
        "train.epochs=1",
        "train.exemplars=3",
        "train.val_exemplars=3",
        "train.batch_size=4",
        "train.progress=false",
        "model.dim=16",
        "model.hse_blocks=1",
        "model.decoder_layers=1",
        "data.test_fraction=0.25",
    ]
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "aqa" / "generic.yaml", over)
    s = run_training(cfg, tmp_path / "work")
    assert s["n"] >= 3 and np.isfinite(s["metrics"]["mse"])
    assert s["data"]["kind"] == "generic"


def test_mtl_aqa_layout_with_difficulty(tmp_path):
    """MTL-AQA: no stage labels (uniform stages), execution regressed and multiplied by DD."""
    import pickle

    g = DiveGenerator(num_frames=24, static_dim=8, dynamic_dim=8, num_clips=3)
    dives = g.dataset(12)
    ann, keys = {}, []
    for i, d in enumerate(dives):
        key = (1 + i // 6, i % 6)
        keys.append(key)
        ann[key] = {
            "final_score": d.score,
            "difficulty": d.difficulty,
            "dive_number": d.dive_number,
            "judge_scores": d.judge_scores,
            "start_frame": 0,
            "end_frame": 23,
        }
        d.skeleton.save(tmp_path / "pose" / f"{key[0]:02d}" / f"{key[1]}.npz")
    (tmp_path / "annotations").mkdir()
    for name, obj in (
        ("final_annotations_dict_with_dive_number.pkl", ann),
        ("train_split_0.pkl", keys[:9]),
        ("test_split_0.pkl", keys[9:]),
    ):
        (tmp_path / "annotations" / name).write_bytes(pickle.dumps(obj))
    over = [
        f"data.root={tmp_path}",
        "data.num_frames=24",
        "data.dynamic_dir=null",
        "data.static_dir=null",
        "model.dve=false",
        "model.sve=false",
        "model.dim=16",
        "model.hse_blocks=1",
        "model.decoder_layers=1",
        "model.mlp_hidden=16",
        "model.tokens=2",
        "train.epochs=1",
        "train.batch_size=4",
        "train.exemplars=3",
        "train.val_exemplars=3",
        "train.progress=false",
        "data.val_fraction=0.2",
    ]
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "aqa" / "mtl_aqa.yaml", over)
    splits = build_splits(cfg)
    assert all((it.boundaries == -1).all() for it in splits.train)
    s = run_training(cfg, tmp_path / "work")
    assert s["n"] == 3 and "aiou@0.5" not in s["metrics"]  # no stage labels, no AIoU
    import csv

    rows = list(csv.DictReader(open(tmp_path / "work" / "predictions_test.csv")))
    assert len(rows) == 3 and all(float(r["pred"]) > 0 for r in rows)


def test_modality_dropout_zeroes_one_stream_deterministically(tiny_cfg):
    """data.augment.drop_rgb / drop_pose (ModDrop): a dropped clip has its RGB features or its
    skeleton zeroed, never both; the choice depends on (seed, clip, epoch) only; bad
    probabilities are config errors."""
    from posekit.datasets.exemplars import ExemplarSampler
    from posekit.training.pairs import PairDataset

    pool = build_splits(load_config(tiny_cfg)).train
    sampler = ExemplarSampler([it.key for it in pool], {it.key: it.group for it in pool}, 0)

    def items(aug: dict) -> list:
        ds = PairDataset(pool, sampler, True, False, aug)
        return [ds[i][0] for i in range(len(ds))]

    off = lambda t: not t["dynamic"].any() and not t["static"].any()  # noqa: E731
    assert all(off(t) and t["pose"].any() for t in items({"drop_rgb": 1.0}))
    assert all(not t["pose"].any() and not off(t) for t in items({"drop_pose": 1.0}))
    half = items({"drop_rgb": 0.5, "drop_pose": 0.5})
    rgb, pose = sum(off(t) for t in half), sum(not t["pose"].any() for t in half)
    assert rgb + pose == len(half) and rgb > 0 and pose > 0
    again = items({"drop_rgb": 0.5, "drop_pose": 0.5})
    assert all(torch.equal(a["pose"], b["pose"]) for a, b in zip(half, again, strict=True))
    none = items({})
    assert all(t["pose"].any() and not off(t) for t in none)
    with pytest.raises(ConfigError, match="drop_rgb \\+ drop_pose must be <= 1"):
        load_config(None, ["data.augment={drop_rgb: 0.7, drop_pose: 0.6}"])
    with pytest.raises(ConfigError, match="data.augment.drop_rgb must be"):
        load_config(None, ["data.augment={drop_rgb: 1.5}"])


def test_drawable_pose_puts_an_oriented_root_back_at_the_origin():
    from posekit.training.data import drawable_pose, prepare_skeleton

    dv = DiveGenerator(num_frames=16).dive(0, seed=1)
    oriented = prepare_skeleton(dv.skeleton, 16, "body_oriented")
    pelvis = 6
    assert np.allclose(np.linalg.norm(oriented[:2, :, pelvis], axis=0)[oriented[2, :, pelvis] > 0], 1.0)
    d = drawable_pose(oriented, "body_oriented", "mpii16")
    assert np.allclose(d[:2, :, pelvis], 0) and np.array_equal(d[:, :, :pelvis], oriented[:, :, :pelvis])
    framed = prepare_skeleton(dv.skeleton, 16, "frame")
    assert drawable_pose(framed, "frame", "mpii16") is framed


def test_small_data_warnings_and_select_last(tmp_path, tiny_cfg):
    """A validation split under 10 clips and a flat validation SRCC are said, not silent;
    ``train.select: last`` evaluates the final epoch."""
    from posekit.training.data import AQASplits
    from posekit.training.trainer import small_data_warnings

    cfg = load_config(tiny_cfg)
    splits = AQASplits([], [object()] * 4, [], {})
    flat = [{"val_srcc": 0.3} for _ in range(4)]
    msgs = small_data_warnings(splits, flat, cfg)
    assert len(msgs) == 2 and "4 clip(s)" in msgs[0] and "did not move over 4" in msgs[1]
    moving = [{"val_srcc": v} for v in (0.1, 0.3, 0.2)]
    assert small_data_warnings(AQASplits([], [object()] * 12, [], {}), moving, cfg) == []
    with pytest.warns(UserWarning, match="validation split has"):
        run_training(cfg, tmp_path / "best")
    s = run_training(load_config(tiny_cfg, ["train.select=last"]), tmp_path / "last")
    assert s["best_epoch"] == 1  # the last of 2 epochs
    with pytest.raises(ConfigError, match="train.select"):
        load_config(tiny_cfg, ["train.select=inner"])


def test_select_inner_cv_picks_epochs_on_training_folds_then_trains_on_all(tmp_path, tiny_cfg):
    """``train.select: inner_cv``: grouped inner folds of the training clips (never the test
    split) choose the epoch count at the peak of their mean held-out SRCC; the final model
    trains that long on every training clip; a rerun reuses the finished inner folds."""
    from posekit.training.inner_cv import inner_splits, mean_curve

    cfg = load_config(tiny_cfg, ["train.select=inner_cv", "train.inner_folds=2", "train.epochs=3"])
    splits = build_splits(cfg)
    folds = inner_splits(splits, cfg, 2)
    test_keys = {it.key for it in splits.test}
    pool = {it.key for it in splits.train + splits.val}
    held = [{it.key for it in f.val} for f in folds]
    assert held[0].isdisjoint(held[1]) and held[0] | held[1] == pool and not (pool & test_keys)
    for f in folds:
        assert {it.key for it in f.train}.isdisjoint({it.key for it in f.val})
    assert np.allclose(mean_curve([[{"epoch": 0, "val_srcc": 0.2}], [{"epoch": 0, "val_srcc": 0.4}]]), [0.3])

    work = tmp_path / "w"
    s = run_training(cfg, work)
    choice = json.loads((work / "inner_cv.json").read_text())
    curve = np.array(choice["mean_val_srcc"])
    assert len(curve) == 3 and s["inner_cv"]["epochs"] == int(np.nanargmax(curve)) + 1 == choice["epochs"]
    assert len(json.loads((work / "history.json").read_text())) == choice["epochs"]  # the final run
    assert s["best_epoch"] == choice["epochs"] - 1 and s["data"]["n_train"] == len(pool)
    assert yaml.safe_load((work / "config.yaml").read_text())["train"]["select"] == "inner_cv"
    stamp = (work / "inner_cv" / "fold0" / "last.pth").stat().st_mtime_ns
    run_training(cfg, work, resume=True)
    assert (work / "inner_cv" / "fold0" / "last.pth").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="inner_folds"):
        inner_splits(splits, load_config(tiny_cfg, ["data.group_by=clip"]), 10**4)


def test_exemplars_all_votes_with_every_training_clip(tiny_cfg):
    from posekit.training.data import select_exemplars

    cfg = load_config(tiny_cfg, ["train.exemplars=all", "data.use_dn=false"])
    splits = build_splits(cfg)
    pool = {it.key for it in splits.train}
    assert set(select_exemplars(splits.train[:1], splits.train, cfg, "all")[0]) == pool - {splits.train[0].key}
    assert all(set(k) == pool for k in select_exemplars(splits.test, splits.train, cfg, "all"))
    with pytest.raises(ConfigError, match="train.exemplars must be an integer >= 1 or 'all'"):
        load_config(tiny_cfg, ["train.exemplars=every"])


def test_motion_stream_channels_and_augmentation(tiny_cfg):
    """``data.motion``: x, y, confidence, dx, dy; a missing joint has no motion; mirroring,
    scaling and rotating the coordinates moves the motion channels the same way."""
    from posekit.training.data import joint_motion, prepare_skeleton
    from posekit.training.pairs import augment_pose

    dv = DiveGenerator(num_frames=16).dive(0, seed=1)
    m = prepare_skeleton(dv.skeleton, 16, "sequence", motion=True)
    assert m.shape == (5, 16, 16)
    assert np.allclose(m[3:, 1:], (m[:2, 1:] - m[:2, :-1]) * ((m[2, 1:] > 0) & (m[2, :-1] > 0))) and not m[3:, 0].any()
    m[2, 5, 3] = 0.0
    m[3:] = joint_motion(m)
    assert not m[3:, 5:7, 3].any()
    flip = np.arange(16)[::-1].copy()
    a = augment_pose(m, np.random.default_rng(0), flip, 1.0, 0.2, 15.0)
    assert np.allclose(a[3:], joint_motion(a[:3]), atol=1e-5)
    cfg = load_config(tiny_cfg, ["data.motion=true"])
    assert build_splits(cfg).train[0].pose.shape[0] == 5


def test_coco_visibility_maps_to_confidence():
    from posekit.errors import SkeletonFormatError
    from posekit.skeleton import visibility_to_confidence

    assert visibility_to_confidence(np.array([0, 1, 2])).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(SkeletonFormatError, match="0, 1 or 2"):
        visibility_to_confidence(np.array([0, 3]))
