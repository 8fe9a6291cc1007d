"""The posekit command line and the demo."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posekit.cli import main
from posekit.skeleton import SkeletonSequence

REPO = Path(__file__).resolve().parents[1]


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["--help"])
    assert ex.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("demo", "layouts", "inspect", "metrics", "dataset-info"):
        assert cmd in out


def test_console_script_version() -> None:
    exe = Path(sys.executable).parent / "posekit"
    res = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert res.stdout.strip().startswith("posekit 0.")


def test_layouts_and_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layouts"]) == 0
    assert "mpii16" in capsys.readouterr().out
    assert main(["layouts", "mpii16", "--plot", str(tmp_path / "h.png")]) == 0
    assert "ring 4 (H2 outer_limbs): r_ankle, l_ankle" in capsys.readouterr().out
    assert (tmp_path / "h.png").stat().st_size > 1000
    p = SkeletonSequence(np.ones((4, 16, 3)), "mpii16", meta={"clip": "x"}).save(tmp_path / "s.npz")
    assert main(["inspect", str(p)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] == 4 and info["meta"] == {"clip": "x"}


def test_errors_exit_2_with_the_file_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    assert main(["inspect", str(bad)]) == 2
    assert "bad.npz" in capsys.readouterr().err


def test_metrics_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "p.npy", np.array([1.0, 2.0, 3.5]))
    np.save(tmp_path / "t.npy", np.array([1.0, 2.5, 3.0]))
    assert main(["metrics", "--pred", str(tmp_path / "p.npy"), "--true", str(tmp_path / "t.npy")]) == 0
    assert json.loads(capsys.readouterr().out)["srcc"] == pytest.approx(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("with_shared", [True, False])
def test_demo_runs(tmp_path: Path, with_shared: bool) -> None:
    hide = "" if with_shared else "import posekit.paths as p; p.find_shared = lambda: None; "
    code = f"import sys; {hide}from posekit.cli import main; sys.exit(main(sys.argv[1:]))"
    res = subprocess.run(
        [sys.executable, "-c", code, "demo", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=1200,  # a hang guard, not a speed check (the demo takes ~1-2 min on 2 free cores)
    )
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    for p in report["outputs"].values():
        assert Path(p).exists()
    assert "posekit demo wrote:" in res.stdout
    tm = report["training"]["test_metrics"]
    assert np.isfinite(tm["srcc"]) and tm["r_l2_x100"] > 0 and 0 <= tm["aiou@0.5"] <= 1
    assert Path(report["outputs"]["model"]).name == "best.pth"
    ex = report["explanation"]  # job 3: one prediction explained, JSON + pictures
    assert len(ex["top_joints"]) == 3 and set(ex["stage_deltas"]) == {"take-off", "flight", "entry"}
    assert Path(report["outputs"]["explanation"]).name == "explanation.json"
    assert Path(report["outputs"]["explain_heatmap"]).exists()
    if not with_shared:
        assert report["skeleton"]["source"].startswith("generated")
        assert "finediving" not in report


def test_second_make_setup_installs_nothing() -> None:
    if shutil.which("make") is None or not (REPO / ".venv" / ".posekit-installed").exists():
        pytest.skip("reason: not running inside the Makefile-built .venv")
    res = subprocess.run(["make", "-q", "setup"], cwd=REPO, capture_output=True)
    assert res.returncode == 0, "make considers the set-up out of date: a second `make test` would reinstall"
