"""Loading checkpoints without running code from them.

A ``.pth`` file is a pickle: loaded with ``torch.load(weights_only=False)`` it can run any
code its author chose. posekit therefore loads every checkpoint weights-only. mmengine
checkpoints (posekit's own ``pose-finetune`` outputs, mmpose / mmdet model-zoo files) also
pickle a few metadata objects - the message hub's ``HistoryBuffer`` and numpy arrays,
scalars and dtypes - so those few classes are allow-listed (:func:`allowed_globals`), and
nothing else. A checkpoint that needs anything more is refused with
:class:`~posekit.errors.PosekitError` naming the file and the objects it pickles, unless the
user passes ``trust=True`` (``--trust-checkpoint`` on the command line).
"""

from __future__ import annotations

import contextlib
import pickle
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from posekit.errors import PosekitError

HISTORY_BUFFER_METHODS = ("min", "max", "current", "mean")
TRUST_HINT = "if you made it or trust its source, pass --trust-checkpoint (Python: trust=True)"


def _history_buffer_method(obj: Any, name: str) -> Any:
    """``getattr`` as mmengine's pickled ``HistoryBuffer`` uses it, and only that way.

    ``HistoryBuffer._statistics_methods`` pickles its statistics as
    ``getattr(HistoryBuffer, 'min')``. A general ``getattr`` would hand a crafted pickle any
    attribute of any allowed object, so this one answers only those four look-ups."""
    from mmengine.logging.history_buffer import HistoryBuffer

    if obj is HistoryBuffer and name in HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f"getattr({obj!r}, {name!r}) is not allowed in a checkpoint")


def allowed_globals() -> list[Any]:
    """The classes and functions a weights-only load admits beyond torch's own."""
    import numpy as np

    allowed: list[Any] = [np.dtype, np.ndarray, np._core.multiarray._reconstruct, np._core.multiarray.scalar]
    allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
    except ImportError:  # pragma: no cover - mmengine is pinned, but the base loaders need none
        return allowed
    allowed += [HistoryBuffer, (_history_buffer_method, "builtins.getattr")]
    return allowed


def _unsafe_globals(path: str | Path) -> list[str]:
    try:
        from torch.serialization import get_unsafe_globals_in_checkpoint

        return get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # noqa: BLE001 - only used to word the error
        return []


def refusal(path: str | Path, exc: BaseException | None = None) -> PosekitError:
    """The error for a checkpoint that a weights-only load refused."""
    names = [n for n in _unsafe_globals(path) if n not in _allowed_names()]
    what = f"objects outside posekit's allow-list ({', '.join(names)})" if names else f"data it cannot read ({exc})"
    return PosekitError(
        f"{path}: refused to load this checkpoint weights-only: it pickles {what}; loading it fully would run "
        f"code from the file. {TRUST_HINT}"
    )


def _allowed_names() -> set[str]:
    out = set()
    for g in allowed_globals():
        if isinstance(g, tuple):
            out.add(g[1])
        else:
            out.add(f"{g.__module__}.{g.__qualname__}")
    return out


@contextlib.contextmanager
def checkpoint_loading(trust: bool = False) -> Iterator[None]:
    """Within the block every ``torch.load`` (also mmengine's and mmdet's) is weights-only with
    :func:`allowed_globals` admitted; with ``trust=True`` it defaults to a full load instead."""
    import torch

    original: Callable[..., Any] = torch.load

    def load(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("weights_only", not trust)
        return original(*args, **kwargs)

    torch.load = load
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            yield
    finally:
        torch.load = original


def load_checkpoint(path: str | Path, trust: bool = False, map_location: str = "cpu") -> Any:
    """Load ``path`` weights-only (with the mmengine allow-list); refuse anything else unless
    ``trust``, which loads it fully with a warning."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise PosekitError(f"{path}: checkpoint not found (give a local file)")
    with checkpoint_loading(trust=False):
        try:
            return torch.load(str(path), map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as exc:
            if not trust:
                raise refusal(path, exc) from None
    warnings.warn(f"{path}: loading a checkpoint that is not weights-only because you trust it", stacklevel=2)
    return torch.load(str(path), map_location=map_location, weights_only=False)


def load_without_code(path: str | Path, what: str, fn: Callable[[], Any], trust: bool = False) -> Any:
    """Run ``fn`` (a library call that loads ``path`` with ``torch.load`` inside, e.g. mmengine's
    Runner or mmdet's ``init_detector``) under :func:`checkpoint_loading`; a refusal names
    ``path`` and ``what`` it was given as."""
    with checkpoint_loading(trust):
        try:
            return fn()
        except pickle.UnpicklingError as exc:
            err = refusal(path, exc)
            raise PosekitError(f"{what}: {err}") from None
