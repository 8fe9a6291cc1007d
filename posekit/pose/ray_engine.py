"""``extract-dataset --engine ray``: clips spread over Ray actors, on the cluster you have.

Why actors with a task queue (``ray.util.ActorPool.map_unordered``) rather than Ray Data's
``map_batches``: a clip is one heavy, independent task (seconds to minutes) whose output is
a set of files the worker writes atomically itself; what must happen once per worker is
loading the detector and the pose estimator (BlazePose graphs, an HRNet checkpoint), which
an actor's constructor does. Ray Data's streaming batches of rows would add an object-store
round trip for every clip's frames and results without anything to batch across clips. An
actor that fails (a worker lost) fails only its clip: the clip is listed with the reason and
the next run picks it up, like a crash of the local engine.

``ray_address=None`` starts a local Ray with ``workers`` CPUs (stopped at the end);
``"auto"`` or ``"HOST:PORT"`` joins a running cluster (``ray start --head`` /
``ray start --address``), where posekit must be installed on every node and the output
folder must be shared (a network file system) - each worker writes its clip's files there.
With ``models.device`` ``cuda`` every actor holds one GPU.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from posekit.errors import PosekitError
from posekit.pose.options import ExtractionModels
from posekit.pose.pipeline import ExtractConfig


class ClipWorker:
    """One Ray actor: builds the models once, then extracts clip after clip."""

    def __init__(self, models: ExtractionModels, config: ExtractConfig, out_dir: str):
        from posekit.pose.batch import _models
        from posekit.pose.blazepose import set_num_threads

        self.models, self.config, self.out_dir = models, config, out_dir
        set_num_threads(1)  # the actor holds one CPU of the cluster
        _models(models)  # load now: every clip after this reuses them

    def run(self, clip_id: str, source: Any) -> dict[str, Any]:
        from posekit.pose.batch import extract_clip

        return extract_clip(clip_id, source, self.out_dir, self.models, self.config)


def _start(address: str | None, workers: int) -> bool:
    """Join ``address`` or start a local Ray; whether this call started it."""
    import ray

    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise PosekitError(f"cannot start or join {where}: {exc}") from None
    return not address


def run_ray(
    todo: dict[str, Any],
    out: Path,
    models: ExtractionModels,
    config: ExtractConfig,
    workers: int,
    address: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Extract ``todo`` (clip id -> :class:`~posekit.pose.batch.ClipSource`) on ``workers``
    Ray actors; yields each clip's result as it finishes (the order clips finish in)."""
    if not todo:
        return
    import ray
    from ray.util import ActorPool

    started = _start(address, workers)
    gpus = 1 if str(models.device).startswith("cuda") else 0
    try:
        n = actor_count(workers, len(todo), ray.cluster_resources(), gpus, address)
    except PosekitError:
        if started:
            ray.shutdown()
        raise
    Worker = ray.remote(num_cpus=1, num_gpus=gpus)(ClipWorker)
    actors = [Worker.remote(models, config, str(out)) for _ in range(n)]
    try:
        pool = ActorPool(actors)
        items = list(todo.items())
        yield from pool.map_unordered(_submit, items)  # completion order; each result names its clip
    finally:
        for a in actors:
            ray.kill(a)
        if started:
            ray.shutdown()


def actor_count(workers: int, clips: int, resources: dict[str, float], gpus: int, address: str | None) -> int:
    """How many actors to start: ``workers``, at most one per clip and no more than the
    cluster's ``resources`` (``ray.cluster_resources()``) hold, at one CPU (and ``gpus``
    GPUs) each. An actor the cluster cannot place would wait forever with its clip, so a
    request beyond the cluster is cut to what fits, with a warning; a cluster with no room
    for one actor (``--device cuda`` on a cluster without a GPU) is a clear error."""
    where = f"the Ray cluster at {address}" if address else "the local Ray"
    fits = int(resources.get("CPU", 0))
    if gpus:
        fits = min(fits, int(resources.get("GPU", 0) // gpus))
    if fits < 1:
        need = f"{gpus} GPU and 1 CPU" if gpus else "1 CPU"
        have = f"{resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs"
        why = " (--device cuda gives each worker a GPU)" if gpus else ""
        raise PosekitError(f"{where} has {have}: each worker needs {need}{why}")
    n = max(1, min(workers, clips))
    if n > fits:
        warnings.warn(
            f"--workers {workers}: {where} has room for {fits} worker(s) "
            f"({resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs); starting {fits}",
            stacklevel=2,
        )
    return min(n, fits)


def _submit(actor: Any, item: tuple[str, Any]) -> Any:
    return actor.run.remote(*item)
