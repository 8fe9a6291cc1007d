"""Overlay frames: the athlete box (green tracked, orange predicted) and the skeleton
(interpolated joints hollow) drawn on the video so a person can check the result."""

from __future__ import annotations

import cv2
import numpy as np

from posekit.pose.track import PREDICTED, TRACKED
from posekit.skeleton import SkeletonSequence

_LEVEL_BGR = ((31, 119, 180), (255, 127, 14), (44, 160, 44))  # RGB of H0 / H1 / H2


def render_overlay(
    frames: list[np.ndarray], skeleton: SkeletonSequence, boxes: np.ndarray, status: list[str]
) -> list[np.ndarray]:
    from graphs import build_hierarchy

    lay = skeleton.layout_obj
    level = build_hierarchy(lay).level_of_joint
    out = []
    for t, frame in enumerate(frames):
        img = frame.copy()
        s = max(1, round(max(img.shape[:2]) / 400))
        if np.isfinite(boxes[t]).all():
            col = (0, 200, 0) if status[t] == TRACKED else (255, 165, 0)
            x0, y0, x1, y1 = boxes[t].round().astype(int)
            cv2.rectangle(img, (x0, y0), (x1, y1), col, s)
        if t < skeleton.num_frames:
            xy, ok, interp = skeleton.xy[t], skeleton.valid[t], skeleton.interpolated[t]
            for a, b in lay.bone_index:
                if ok[a] and ok[b]:
                    cv2.line(
                        img,
                        tuple(xy[a].round().astype(int)),
                        tuple(xy[b].round().astype(int)),
                        (255, 255, 255),
                        s,
                        cv2.LINE_AA,
                    )
            for j in np.nonzero(ok)[0]:
                p = tuple(xy[j].round().astype(int))
                cv2.circle(img, p, 2 * s + 1, _LEVEL_BGR[level[j]], 1 if interp[j] else -1, cv2.LINE_AA)
        label = status[t] if t < len(status) else ""
        cv2.putText(
            img,
            f"{t} {label}",
            (5, 18 * s),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5 * s,
            (255, 255, 0) if label in (TRACKED, PREDICTED) else (255, 60, 60),
            s,
            cv2.LINE_AA,
        )
        out.append(img)
    return out
