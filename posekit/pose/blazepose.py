"""The embedded offline pose model: BlazePose full (mediapipe 0.10.21 ships it in the wheel).

:class:`BlazePose` runs the model on an affine crop of a frame (centre, side, rotation) and
maps the 33 landmarks back to frame coordinates; its confidence is the landmark
visibility. It is used both as the default person detector and as the default top-down
pose estimator (through :mod:`posekit.pose.detect` and :mod:`posekit.pose.estimate`).
"""

from __future__ import annotations

import os

import numpy as np

from posekit.errors import PosekitError

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def crop_transform(cx: float, cy: float, side: float, angle: float, out_size: int) -> np.ndarray:
    """2x3 affine taking frame pixels to an ``out_size`` square crop of ``side`` pixels centred
    on ``(cx, cy)`` and rotated by ``angle`` degrees (counter-clockwise, OpenCV convention)."""
    import cv2

    m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(angle), out_size / float(side))
    m[0, 2] += out_size / 2 - cx
    m[1, 2] += out_size / 2 - cy
    return m


def apply_affine(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to ``(..., 2)`` points."""
    return xy @ m[:, :2].T + m[:, 2]


def invert_affine(m: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.invertAffineTransform(m)


class BlazePose:
    """mediapipe BlazePose (model_complexity 1, "full"), single image mode."""

    def __init__(self, min_detection_confidence: float = 0.3, model_complexity: int = 1):
        try:
            import mediapipe as mp
        except ImportError as exc:  # pragma: no cover - the pinned stack has it
            raise PosekitError("mediapipe==0.10.21 is needed for the embedded BlazePose model") from exc
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=model_complexity,
            min_detection_confidence=min_detection_confidence,
            enable_segmentation=False,
        )
        self.calls = 0

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        """``(33, 3)`` x, y (pixels of ``image``), visibility; None when no person is found."""
        self.calls += 1
        res = self._pose.process(np.ascontiguousarray(image))
        if not res.pose_landmarks:
            return None
        h, w = image.shape[:2]
        return np.array([[p.x * w, p.y * h, p.visibility] for p in res.pose_landmarks.landmark], dtype=np.float32)

    def on_crop(
        self,
        frame: np.ndarray,
        cx: float,
        cy: float,
        side: float,
        angle: float = 0.0,
        out_size: int = 384,
        hflip: bool = False,
    ) -> np.ndarray | None:
        """Run on a rotated square crop (optionally mirrored) and map the landmarks back to the
        frame. A mirrored run has its left/right landmarks swapped back."""
        import cv2

        m = crop_transform(cx, cy, side, angle, out_size)
        crop = cv2.warpAffine(frame, m, (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if hflip:
            crop = np.ascontiguousarray(crop[:, ::-1])
        lm = self(crop)
        if lm is None:
            return None
        if hflip:
            from graphs import get_layout

            lm = lm[get_layout("blazepose33").flip_index].copy()
            lm[:, 0] = out_size - lm[:, 0]
        lm[:, :2] = apply_affine(invert_affine(m), lm[:, :2])
        return lm

    def close(self) -> None:
        self._pose.close()
