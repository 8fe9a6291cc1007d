"""``extract-dataset --engine ray``: clips spread over Ray actors, on the cluster you have.

Why actors with a task queue (one clip per actor at a time, ``ray.wait``) rather than Ray Data's
``map_batches``: a clip is one heavy, independent task (seconds to minutes) whose output is
a set of files the worker writes atomically itself; what must happen once per worker is
loading the detector and the pose estimator (BlazePose graphs, an HRNet checkpoint), which
an actor's constructor does. Ray Data's streaming batches of rows would add an object-store
round trip for every clip's frames and results without anything to batch across clips. An
actor that dies (a lost node, a crash in native code) fails only its clip: the clip is
listed with the reason, a new actor takes its place for the other clips, and the next run
picks the clip up.

``ray_address=None`` starts a local Ray with ``workers`` CPUs (stopped at the end);
``"auto"`` or ``"HOST:PORT"`` joins a running cluster (``ray start --head`` /
``ray start --address``), where posekit must be installed on every node and the output
folder must be shared (a network file system) - each worker writes its clip's files there.
With ``models.device`` ``cuda`` and a torch model (mmpose HRNet, mmdet) every actor holds
one GPU (BlazePose runs on the CPU: its actors hold none).
"""

from __future__ import annotations

import socket
import time
import warnings
from collections import deque
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


def _reachable(address: str, timeout: float = 5.0) -> None:
    """A ``HOST:PORT`` (or ``ray://HOST:PORT``) address nothing answers on is a clear error
    at once: ``ray.init`` would retry it for minutes. ``auto`` is left to Ray (it fails fast
    when no cluster runs here)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout).close()
    except OSError as exc:
        raise PosekitError(
            f"cannot reach the Ray cluster at {address} ({exc}); start it there with `ray start --head`"
            " or check --ray-address"
        ) from None


def _start(address: str | None, workers: int) -> bool:
    """Join ``address`` or start a local Ray; whether this call started it."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        _reachable(address)
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
    worker: type = ClipWorker,
) -> Iterator[dict[str, Any]]:
    """Extract ``todo`` (clip id -> :class:`~posekit.pose.batch.ClipSource`) on ``workers``
    Ray actors of class ``worker`` (:class:`ClipWorker` or a subclass); yields each clip's
    result as it finishes (the order clips finish in)."""
    if not todo:
        return
    import ray

    started = _start(address, workers)
    gpus = 1 if models.uses_gpu else 0
    try:
        n = actor_count(workers, len(todo), ray.cluster_resources(), gpus, address)
    except PosekitError:
        if started:
            ray.shutdown()
        raise
    Worker = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=0)(worker)
    actors: list[Any] = []

    def new_actor() -> Any:
        actors.append(Worker.remote(models, config, str(out)))
        return actors[-1]

    def replacement() -> Any | None:  # a new actor only where the cluster has room for it now
        return new_actor() if _has_room(gpus) else None

    try:
        yield from _queue(list(todo.items()), [new_actor() for _ in range(n)], replacement)
    finally:
        for a in actors:
            ray.kill(a)
        if started:
            ray.shutdown()


_NO_START = "its Ray worker could not start: "


def _has_room(gpus: int, wait_s: float = 2.0) -> bool:
    """Whether the cluster has a free CPU (and ``gpus`` GPUs) for a new actor, waiting up to
    ``wait_s`` for a dead actor's resources to come back. A lost node's never do: an actor
    started without room would wait, with its clip, until the job ends - which waits for it."""
    import ray

    deadline = time.monotonic() + wait_s
    while True:
        free = ray.available_resources()
        if free.get("CPU", 0) >= 1 and free.get("GPU", 0) >= gpus:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def _queue(items: list[tuple[str, Any]], idle: list[Any], replacement: Any) -> Iterator[dict[str, Any]]:
    """Clips to actors, one at a time each, in completion order. A clip whose actor died (a
    lost node, a crash in native code, the memory killer) or whose task raised is yielded as
    failed with the reason, for the next run to try again. A dead actor is replaced when the
    cluster has room (``replacement()``: an actor, or None), so the other clips go on; one
    that could not start (its models failed to load: a checkpoint missing on its node) is
    not; when no actor is left the clips not run are listed with the reason."""
    import ray

    pending = deque(items)
    running: dict[Any, tuple[Any, str]] = {}
    cannot_start = ""
    while pending or running:
        while idle and pending:
            actor, (clip, source) = idle.pop(), pending.popleft()
            running[actor.run.remote(clip, source)] = (actor, clip)
        if not running:  # no actor left: none could start, or the lost ones had no room to be replaced
            why = f"no Ray worker could start: {cannot_start}" if cannot_start else "every Ray worker was lost"
            for clip, _ in pending:
                yield {"clip": clip, "ok": False, "error": f"not run, {why}; rerun to retry"}
            return
        (ref,), _ = ray.wait(list(running), num_returns=1)
        actor, clip = running.pop(ref)
        result, alive, started = _outcome(ref, clip)
        if not alive:
            ray.kill(actor)
            if started:
                actor = replacement()
            else:
                actor, cannot_start = None, result["error"].removeprefix(_NO_START)
        if actor is not None:
            idle.append(actor)
        yield result


def _outcome(ref: Any, clip: str) -> tuple[dict[str, Any], bool, bool]:
    """A finished task's result (a failure with its reason when the task raised or its actor
    died), whether its actor is alive, and whether the actor had started."""
    import ray
    from ray.exceptions import RayActorError, RayError

    try:
        return ray.get(ref), True, True
    except RayActorError as exc:
        if exc.actor_init_failed:
            last = (exc.error_msg or type(exc).__name__).strip().splitlines()[-1]
            return {"clip": clip, "ok": False, "error": _NO_START + last}, False, False
        why = f"its Ray worker was lost ({type(exc).__name__}); rerun to retry"
        return {"clip": clip, "ok": False, "error": why}, False, True
    except RayError as exc:  # the task raised (RayTaskError): the original exception, as the local engine lists it
        cause = getattr(exc, "cause", None) or exc
        return {"clip": clip, "ok": False, "error": f"{type(cause).__name__}: {cause}"}, True, True


def actor_count(workers: int, clips: int, resources: dict[str, float], gpus: int, address: str | None) -> int:
    """How many actors to start: ``workers``, at most one per clip and no more than the
    cluster's ``resources`` (``ray.cluster_resources()``) hold, at one CPU (and ``gpus``
    GPUs) each. An actor the cluster cannot place would wait forever with its clip, so a
    request beyond the cluster is cut to what fits, with a warning; a cluster with no room
    for one actor (a GPU model on a cluster without a GPU) is a clear error."""
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
