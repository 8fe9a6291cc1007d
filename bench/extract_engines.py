"""extract-dataset engines on this machine: serial vs local process pool vs Ray.

    python bench/extract_engines.py [--quick] [--workers 2]

Twelve clips cut from the 51 real FineDiving frames (each of the three dives in two halves,
each half twice under another name, so a local Ray's start-up of a few seconds weighs as it
would on a longer job, and it is included), extracted with the default pipeline by the
serial engine (the baseline measured in the same run: one process, which runs a frame's
BlazePose runs on every core it may use), the serial engine held to one core (one worker
of the other engines: what each added worker is compared with), the local process pool and
a local Ray, ``--workers`` each; Ray twice: started (and stopped) by the call, as
``extract-dataset --engine ray`` on a machine without Ray, and joining a Ray that is
already running (as on the user's cluster, ``--ray-address auto``: its start-up and
shut-down are not the job's). Prints wall time, frames/s and the ratio to serial; checks
the engines give the same skeletons; projects the time to build FineDiving (3,000 dives x 96
frames) on 1, 8 and 64 CPU workers from the measured per-worker throughput (labelled as
projections). Writes bench/results/extract_engines.json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from posekit.io import write_json
from posekit.paths import REPO_ROOT, shared_data

DIVES = (range(0, 33, 2), range(34, 69, 2), range(70, 101, 2))
FINEDIVING_FRAMES = 3000 * 96


def make_clips(root: Path, frames_per_clip: int | None, copies: int = 2) -> tuple[int, int]:
    """(clips, frames) written under ``root``."""
    src = shared_data("finediving", "pose_frames", "images")
    n, clips = 0, 0
    for d, frames in enumerate(DIVES):
        frames = list(frames)
        for h, part in enumerate((frames[: len(frames) // 2], frames[len(frames) // 2 :])):
            part = part[:frames_per_clip] if frames_per_clip else part
            for c in range(copies):
                folder = root / f"dive{d + 1}" / f"half{h + 1}_{c}"
                folder.mkdir(parents=True)
                for i in part:
                    shutil.copy(src / f"finediv{i:05d}.jpg", folder)
                n, clips = n + len(part), clips + 1
    return clips, n


#: name, engine, joins a running Ray, BlazePose threads (None: the cores the process may use)
ENGINES = (
    ("serial", "local", False, None),
    ("serial, one core", "local", False, 1),
    ("process pool", "local", False, None),
    ("ray", "ray", False, None),
    ("ray, running cluster", "ray", True, None),
)


def run(
    engine: str,
    workers: int,
    frames_root: Path,
    out: Path,
    clips: int,
    running: bool = False,
    threads: int | None = None,
) -> float:
    """Seconds to extract every clip; ``running``: a Ray with ``workers`` CPUs is started first,
    outside the timing, and stopped after it; ``threads``: BlazePose's threads in the serial
    engine (:func:`posekit.pose.blazepose.set_num_threads`)."""
    from posekit.pose.batch import extract_dataset
    from posekit.pose.blazepose import set_num_threads

    if running:
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    set_num_threads(threads)
    try:
        t0 = time.perf_counter()
        s = extract_dataset(out, frames_root, workers=workers, engine=engine)
        secs = time.perf_counter() - t0
    finally:
        set_num_threads(None)
        if running:
            ray.shutdown()
    if s["succeeded"] != clips:
        raise RuntimeError(f"{engine}: {s['failed']}")
    return secs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 frames per clip")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "extract_engines.json")
    args = ap.parse_args(argv)
    if shared_data("finediving", "pose_frames", "images") is None:
        print("../shared/data/finediving/pose_frames not found", file=sys.stderr)
        return 1
    from posekit.skeleton import SkeletonSequence

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n_clips, frames = make_clips(root / "frames", 3 if args.quick else None)
        rows, outs = {}, {}
        for name, engine, running, threads in ENGINES:
            w = 1 if name.startswith("serial") else args.workers
            outs[name] = root / name.replace(" ", "_").replace(",", "")
            secs = run(engine, w, root / "frames", outs[name], n_clips, running, threads)
            rows[name] = {"workers": w, "seconds": secs, "frames_per_s": frames / secs}
        same = all(
            np.array_equal(SkeletonSequence.load(p).data, SkeletonSequence.load(outs[e] / p.name).data)
            for e in rows
            for p in outs["serial"].glob("*.npz")
        )
    base, one = rows["serial"]["seconds"], rows["serial, one core"]["seconds"]
    print(f"{n_clips} clips, {frames} frames (455x256), default preset; same skeletons from every engine: {same}")
    for name, r in rows.items():
        r["ratio_to_serial"], r["ratio_to_one_core"] = base / r["seconds"], one / r["seconds"]
        print(
            f"  {name:<21} workers {r['workers']}  {r['seconds']:7.1f} s  {r['frames_per_s']:.2f} frames/s  "
            f"{r['ratio_to_serial']:.2f}x serial  {r['ratio_to_one_core']:.2f}x one core"
        )
    per_worker = max(r["frames_per_s"] / r["workers"] for k, r in rows.items() if not k.startswith("serial"))
    proj = {n: FINEDIVING_FRAMES / (per_worker * n) / 3600 for n in (1, 8, 64)}
    print(
        "projection (not measured): FineDiving, 288,000 frames, Ray workers like these at "
        f"{per_worker:.2f} frames/s each: " + ", ".join(f"{n} workers {h:.1f} h" for n, h in proj.items())
    )
    write_json(
        args.out, {"clips": n_clips, "frames": frames, "same_outputs": same, "engines": rows, "projection_hours": proj}
    )
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
