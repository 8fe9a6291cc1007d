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
    Worker = ray.remote(num_cpus=1, num_gpus=gpus)(ClipWorker)
    actors = [Worker.remote(models, config, str(out)) for _ in range(max(1, min(workers, len(todo))))]
    try:
        pool = ActorPool(actors)
        items = list(todo.items())
        yield from pool.map_unordered(_submit, items)  # completion order; each result names its clip
    finally:
        for a in actors:
            ray.kill(a)
        if started:
            ray.shutdown()


def _submit(actor: Any, item: tuple[str, Any]) -> Any:
    return actor.run.remote(*item)
