"""Safe file I/O: atomic writes and pickle-free formats.

* Everything posekit writes goes to a temporary file in the target folder first and is
  renamed into place (``os.replace``), so an interrupted run never leaves a half-written
  file where a finished one is expected, and never clobbers an earlier good file.
* posekit's own formats never need pickle: ``.npz`` (read with ``allow_pickle=False``),
  JSON, YAML (``safe_load``), torch checkpoints holding only tensors and plain containers
  (loadable with ``torch.load(weights_only=True)``).
* The third-party annotation pickles (FineDiving, MTL-AQA) are read through
  :func:`restricted_pickle_load`, which admits builtins containers and numpy arrays and
  scalars only; anything else (``os.system``, ``subprocess``, arbitrary classes) is refused.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from posekit.errors import AnnotationError, UnsafePickleError


# ---------------------------------------------------------------------- names from data files
def safe_name(name: Any, source: str | Path | None, field: str) -> str:
    """A file-name component taken from a data file (an annotation key, a clip id): refused
    with an error naming ``source`` and ``field`` when it could leave the output folder
    (``..``, an absolute path, a path separator, a NUL byte) or is empty."""
    text = str(name)
    if text in ("", ".", "..") or "/" in text or "\\" in text or "\x00" in text or os.path.isabs(text):
        raise AnnotationError(
            f"{text!r} cannot be a file name (expected a plain name: no '..', no path separators)", source, field
        )
    return text


def safe_relative_path(name: Any, source: str | Path | None, field: str) -> Path:
    """A relative path taken from a data file (a label's image path): its parts must all be
    :func:`safe_name` parts, so that joined to an output folder it stays inside it."""
    text = str(name).replace("\\", "/")
    if os.path.isabs(text) or (len(text) > 1 and text[1] == ":"):
        raise AnnotationError(f"{text!r} is an absolute path (expected one relative to the labels)", source, field)
    return Path(*[safe_name(p, source, field) for p in text.split("/") if p not in ("", ".")])


# ---------------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes it 0600: give it the mode a plain open() would
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, writer: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``writer(fileobj)`` on a temporary binary file, then rename it onto ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        writer(fh)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def write_json(path: str | Path, obj: Any, indent: int = 2) -> Path:
    """Atomic JSON write (numpy scalars and arrays converted to plain Python)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def save_npz(path: str | Path, **arrays: Any) -> Path:
    """Atomic ``np.savez_compressed``; the file name is kept exactly (no ``.npz`` appended)."""
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))


# ---------------------------------------------------------------------- restricted pickle
_SAFE_BUILTINS = {
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "int",
    "float",
    "complex",
    "str",
    "bytes",
    "bytearray",
    "bool",
    "slice",
    "range",
}
_SAFE_GLOBALS = {
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # protocol-2 pickles store bytes through it (a pure function)
    ("collections", "defaultdict"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only builtins containers and numpy arrays/scalars/dtypes."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in _SAFE_GLOBALS:
            if module.startswith("numpy.core."):
                module = "numpy._core." + module[len("numpy.core.") :]  # numpy 2 location
            return super().find_class(module, name)
        if module == "numpy.dtypes" or (module == "numpy" and name.endswith("DType")):
            return super().find_class(module, name)
        raise UnsafePickleError(f"refused to load global '{module}.{name}' (not an allowed data type)")


def restricted_pickle_load(path: str | Path) -> Any:
    """Load an annotation pickle with :class:`RestrictedUnpickler`; errors name the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AnnotationError(f"cannot read file ({exc.strerror})", path) from exc
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise AnnotationError(f"not a readable pickle ({type(exc).__name__}: {exc})", path) from exc
