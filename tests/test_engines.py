"""extract-dataset engines: the Ray engine gives the serial engine's outputs, resumes and
lists failures (a local Ray with 2 CPUs, three real diving clips)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from posekit.pose.batch import extract_dataset
from posekit.pose.pipeline import ExtractConfig
from posekit.skeleton import SkeletonSequence

DIVES = {"dive1": range(0, 6, 2), "dive2": range(34, 40, 2), "dive3": range(70, 76, 2)}  # 3 frames each


@pytest.fixture(scope="module")
def three_clips(shared_data: Path, tmp_path_factory) -> Path:
    src = shared_data / "finediving" / "pose_frames" / "images"
    root = tmp_path_factory.mktemp("frames")
    for dive, frames in DIVES.items():
        (root / "match" / dive).mkdir(parents=True)
        for i in frames:
            shutil.copy(src / f"finediv{i:05d}.jpg", root / "match" / dive / f"finediv{i:05d}.jpg")
    (root / "match" / "broken").mkdir()
    (root / "match" / "broken" / "000.jpg").write_bytes(b"not a jpeg")
    return root


def _outputs(out: Path) -> dict[str, tuple[np.ndarray, dict]]:
    res = {}
    for npz in sorted(out.glob("*.npz")):
        rep = json.loads(npz.with_suffix(".report.json").read_text())
        for key in ("seconds", "fps_processed", "output", "report"):
            rep.pop(key, None)
        res[npz.stem] = (SkeletonSequence.load(npz).data, rep)
    return res


@pytest.mark.slow
def test_ray_engine_matches_serial_resumes_and_lists_failures(three_clips: Path, tmp_path: Path) -> None:
    cfg = ExtractConfig()
    serial = extract_dataset(tmp_path / "serial", three_clips, config=cfg)
    ray_sum = extract_dataset(tmp_path / "ray", three_clips, workers=2, config=cfg, engine="ray")
    assert serial["succeeded"] == ray_sum["succeeded"] == 3 and ray_sum["engine"] == "ray"
    assert list(ray_sum["failed"]) == ["match__broken"] and list(serial["failed"]) == ["match__broken"]
    a, b = _outputs(tmp_path / "serial"), _outputs(tmp_path / "ray")
    assert sorted(a) == sorted(b) == ["match__dive1", "match__dive2", "match__dive3"]
    for clip in a:
        np.testing.assert_array_equal(a[clip][0], b[clip][0], err_msg=clip)
        assert a[clip][1] == b[clip][1], clip
    again = extract_dataset(tmp_path / "ray", three_clips, workers=2, config=cfg, engine="ray")
    assert again["skipped_done"] == 3 and again["processed"] == 1  # only the broken clip is tried again
