"""Where the optional shared material (``../shared``: real annotations, skeletons, videos) is."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_shared() -> Path | None:
    """``$POSEKIT_SHARED``, else ``<repo>/../shared``, else ``./../shared``; None if absent."""
    env = os.environ.get("POSEKIT_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared", Path.cwd().parent / "shared"]
    for c in candidates:
        if (c / "data").is_dir():
            return c.resolve()
    return None


def shared_data(*parts: str) -> Path | None:
    """A path under ``shared/data`` if it exists."""
    root = find_shared()
    if root is None:
        return None
    p = root.joinpath("data", *parts)
    return p if p.exists() else None
