"""Errors of the layout layer. ``graphs`` is posekit's base layer and imports nothing from
``posekit`` or ``annotations_tools``; :mod:`posekit.errors` builds its errors on these."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class GraphsError(Exception):
    """Base class of the errors raised by ``graphs``."""


class LocatedError(GraphsError, ValueError):
    """An error about one file and one field of it: ``"<file>: field '<f>': <message>"``."""

    def __init__(self, message: str, path: str | Path | None = None, field: str | None = None):
        self.path = None if path is None else str(path)
        self.field = field
        self.reason = message
        where = [w for w in (self.path, f"field '{field}'" if field else None) if w]
        super().__init__(": ".join([*where, message]))


class LayoutError(LocatedError):
    """A skeleton layout that is inconsistent (unknown joint in a bone, disconnected graph, ...)."""


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """JSON to a temporary file beside ``path``, renamed into place (mode from the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(obj, indent=2) + "\n")
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
