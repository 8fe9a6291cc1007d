"""Exceptions raised by posekit. Every message names the file (when there is one),
the field and what was expected."""

from __future__ import annotations

from graphs.errors import GraphsError, LayoutError, LocatedError

__all__ = [
    "AnnotationError",
    "ConfigError",
    "GraphsError",
    "LayoutError",
    "PosekitError",
    "SkeletonFormatError",
    "UnsafePickleError",
]


class PosekitError(Exception):
    """Base class of posekit errors (the layout layer's :class:`GraphsError` is the other one
    the command line reports as a clear error)."""


class _LocatedError(PosekitError, LocatedError):
    """An error about one file and one field of it: ``"<file>: field '<f>': <message>"``."""


class SkeletonFormatError(_LocatedError):
    """Bad skeleton data: wrong shape, NaN/inf, unknown layout, empty or truncated file."""


class AnnotationError(_LocatedError):
    """Bad annotation file or record (dataset readers, label converters)."""


class UnsafePickleError(PosekitError):
    """A pickle asked for a global outside the allow-list of the restricted unpickler."""


class ConfigError(_LocatedError):
    """A bad config file or option (unknown key, wrong type, impossible combination)."""
