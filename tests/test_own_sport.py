"""Your own sport: a layout that is not built in travels with the data and the checkpoint,
so every command works with no registration step; stage names are the user's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from posekit.errors import SkeletonFormatError

SKI9 = {
    "name": "ski9",
    "joints": ["head", "neck", "pelvis", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_ski_tip", "r_ski_tip"],
    "bones": [
        ["head", "neck"],
        ["neck", "pelvis"],
        ["pelvis", "l_knee"],
        ["pelvis", "r_knee"],
        ["l_knee", "l_ankle"],
        ["r_knee", "r_ankle"],
        ["l_ankle", "l_ski_tip"],
        ["r_ankle", "r_ski_tip"],
    ],
    "flip_pairs": [["l_knee", "r_knee"], ["l_ankle", "r_ankle"], ["l_ski_tip", "r_ski_tip"]],
    "center": ["pelvis"],
    "root": ["pelvis"],
    "neck": ["neck"],
    "head": ["head"],
}


def _jump(rng: np.random.Generator, T: int, quality: float) -> np.ndarray:
    """A generated jump in the 9-joint layout: a body gliding right, the skis opening into a V
    whose width is the quality."""
    t = np.linspace(0, 1, T)[:, None]
    base = np.array([[0, -60], [0, -45], [0, -10], [-5, 10], [5, 10], [-5, 30], [5, 30], [-20, 45], [20, 45]], float)
    xy = base[None] + np.stack([200 * t, 50 * t**2], -1)
    xy[:, 7, 0] -= 25 * quality * t[:, 0]
    xy[:, 8, 0] += 25 * quality * t[:, 0]
    xy += rng.normal(0, 1.0, xy.shape)
    return np.concatenate([xy + 300, np.ones((T, 9, 1))], -1).astype(np.float32)


@pytest.fixture(scope="module")
def ski_data(tmp_path_factory) -> Path:
    """Clips saved in a process that registered the layout; labels with phase boundaries."""
    root = tmp_path_factory.mktemp("ski")
    (root / "ski9.yaml").write_text(yaml.safe_dump(SKI9))
    rows = ["name,score,boundaries,group"]
    rng = np.random.default_rng(0)
    script = ["from graphs.layout import register_layout", "from posekit.skeleton import SkeletonSequence"]
    script += ["import numpy as np", f"register_layout({str(root / 'ski9.yaml')!r})"]
    for i in range(16):
        q = float(rng.uniform(0, 1))
        np.save(root / f"j{i}.npy", _jump(rng, 30, q))
        script.append(
            f"SkeletonSequence(np.load({str(root / f'j{i}.npy')!r}), layout='ski9')"
            f".save({str(root / 'clips' / f'jump_{i:02d}.npz')!r})"
        )
        rows.append(f"jump_{i:02d},{50 + 10 * q:.3f},{9};{19},athlete{i % 8}")
    (root / "clips").mkdir()
    subprocess.run([sys.executable, "-c", "\n".join(script)], check=True)
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    cfg = {
        "data": {
            "kind": "generic",
            "root": str(root),
            "layout": "ski9",
            "num_frames": 30,
            "stage_names": ["inrun", "flight", "landing"],
            "use_dn": False,
            "test_fraction": 0.25,
        },
        "model": {"dve": False, "sve": False, "dim": 16, "hse_blocks": 1, "decoder_layers": 1, "tokens": 2},
        "train": {"epochs": 1, "batch_size": 4, "progress": False, "exemplars": 3, "val_exemplars": 3},
    }
    (root / "ski.yaml").write_text(yaml.safe_dump(cfg))
    return root


def _posekit(*args: str | Path) -> subprocess.CompletedProcess:
    code = "import sys; from posekit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_custom_layout_round_trip_save_load_train_explain(ski_data: Path) -> None:
    """Each command runs in a fresh process that never registered ``ski9``."""
    r = _posekit("inspect", ski_data / "clips" / "jump_00.npz")
    assert r.returncode == 0 and "ski9" in r.stdout, r.stderr
    r = _posekit("train", ski_data / "ski.yaml", "--work-dir", ski_data / "work")
    assert r.returncode == 0, r.stderr
    header = (ski_data / "work" / "predictions_test.csv").read_text().splitlines()[0]
    assert "inrun_delta" in header and "landing_delta" in header
    r = _posekit(
        "explain",
        ski_data / "ski.yaml",
        "--checkpoint",
        ski_data / "work" / "best.pth",
        "--sample",
        _a_test_key(ski_data),
        "--out",
        ski_data / "why",
        "--exemplars",
        "3",
    )
    assert r.returncode == 0, r.stderr
    expl = json.loads((ski_data / "why" / "explanation.json").read_text())
    assert expl["layout"] == "ski9" and expl["joint_names"][-1] == "r_ski_tip"
    assert expl["stage_names"] == ["inrun", "flight", "landing"]
    for png in ("explain_skeletons.png", "explain_heatmap.png", "explain_stages.png"):
        assert (ski_data / "why" / png).exists(), png


def _a_test_key(root: Path) -> str:
    return (root / "work" / "predictions_test.csv").read_text().splitlines()[1].split(",")[0]


def test_registering_a_layout_keeps_the_builtins_and_refuses_a_second_spec(ski_data: Path, tmp_path: Path) -> None:
    from graphs.errors import LayoutError
    from graphs.layout import available_layouts, register_layout
    from posekit.skeleton import SkeletonSequence

    seq = SkeletonSequence.load(ski_data / "clips" / "jump_01.npz")  # registers ski9 from the file
    assert seq.layout == "ski9" and {"mpii16", "coco17", "ski9"} <= set(available_layouts())
    other = {**SKI9, "joints": [*SKI9["joints"][:-1], "r_ski_tail"]}
    other["bones"] = [b if b[1] != "r_ski_tip" else [b[0], "r_ski_tail"] for b in SKI9["bones"]]
    other["flip_pairs"] = [[a, "r_ski_tail" if b == "r_ski_tip" else b] for a, b in SKI9["flip_pairs"]]
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    with pytest.raises(LayoutError, match=r"two different layouts are named 'ski9'.*other\.yaml"):
        register_layout(tmp_path / "other.yaml")


def test_clips_in_another_layout_than_the_config_say_so(ski_data: Path) -> None:
    from posekit.training import build_splits, load_config

    cfg = load_config(ski_data / "ski.yaml", ["data.layout=mpii16", "data.stage_names=null"])
    with pytest.raises(SkeletonFormatError, match="in layout 'ski9' but data.layout is 'mpii16'"):
        build_splits(cfg)
    cfg = load_config(ski_data / "ski.yaml", [f"data.layout={ski_data / 'ski9.yaml'}"])
    assert cfg["data"]["layout"] == "ski9"


def test_grouped_folds_never_share_a_group(ski_data: Path, tmp_path: Path) -> None:
    """``data.group_by`` keeps a group on one side in every fold, for the ``group`` column
    and for any other labels.csv column; every clip is tested exactly once."""
    from posekit.training import build_splits, load_config

    rows = (ski_data / "labels.csv").read_text().splitlines()
    athlete = [rows[0] + ",athlete"] + [f"{r},person{i % 5}" for i, r in enumerate(rows[1:])]
    root = tmp_path / "ski"
    root.mkdir()
    (root / "clips").symlink_to(ski_data / "clips")
    (root / "labels.csv").write_text("\n".join(athlete) + "\n")
    for group_by, column in (("group", 3), ("athlete", 4)):
        of = {r.split(",")[0]: r.split(",")[column] for r in athlete[1:]}
        tested = []
        for f in range(4):
            over = [f"data.root={root}", "data.folds=4", f"data.fold={f}", f"data.group_by={group_by}"]
            s = build_splits(load_config(ski_data / "ski.yaml", over))
            train = {of[it.key] for it in s.train + s.val}
            test = {of[it.key] for it in s.test}
            assert train and test and not train & test, (group_by, f)
            tested += [it.key for it in s.test]
        assert sorted(tested) == sorted(of)
    with pytest.raises(Exception, match="no 'coach' to group by"):
        build_splits(load_config(ski_data / "ski.yaml", [f"data.root={root}", "data.group_by=coach"]))


@pytest.mark.slow
def test_cv_pools_held_out_predictions_and_resumes(ski_data: Path, tmp_path: Path) -> None:
    import csv

    from posekit.metrics import score_metrics
    from posekit.training.cv import cross_validate

    work = tmp_path / "cv"
    s = cross_validate(ski_data / "ski.yaml", 2, work)
    rows = list(csv.DictReader(open(work / "predictions_cv.csv")))
    assert sorted(r["key"] for r in rows) == sorted(f"jump_{i:02d}" for i in range(16))  # each clip once
    true = np.array([float(r["true"]) for r in rows])
    for name in ("hpmcore", "training mean", "dct_ridge", "dct_svr"):
        pred = np.array([float(r[name]) for r in rows])
        assert s["pooled"][name]["srcc"] == pytest.approx(score_metrics(pred, true)["srcc"], abs=1e-3)
        assert s["pooled"][name]["mae"] == pytest.approx(np.abs(pred - true).mean(), abs=1e-3)
    assert set(s["stage_iou"]) == {"hpmcore", "mean boundaries"} and s["stage_names"][2] == "landing"
    assert (work / "cv.png").exists()
    stamp = (work / "fold0" / "best.pth").stat().st_mtime_ns
    cross_validate(ski_data / "ski.yaml", 2, work)  # finished folds are reused
    assert (work / "fold0" / "best.pth").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_cv_seed_ensemble_is_the_mean_of_its_members(ski_data: Path, tmp_path: Path) -> None:
    """``posekit cv --seeds 2``: two members per fold, trained with seeds 0 and 1 in their own
    folders; the method's held-out prediction is their mean, and each member is scored too."""
    import csv

    from posekit.training.cv import _read_predictions as read
    from posekit.training.cv import cross_validate

    work = tmp_path / "cv"
    s = cross_validate(ski_data / "ski.yaml", 2, work, ["train.epochs=1"], seeds=2)
    rows = {r["key"]: float(r["hpmcore"]) for r in csv.DictReader(open(work / "predictions_cv.csv"))}
    for f in (0, 1):
        a, b = (read(work / f"fold{f}" / f"seed{i}" / "predictions_test.csv") for i in (0, 1))
        assert a.keys() == b.keys() and a
        for k in a:
            assert rows[k] == pytest.approx((a[k][0] + b[k][0]) / 2, abs=1e-3)
    assert s["seeds"] == 2 and len(s["members"]) == 2
    assert s["members"][0]["srcc"] != s["members"][1]["srcc"]  # different seeds, different models


@pytest.mark.slow
def test_cv_compares_configs_on_the_same_folds(ski_data: Path, tmp_path: Path) -> None:
    """``posekit cv A.yaml B.yaml``: each config cross-validated in its own folder, the
    methods side by side with the baselines of the same folds; configs that hold out other
    clips are refused."""
    import csv
    import json

    from posekit.cli import main
    from posekit.errors import ConfigError
    from posekit.training.cv import compare_configs

    tsa = tmp_path / "ski_tsa.yaml"
    tsa.write_text(f"_base_: {ski_data / 'ski.yaml'}\nmethod: tsa\n")
    work = tmp_path / "cmp"
    assert main(["cv", str(ski_data / "ski.yaml"), str(tsa), "--folds", "2", "--work-dir", str(work)]) == 0
    s = json.loads((work / "compare.json").read_text())
    assert {n: m["method"] for n, m in s["methods"].items()} == {"ski": "hpmcore", "ski_tsa": "tsa"}
    for name in ("ski", "ski_tsa"):
        cv = json.loads((work / name / "cv.json").read_text())
        assert s["methods"][name]["srcc"] == pytest.approx(cv["pooled"][cv["method"]]["srcc"])
        assert s["baselines"]["dct_svr"] == pytest.approx(cv["pooled"]["dct_svr"])  # same folds, same baseline
    assert (work / "compare.png").exists() and s["n"] == 16
    rows = list(csv.DictReader(open(work / "predictions_compare.csv")))  # the ensemble: the mean of both
    assert len(rows) == 16 and all(
        float(r["ensemble"]) == pytest.approx((float(r["ski"]) + float(r["ski_tsa"])) / 2, abs=1e-3) for r in rows
    )
    pred, true = (np.array([float(r[c]) for r in rows]) for c in ("ensemble", "true"))
    assert s["ensemble"]["mae"] == pytest.approx(np.abs(pred - true).mean(), abs=1e-3)
    rows = (ski_data / "labels.csv").read_text().splitlines()
    (tmp_path / "ski").mkdir()
    (tmp_path / "ski" / "clips").symlink_to(ski_data / "clips")
    (tmp_path / "ski" / "labels.csv").write_text(
        "\n".join([rows[0] + ",coach"] + [f"{r},c{i % 3}" for i, r in enumerate(rows[1:])])
    )
    by_coach = tmp_path / "by_coach.yaml"
    by_coach.write_text(f"_base_: {ski_data / 'ski.yaml'}\ndata: {{root: {tmp_path / 'ski'}, group_by: coach}}\n")
    with pytest.raises(ConfigError, match=r"by_coach\.yaml.*holds out other clips"):
        compare_configs([ski_data / "ski.yaml", by_coach], 2, work)
