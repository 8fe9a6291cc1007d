"""``posekit extract-dataset``: every clip of a folder, resumable, atomic, with a QC summary.

Clips are a FineDiving frame layout (``<root>/<match>/<idx>/*.jpg``, one clip per leaf
folder of images) or a folder of videos. Output: ``<out>/<clip id>.npz`` and
``<out>/<clip id>.report.json`` per clip, written atomically; a clip whose ``.npz`` and
report already exist, made with the same options (stored in the report), is skipped, so an
interrupted run resumes where it stopped. Failures
(unreadable files, no athlete) are recorded in ``<out>/failures.json`` and the run goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from posekit.errors import PosekitError
from posekit.io import write_json
from posekit.pose.options import ExtractionModels
from posekit.pose.pipeline import ExtractConfig
from posekit.pose.video import IMAGE_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".gif", ".webm", ".mpg", ".mpeg")


@dataclass(frozen=True)
class ClipSource:
    """Where a clip's frames are: a video or a frame folder, frames ``start..end`` (all when
    ``end`` is None: the clip is the whole file)."""

    path: Path
    start: int = 0
    end: int | None = None


def annotated_clips(videos: Path, annotations: Path) -> tuple[dict[str, ClipSource], dict[str, str]]:
    """The dives of FineDiving's coarse annotation (``{(video, idx): {start_frame,
    end_frame, ...}}``) in the untrimmed videos under ``videos`` (``<video>.mp4`` or any
    video suffix, or a folder of frames ``<video>/``): clip id ``<video>/<idx>`` -> its
    frames, and the dives whose video is missing (clip id -> reason). Outputs then land at
    ``<out>/<video>/<idx>.npz``: the ``pose/`` layout ``posekit train`` reads."""
    from posekit.io import restricted_pickle_load, safe_name

    ann = restricted_pickle_load(annotations)
    if not isinstance(ann, dict):
        raise PosekitError(f"{annotations}: expected a mapping (video, index) -> record, got {type(ann).__name__}")
    clips: dict[str, ClipSource] = {}
    missing: dict[str, str] = {}
    for key, rec in ann.items():
        if not (isinstance(key, tuple) and len(key) == 2 and isinstance(rec, dict)):
            raise PosekitError(f"{annotations}: entry {key!r} is not (video, index) -> {{start_frame, end_frame, ...}}")
        video, idx = safe_name(key[0], annotations, "video"), safe_name(key[1], annotations, "index")
        start, end = _frame_number(rec.get("start_frame")), _frame_number(rec.get("end_frame"))
        if start is None or end is None or not 0 <= start <= end:
            raise PosekitError(
                f"{annotations}: {key!r}: start_frame {rec.get('start_frame')!r}, end_frame {rec.get('end_frame')!r} "
                "(expected integers 0 <= start <= end)"
            )
        src = _source_video(videos, video)
        if src is None:
            missing[f"{video}/{idx}"] = f"no video {video}.* or frame folder {video}/ under {videos}"
        else:
            clips[f"{video}/{idx}"] = ClipSource(src, start, end)
    return clips, missing


def _frame_number(v: Any) -> int | None:
    """An integer frame number from a pickle (Python or NumPy integer), else None."""
    import numbers

    return int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else None


def _source_video(videos: Path, name: str) -> Path | None:
    for suffix in VIDEO_SUFFIXES:
        for cand in (videos / f"{name}{suffix}", videos / f"{name}{suffix.upper()}"):
            if cand.is_file():
                return cand
    return videos / name if (videos / name).is_dir() else None


def find_clips(frames_root: Path | None = None, videos: Path | None = None) -> dict[str, Path]:
    """Clip id -> path: leaf folders holding images, or video files (recursively). Two inputs
    that would share an id (``dive.gif`` and ``dive.mp4``; ``a/b`` and ``a__b``) are an error
    naming both: one would never be processed."""
    clips: dict[str, Path] = {}

    def add(cid: str, path: Path) -> None:
        if cid in clips:
            raise PosekitError(f"{path} and {clips[cid]} would both be clip '{cid}': rename one of them")
        clips[cid] = path

    if frames_root is not None:
        for d in sorted(p for p in Path(frames_root).rglob("*") if p.is_dir()):
            if any(f.suffix.lower() in IMAGE_SUFFIXES for f in d.iterdir()):
                add("__".join(d.relative_to(frames_root).parts), d)
    if videos is not None:
        for f in sorted(Path(videos).rglob("*")):
            if f.suffix.lower() in VIDEO_SUFFIXES:
                add("__".join(f.relative_to(videos).with_suffix("").parts), f)
    return clips


def run_options(models: ExtractionModels, config: ExtractConfig) -> dict[str, Any]:
    """What a clip's outputs depend on, stored in its report: a rerun with other options
    recomputes the clip instead of keeping stale outputs."""
    return {
        "models": models.for_quality(config.quality).to_dict(),  # the backend the run builds
        "num_frames": config.num_frames,
        "repeat_frames": config.repeat_frames,
        "quality": config.quality,
    }


#: what a model option missing from a clip's report meant when the report was written: the
#: option did not exist yet (``blazepose``: only the solution API ran then)
_DEFAULTS_THEN = {**ExtractionModels().to_dict(), "blazepose": "solution"}


def _is_done(out: Path, clip_id: str, options: dict[str, Any]) -> bool:
    npz, rep = out / f"{clip_id}.npz", out / f"{clip_id}.report.json"
    if not (npz.exists() and rep.exists()):
        return False
    try:
        stored = json.loads(rep.read_text()).get("options")
    except (OSError, ValueError):
        return False  # an unreadable report: compute the clip again
    if not isinstance(stored, dict) or not isinstance(stored.get("models"), dict):
        return False
    # a model option added after the clip was made meant what its default was then
    stored = {**stored, "models": {**_DEFAULTS_THEN, **stored["models"]}}
    return stored == json.loads(json.dumps(options))


_BUILT: dict[ExtractionModels, tuple[Any, Any]] = {}


def _models(models: ExtractionModels) -> tuple[Any, Any]:
    """The detector and estimator of ``models``, built once per process (worker)."""
    if models not in _BUILT:
        _BUILT[models] = models.build()
    return _BUILT[models]


def extract_clip(
    clip_id: str, source: ClipSource, out_dir: str, models: ExtractionModels, config: ExtractConfig
) -> dict[str, Any]:
    """Extract one clip to ``<out>/<clip id>.npz`` + report (atomic writes); the row of the
    QC table, or the failure with its reason (a batch goes on)."""
    from posekit.pose.pipeline import extract

    out = Path(out_dir)
    try:
        det, est = _models(models)
        res = extract(
            source.path,
            det,
            est,
            config=replace(config, start=source.start, end=source.end),
            out=out / f"{clip_id}.npz",
            report_path=out / f"{clip_id}.report.json",
            options=run_options(models, config),
        )
        r = res.report
        if r["found_fraction"] == 0:
            return {"clip": clip_id, "ok": False, "error": "no athlete found in any frame"}
        return {
            "clip": clip_id,
            "ok": True,
            "frames": r["frames_read"],
            "found": r["found_fraction"],
            "interpolated": r["cleaning"]["interpolated_fraction"],
            "confidence": r["mean_confidence"],
            "seconds": r["seconds"]["total"],
            "truncated": r.get("truncated"),
        }
    except Exception as exc:  # noqa: BLE001 - a batch records the failure and goes on
        return {"clip": clip_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _local(
    todo: dict[str, ClipSource],
    out: Path,
    models: ExtractionModels,
    config: ExtractConfig,
    workers: int,
    task: Callable[..., dict[str, Any]] = extract_clip,
) -> Iterator[dict[str, Any]]:
    """The local engine: ``task`` (:func:`extract_clip`) on each clip in this process, or in a
    pool of ``workers`` processes."""
    if workers <= 1:
        for k, src in todo.items():
            yield task(k, src, str(out), models, config)
        return
    import multiprocessing

    from posekit.pose.blazepose import num_threads, set_num_threads

    # spawn, not fork: a forked child inherits the parent's model threads (mediapipe, torch)
    # mid-state and can deadlock when the parent has extracted before; each worker's landmark
    # network gets its share of the cores
    share = max(1, num_threads() // workers)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=set_num_threads, initargs=(share,))
    with pool:
        futs = {pool.submit(task, k, src, str(out), models, config): k for k, src in todo.items()}
        for f in as_completed(futs):
            try:
                result = f.result()
            except BrokenProcessPool:  # a worker died (native crash, the memory killer): the pool is lost
                why = (
                    "a worker process died and the pool stopped (a native crash, the memory killer; from a script,"
                    " workers > 1 need the call under `if __name__ == '__main__':`); rerun to retry"
                    " (done clips are kept)"
                )
                result = {"clip": futs[f], "ok": False, "error": why}
            yield result


def extract_dataset(
    out_dir: str | Path,
    frames_root: str | Path | None = None,
    videos: str | Path | None = None,
    workers: int = 1,
    models: ExtractionModels | None = None,
    config: ExtractConfig | None = None,
    console: Console | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    annotations: str | Path | None = None,
) -> dict[str, Any]:
    """Extract every clip under ``frames_root`` / ``videos`` into ``out_dir`` with ``models``
    (default: the offline BlazePose pipeline) and the per-clip ``config`` (``num_frames``,
    ...), over ``workers`` local processes (``engine="local"``) or Ray actors
    (``engine="ray"``: :mod:`posekit.pose.ray_engine`, on ``ray_address`` or a local Ray).
    With ``annotations`` (FineDiving's coarse annotation pickle), each dive is cut out of its
    untrimmed video under ``videos`` (:func:`annotated_clips`) into ``<out>/<video>/<idx>.npz``.
    Clips already extracted with the same options are skipped; clips extracted with other
    options are computed again. Outputs are the same whatever the engine."""
    out = Path(out_dir)
    config = replace(config or ExtractConfig(), progress=False)
    models = (models or ExtractionModels()).for_quality(config.quality)  # what the reports store
    if engine not in ("local", "ray"):
        raise PosekitError(f"unknown engine {engine!r}; expected local or ray")
    clips, missing = _sources(frames_root, videos, annotations)
    out.mkdir(parents=True, exist_ok=True)
    options = run_options(models, config)
    todo = {k: src for k, src in clips.items() if not _is_done(out, k, options)}
    if engine == "ray":
        from posekit.pose.ray_engine import run_ray

        stream = run_ray(todo, out, models, config, workers, ray_address)
    else:
        stream = _local(todo, out, models, config, workers)
    results: list[dict[str, Any]] = [{"clip": k, "ok": False, "error": why} for k, why in missing.items()]
    t0 = time.perf_counter()
    with tqdm(total=len(todo), desc=f"clips ({engine})", unit="clip") as bar:
        for r in stream:
            results.append(r)
            bar.update()
    return _summarise(out, clips, todo, results, engine, console, time.perf_counter() - t0)


def _sources(
    frames_root: str | Path | None, videos: str | Path | None, annotations: str | Path | None
) -> tuple[dict[str, ClipSource], dict[str, str]]:
    """Every clip to extract, and the annotated dives that cannot be (no video)."""
    for root, flag in ((frames_root, "--frames-root"), (videos, "--videos")):
        if root is not None and not Path(root).is_dir():
            raise PosekitError(f"{root}: {flag} is not a folder")
    if annotations is not None:
        if videos is None:
            raise PosekitError("--annotations cuts dives out of --videos: give the folder of untrimmed videos")
        clips, missing = annotated_clips(Path(videos), Path(annotations))
        if not clips and not missing:
            raise PosekitError(f"{annotations}: no dive in the annotation")
        return clips, missing
    found = find_clips(Path(frames_root) if frames_root else None, Path(videos) if videos else None)
    clips = {k: ClipSource(p) for k, p in found.items()}
    if not clips:
        where = frames_root if frames_root is not None else videos
        raise PosekitError(
            f"{where}: no clip found (expected folders of images under --frames-root, or video files under --videos)"
        )
    return clips, {}


def _throughput(results: list[dict[str, Any]], seconds: float) -> dict[str, float]:
    """Frames this run extracted (clips that succeeded), its wall time and frames/s."""
    frames = int(sum(r["frames"] for r in results if r["ok"]))
    return {"frames": frames, "seconds": seconds, "frames_per_s": frames / seconds if seconds > 0 else 0.0}


def _summarise(
    out: Path,
    clips: dict[str, ClipSource],
    todo: dict[str, ClipSource],
    results: list[dict[str, Any]],
    engine: str,
    console: Console | None,
    seconds: float = 0.0,
) -> dict[str, Any]:
    """failures.json (earlier failures of clips not redone are kept), summary.json (with the
    run's throughput: frames extracted by this run over its wall time, ``seconds``, engine
    start-up included) and the QC table."""
    skipped = len(clips) - len(todo)
    fail_path = out / "failures.json"
    old = json.loads(fail_path.read_text()) if fail_path.exists() else {}
    failures = {
        **{k: v for k, v in old.items() if k not in todo},
        **{r["clip"]: r["error"] for r in results if not r["ok"]},
    }
    write_json(fail_path, failures)
    summary = {
        "engine": engine,
        "clips": len(clips),
        "skipped_done": skipped,
        "processed": len(results),
        "succeeded": sum(r["ok"] for r in results),
        "failed": failures,
        "truncated": {r["clip"]: r["truncated"] for r in results if r.get("truncated")},
        "throughput": _throughput(results, seconds),
    }
    console = console or Console()
    rate = summary["throughput"]
    title = f"extract-dataset: {len(results)} processed, {skipped} already done"
    if rate["frames"]:
        title += f"; {rate['frames']} frames in {seconds:.0f} s, {rate['frames_per_s']:.2f} frames/s"
    table = Table(title=title)
    for col in ("clip", "frames", "found", "interpolated", "confidence", "seconds"):
        table.add_column(col)
    for r in sorted(results, key=lambda r: r["clip"]):
        if r["ok"]:
            table.add_row(
                r["clip"],
                str(r["frames"]),
                f"{r['found']:.2f}",
                f"{r['interpolated']:.2f}",
                f"{r['confidence']:.2f}",
                f"{r['seconds']:.1f}",
            )
    console.print(table)
    for r in results:
        if r.get("truncated"):
            console.print(f"[yellow]truncated[/yellow] {r['clip']}: {r['truncated']}")
    for k, e in failures.items():
        console.print(f"[red]failed[/red] {k}: {e}")
    write_json(out / "summary.json", summary)
    return summary
