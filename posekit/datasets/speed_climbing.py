"""SPEED21 speed-climbing skeletons (../shared/data/speed_climbing).

``skeletons/<id_run>.data``: one line per frame, ``frame#x1,y1;...;x16,y16`` (MPII-16 order),
or ``frame#NULL`` where no skeleton was found (stored as confidence 0).
``metadata.txt``: ``id_run;id_climber;date;run_number;URL;start;end;time_sec;time_frames;
finished;side;fps``. Only finished runs (``finished == 1``) are kept by default.

The number of frames equals the run time: resample to a fixed length before modelling time
(``SkeletonSequence.resample``), or the length leaks the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.errors import AnnotationError, SkeletonFormatError
from posekit.skeleton import SkeletonSequence

_META_FIELDS = (
    "id_run",
    "id_climber",
    "date",
    "run_number",
    "url",
    "start",
    "end",
    "time_sec",
    "time_frames",
    "finished",
    "side",
    "fps",
)


@dataclass(frozen=True)
class ClimbRun:
    id_run: str
    id_climber: int
    date: str
    run_number: int
    url: str
    start: float
    end: float
    time_sec: float
    time_frames: int
    finished: bool
    side: str
    fps: float


def _read_lines(path: Path, error: type) -> list[str]:
    """The lines of a UTF-8 text file, or ``error`` naming the file (and the byte that is not UTF-8)."""
    try:
        return path.read_bytes().decode("utf-8").splitlines()
    except OSError as exc:
        raise error(f"cannot read ({exc.strerror})", path) from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.object[exc.start]:#x} at offset {exc.start})", path) from None


def read_speed21_file(path: str | Path, fps: float = 25.0) -> SkeletonSequence:
    """Parse one ``.data`` file into an MPII-16 :class:`SkeletonSequence`."""
    path = Path(path)
    lines = _read_lines(path, SkeletonFormatError)
    lines = [ln.strip() for ln in lines if ln.strip()]
    if not lines:
        raise SkeletonFormatError("empty file; expected one 'frame#x,y;...' line per frame", path)
    data = np.zeros((len(lines), 16, 3), dtype=np.float32)
    frames = np.zeros(len(lines), dtype=np.int64)
    for t, line in enumerate(lines):
        head, sep, body = line.partition("#")
        try:
            if not sep:
                raise ValueError("no '#'")
            frames[t] = int(head)
            if body == "NULL":
                continue
            points = body.split(";")
            if len(points) != 16:
                raise ValueError(f"{len(points)} joints")
            for j, p in enumerate(points):
                x, y = p.split(",")
                data[t, j] = (float(x), float(y), 1.0)
        except ValueError as exc:
            raise SkeletonFormatError(
                f"line {t + 1}: {exc}; expected 'frame#x1,y1;...;x16,y16' (16 joints) or 'frame#NULL'", path, "line"
            ) from None
    back = np.flatnonzero(np.diff(frames) <= 0)
    if len(back):
        t = int(back[0]) + 1
        raise SkeletonFormatError(
            f"line {t + 1}: frame {frames[t]} after frame {frames[t - 1]}; expected increasing frame numbers",
            path,
            "line",
        )
    return SkeletonSequence(
        data=data,
        layout="mpii16",
        fps=fps,
        frame_indices=frames,
        meta={"source": str(path), "dataset": "speed21"},
        path=str(path),
    )


class SpeedClimbing:
    """Reader of SPEED21: runs from ``metadata.txt`` and their skeleton sequences."""

    def __init__(self, root: str | Path, finished_only: bool = True):
        self.root = Path(root)
        meta = self.root / "metadata.txt"
        if not meta.exists():
            raise AnnotationError("missing metadata.txt (expected the SPEED21 layout)", meta)
        runs = []
        for n, line in enumerate(_read_lines(meta, AnnotationError), start=1):
            if not line.strip():
                continue
            parts = line.split(";")
            if len(parts) != len(_META_FIELDS):
                raise AnnotationError(
                    f"line {n}: {len(parts)} fields, expected {len(_META_FIELDS)} ({';'.join(_META_FIELDS)})", meta
                )
            try:
                run = ClimbRun(
                    parts[0],
                    int(parts[1]),
                    parts[2],
                    int(parts[3]),
                    parts[4],
                    float(parts[5]),
                    float(parts[6]),
                    float(parts[7]),
                    int(parts[8]),
                    parts[9].strip() == "1",
                    parts[10],
                    float(parts[11]),
                )
            except ValueError as exc:
                raise AnnotationError(f"line {n}: {exc}", meta) from None
            if run.finished or not finished_only:
                runs.append(run)
        self.runs: dict[str, ClimbRun] = {r.id_run: r for r in runs}
        names = self.root / "climbers.txt"
        self.climber_names = _read_lines(names, AnnotationError) if names.exists() else []

    def __len__(self) -> int:
        return len(self.runs)

    def run_ids(self) -> list[str]:
        return sorted(self.runs)

    def load(self, id_run: str) -> SkeletonSequence:
        if id_run not in self.runs:
            raise AnnotationError(
                f"unknown run id {id_run!r} ({len(self.runs)} runs, e.g. {self.run_ids()[:3]})",
                self.root / "metadata.txt",
                "id_run",
            )
        run = self.runs[id_run]
        seq = read_speed21_file(self.root / "skeletons" / f"{id_run}.data", fps=run.fps)
        seq.meta.update({"id_run": id_run, "id_climber": run.id_climber, "time_sec": run.time_sec})
        return seq

    def times(self) -> dict[str, float]:
        return {k: r.time_sec for k, r in self.runs.items()}

    def climbers(self) -> dict[str, int]:
        return {k: r.id_climber for k, r in self.runs.items()}
