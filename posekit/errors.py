"""Exceptions raised by posekit. Every message names the file (when there is one),
the field and what was expected."""

from __future__ import annotations

from pathlib import Path


class PosekitError(Exception):
    """Base class of posekit errors."""


class _LocatedError(PosekitError, ValueError):
    """An error about one file and one field of it: ``"<file>: field '<f>': <message>"``."""

    def __init__(self, message: str, path: str | Path | None = None, field: str | None = None):
        self.path = None if path is None else str(path)
        self.field = field
        self.reason = message
        where = [w for w in (self.path, f"field '{field}'" if field else None) if w]
        super().__init__(": ".join([*where, message]))


class SkeletonFormatError(_LocatedError):
    """Bad skeleton data: wrong shape, NaN/inf, unknown layout, empty or truncated file."""


class AnnotationError(_LocatedError):
    """Bad annotation file or record (dataset readers, label converters)."""


class LayoutError(_LocatedError):
    """A skeleton layout that is inconsistent (unknown joint in a bone, disconnected graph, ...)."""


class UnsafePickleError(PosekitError):
    """A pickle asked for a global outside the allow-list of the restricted unpickler."""


class ConfigError(_LocatedError):
    """A bad config file or option (unknown key, wrong type, impossible combination)."""
