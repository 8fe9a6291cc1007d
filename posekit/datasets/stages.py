"""Stage boundaries: from FineDiving step transitions to K stages in a resampled clip.

Conventions (documented once, used everywhere):

* FineDiving's ``steps_transit_frames`` holds, for a dive of ``L + 1`` steps, the **last
  frame of each step but the final one**, in frames of the trimmed clip (0-based). Frame
  ``f`` therefore belongs to step ``#{t in transits : t < f}``.
* In the released pickles 6 of 3000 ``steps_transit_frames`` are invalid (negative, out of
  order or beyond the clip); for those the transitions are derived from the per-frame
  sub-action ids (:func:`transits_from_labels`).
* A clip of ``n`` frames is resampled to ``T`` frames at ``linspace(0, n - 1, T)`` truncated
  to integers - the sampling of the FineDiving/TSA data loader.
* Steps are merged into ``K`` stages: the first step is take-off, the last is entry, and the
  middle steps (somersaults, twists) are split into ``K - 2`` contiguous groups (all flight
  for the default ``K = 3``). ``K = 2`` splits off the entry (``k2="entry"``, default) or the
  take-off (``k2="takeoff"``); ``K = 1`` is one stage.
* A stage boundary is the **last resampled frame of each stage but the final one**, so
  ``K`` stages give ``K - 1`` non-decreasing boundaries in ``[0, T - 1]`` - the same
  convention as the pickles, and as TSA's ``[transitions[1] - 1, transitions[-1] - 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from posekit.errors import AnnotationError


def resample_indices(num_frames: int, T: int) -> np.ndarray:
    """Source frame of each of ``T`` resampled frames: ``linspace(0, n - 1, T)`` truncated."""
    if num_frames < 1 or T < 1:
        raise AnnotationError(f"need num_frames >= 1 and T >= 1, got {num_frames}, {T}")
    return np.linspace(0, num_frames - 1, T).astype(np.int64)


def transits_from_labels(frame_labels: Sequence[int]) -> np.ndarray:
    """Step transitions (last frame of each step but the final one) from per-frame sub-action
    ids: every frame after which the id changes. A sub-action may recur (somersault, twist,
    somersault), so this is not TSA's first-appearance rule."""
    labels = np.asarray(frame_labels).reshape(-1)
    if labels.size == 0:
        raise AnnotationError("empty frame labels", field="frames_labels")
    return np.nonzero(np.diff(labels))[0].astype(np.int64)


def valid_transits(transits: Sequence[int], num_frames: int) -> bool:
    """Non-decreasing and inside ``[0, num_frames - 1]``."""
    tr = np.asarray(transits).reshape(-1)
    return bool(tr.size == 0 or ((np.diff(tr) >= 0).all() and tr[0] >= 0 and tr[-1] < num_frames))


def step_of_frame(transits: Sequence[int], num_frames: int) -> np.ndarray:
    """Step index (0..L) of every frame of the trimmed clip."""
    tr = np.asarray(transits, dtype=np.int64)
    if tr.ndim != 1 or (np.diff(tr) < 0).any():
        raise AnnotationError(
            f"step transitions must be a non-decreasing list, got {tr.tolist()}", field="steps_transit_frames"
        )
    if len(tr) and (tr[0] < 0 or tr[-1] >= num_frames):
        raise AnnotationError(
            f"step transitions {tr.tolist()} fall outside a clip of {num_frames} frames", field="steps_transit_frames"
        )
    return np.searchsorted(tr, np.arange(num_frames), side="left").astype(np.int64)


def steps_to_stages(num_steps: int, K: int, k2: Literal["entry", "takeoff"] = "entry") -> np.ndarray:
    """Map each step (0..num_steps-1) to a stage (0..K-1); see the module docstring."""
    if K < 1:
        raise AnnotationError(f"K must be >= 1, got {K}")
    if K > num_steps:
        raise AnnotationError(f"cannot split {num_steps} annotated steps into K = {K} stages")
    steps = np.arange(num_steps)
    if K == 1:
        return np.zeros(num_steps, dtype=np.int64)
    if K == 2:
        if k2 == "entry":
            return (steps == num_steps - 1).astype(np.int64)
        if k2 == "takeoff":
            return (steps > 0).astype(np.int64)
        raise AnnotationError(f"k2 must be 'entry' or 'takeoff', got {k2!r}")
    stage = np.empty(num_steps, dtype=np.int64)
    stage[0], stage[-1] = 0, K - 1
    middle = np.arange(1, num_steps - 1)
    for g, chunk in enumerate(np.array_split(middle, K - 2)):
        stage[chunk] = g + 1
    return stage


def labels_to_boundaries(stage_labels: np.ndarray, K: int) -> np.ndarray:
    """Last index of each stage but the final one, from per-frame non-decreasing stage labels.

    A stage with no frame gets the boundary of the stage before it (an empty segment).
    """
    labels = np.asarray(stage_labels, dtype=np.int64)
    out = np.empty(K - 1, dtype=np.int64)
    for k in range(K - 1):
        idx = np.nonzero(labels <= k)[0]
        out[k] = idx[-1] if idx.size else -1
    return out


def boundaries_to_labels(boundaries: Sequence[int], T: int) -> np.ndarray:
    """Per-frame stage label (0..K-1) from K-1 boundaries (inverse of labels_to_boundaries)."""
    b = np.asarray(boundaries, dtype=np.int64)
    return np.searchsorted(b, np.arange(T), side="left").astype(np.int64)


def stage_boundaries(
    transits: Sequence[int],
    num_frames: int,
    K: int = 3,
    T: int = 96,
    k2: Literal["entry", "takeoff"] = "entry",
) -> np.ndarray:
    """Boundaries of ``K`` stages in a clip of ``num_frames`` frames resampled to ``T``."""
    steps = step_of_frame(transits, num_frames)
    stage = steps_to_stages(len(transits) + 1, K, k2)[steps]
    return labels_to_boundaries(stage[resample_indices(num_frames, T)], K)
