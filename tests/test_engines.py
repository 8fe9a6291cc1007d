"""extract-dataset engines: the Ray engine gives the serial engine's outputs, resumes and
lists failures (a local Ray with 2 CPUs, three real diving clips)."""

from __future__ import annotations

import json
import os
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


def test_ray_workers_fit_the_cluster() -> None:
    """An actor the cluster cannot place would wait forever with its clip: the Ray engine
    starts no more actors than the cluster holds (with a warning), and a cluster with no room
    for one (``--device cuda`` without a GPU) is a clear error."""
    from posekit.errors import PosekitError
    from posekit.pose.ray_engine import actor_count

    cpus = {"CPU": 8.0, "memory": 1e9}
    assert actor_count(4, 10, cpus, 0, None) == 4
    assert actor_count(4, 2, cpus, 0, None) == 2  # one per clip at most
    with pytest.warns(UserWarning, match="room for 8 worker"):
        assert actor_count(16, 100, cpus, 0, "auto") == 8
    with pytest.warns(UserWarning, match="room for 2 worker"):
        assert actor_count(4, 100, {**cpus, "GPU": 2.0}, 1, "auto") == 2
    with pytest.raises(PosekitError, match=r"the Ray cluster at auto has 8 CPUs, 0 GPUs.*a GPU"):
        actor_count(2, 10, cpus, 1, "auto")


def _crash_on_boom(clip: str, source, out: str, models, config) -> dict:
    """A clip task whose process dies on the clip ``boom`` (a native crash, the memory killer)."""
    if clip == "boom":
        os._exit(1)
    return {"clip": clip, "ok": True}


def test_local_pool_lists_the_clips_of_a_dead_worker_and_goes_on(tmp_path: Path) -> None:
    """A worker process that dies breaks the pool: its clips, and the ones the pool had not
    finished, are listed as failed with the reason (the next run tries them again) instead of
    the whole run stopping without a summary."""
    from posekit.pose.batch import _local
    from posekit.pose.options import ExtractionModels

    todo = {"boom": None, "a": None}
    got = {r["clip"]: r for r in _local(todo, tmp_path, ExtractionModels(), ExtractConfig(), 2, _crash_on_boom)}
    assert sorted(got) == ["a", "boom"]
    assert not got["boom"]["ok"] and "worker process died" in got["boom"]["error"]


@pytest.mark.slow
def test_ray_replaces_a_lost_worker_and_lists_its_clip(tmp_path: Path) -> None:
    """An actor that dies fails only its clip (listed with the reason, for the next run); a
    new actor takes its place where the cluster has room, and the other clips are extracted.
    A task that raises is listed with the exception and its actor goes on. Lost actors with
    no room to replace them leave the clips not run listed, not waited for."""
    import ray

    from posekit.pose.options import ExtractionModels
    from posekit.pose.ray_engine import ClipWorker, _queue, run_ray

    class Fragile(ClipWorker):
        def __init__(self, models, config, out_dir: str):
            self.pid = os.getpid()

        def run(self, clip_id: str, source) -> dict:
            if clip_id.startswith("boom"):
                os._exit(1)
            if clip_id == "bad":
                raise ValueError("bad clip")
            return {"clip": clip_id, "ok": True, "pid": self.pid}

    todo = {c: None for c in ("boom", "boom2", "a", "b", "bad", "c", "d")}  # both first actors die
    got = {r["clip"]: r for r in run_ray(todo, tmp_path, ExtractionModels(), ExtractConfig(), 2, worker=Fragile)}
    assert sorted(got) == sorted(todo)
    for c in ("boom", "boom2"):
        assert not got[c]["ok"] and "Ray worker was lost" in got[c]["error"]
    assert not got["bad"]["ok"] and "bad clip" in got["bad"]["error"]
    assert all(got[c]["ok"] for c in "abcd")  # run by the replacements
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        actors = [ray.remote(num_cpus=1, max_restarts=0)(Fragile).remote(None, None, "") for _ in range(2)]
        items = [(c, None) for c in ("boom", "boom2", "a")]
        got = {r["clip"]: r for r in _queue(items, actors, lambda: None)}  # no room for a replacement
    finally:
        ray.shutdown()
    assert got["a"] == {"clip": "a", "ok": False, "error": "not run, every Ray worker was lost; rerun to retry"}


def test_extraction_device_is_checked_and_only_torch_models_hold_a_gpu() -> None:
    """``--device`` is cpu, cuda or cuda:N (a typo is a clear error, not a crash in a worker);
    a Ray worker holds a GPU only when a torch model (mmpose, mmdet) runs on it."""
    from posekit.errors import PosekitError
    from posekit.pose.options import ExtractionModels

    with pytest.raises(PosekitError, match="unknown device 'gpu'; expected cpu, cuda, cuda:N or mps"):
        ExtractionModels(device="gpu")
    assert not ExtractionModels(device="cuda").uses_gpu  # BlazePose runs on the CPU
    assert ExtractionModels(device="cuda:1", pose="mmpose").uses_gpu
    assert ExtractionModels(device="cuda", detector="mmdet").uses_gpu
    assert not ExtractionModels(pose="mmpose").uses_gpu
    assert not ExtractionModels(device="mps", pose="mmpose").uses_gpu  # Apple's GPU: no Ray GPU resource


@pytest.mark.slow
def test_ray_workers_that_cannot_start_are_not_replaced(tmp_path: Path) -> None:
    """An actor whose models fail to load (a checkpoint missing on its node) lists its clip
    with the reason and is not replaced: the other actors take the remaining clips, and when
    none could start, the clips not run are listed with that reason instead of waiting."""
    from posekit.pose.options import ExtractionModels
    from posekit.pose.ray_engine import ClipWorker, run_ray

    class OneNodeLacksTheCheckpoint(ClipWorker):
        def __init__(self, models, config, out_dir: str):
            os.close(os.open(Path(out_dir) / "first", os.O_CREAT | os.O_EXCL))  # the first actor only

        def run(self, clip_id: str, source) -> dict:
            return {"clip": clip_id, "ok": True}

    class NoNodeHasIt(ClipWorker):
        def __init__(self, models, config, out_dir: str):
            raise FileNotFoundError("/nodes/hrnet.pth: not found")

    todo = {c: None for c in "abcde"}
    args = (ExtractionModels(), ExtractConfig(), 2)
    got = {r["clip"]: r for r in run_ray(todo, tmp_path, *args, worker=OneNodeLacksTheCheckpoint)}
    assert sorted(got) == sorted(todo) and sum(r["ok"] for r in got.values()) == 4
    (bad,) = [r for r in got.values() if not r["ok"]]
    assert bad["error"] == "its Ray worker could not start: FileExistsError: [Errno 17] File exists: " + repr(
        str(tmp_path / "first")
    )
    got = {r["clip"]: r for r in run_ray(todo, tmp_path / "none", *args, worker=NoNodeHasIt)}
    assert sorted(got) == sorted(todo) and not any(r["ok"] for r in got.values())
    errors = sorted(r["error"] for r in got.values())
    assert errors[:2] == ["its Ray worker could not start: FileNotFoundError: /nodes/hrnet.pth: not found"] * 2
    assert (
        errors[2:]
        == ["not run, no Ray worker could start: FileNotFoundError: /nodes/hrnet.pth: not found; rerun to retry"] * 3
    )


def test_a_ray_address_nothing_answers_on_is_a_clear_error_at_once() -> None:
    """``--ray-address HOST:PORT`` with no cluster there: a clear error naming the address,
    not minutes of Ray retrying."""
    import socket

    from posekit.errors import PosekitError
    from posekit.pose.ray_engine import _start

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PosekitError, match=rf"cannot reach the Ray cluster at 127.0.0.1:{port} .*ray start --head"):
        _start(f"127.0.0.1:{port}", 2)
