"""The embedded offline pose model: BlazePose full (mediapipe 0.10.21 ships it in the wheel).

:class:`BlazePose` runs the model on an affine crop of a frame (centre, side, rotation) and
maps the 33 landmarks back to frame coordinates; its confidence is the landmark
visibility. It is used both as the default person detector and as the default top-down
pose estimator (through :mod:`posekit.pose.detect` and :mod:`posekit.pose.estimate`).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from posekit.errors import PosekitError

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_THREADS: int | None = None


def set_num_threads(n: int | None) -> None:
    """Threads of the direct landmark network (:class:`BlazePoseLandmarker`) created after
    this call, as ``torch.set_num_threads``; None: :func:`num_threads`'s default. Batch
    engines give each worker its share of the machine's cores."""
    global _THREADS
    if n is not None and int(n) < 1:
        raise PosekitError(f"BlazePose threads must be >= 1, got {n}")
    _THREADS = None if n is None else int(n)


def num_threads() -> int:
    """The landmark network's threads: :func:`set_num_threads`'s value, else the cores this
    process may use (at most 4: more do not pay on a 256 x 256 input)."""
    if _THREADS is not None:
        return _THREADS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores))


#: one test-time run of :meth:`CropLandmarker.on_crops`: centre x, y, side, angle (degrees),
#: crop size, mirrored
Crop = tuple[float, float, float, float, int, bool]


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


def landmarks_on_crop(
    run, frame: np.ndarray, region: tuple[float, float, float, float], out_size: int, hflip: bool
) -> np.ndarray | None:
    """``run`` (a crop -> ``(33, 3)`` landmarks or None) on the rotated square ``region``
    (centre x, y, side, angle in degrees) of ``frame``, optionally mirrored; the landmarks
    mapped back to frame pixels (a mirrored run has its left/right landmarks swapped back)."""
    import cv2

    m = crop_transform(*region, out_size)
    crop = cv2.warpAffine(frame, m, (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if hflip:
        crop = np.ascontiguousarray(crop[:, ::-1])
    lm = run(crop)
    if lm is None:
        return None
    if hflip:
        from graphs import get_layout

        lm = lm[get_layout("blazepose33").flip_index].copy()
        lm[:, 0] = out_size - lm[:, 0]
    lm[:, :2] = apply_affine(invert_affine(m), lm[:, :2])
    return lm


class CropLandmarker:
    """The interface detection and pose estimation use a landmark model through (subclass it
    to plug in another model): ``on_crop``, the model run on a rotated square crop of a frame
    (optionally mirrored), the landmarks mapped back to the frame, and ``on_crops``, a
    frame's test-time runs at once; ``_crop_landmarks`` runs the model on the crop and
    ``_size`` gives the crop's side for a requested ``out_size``."""

    def _crop_landmarks(self, crop: np.ndarray) -> np.ndarray | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _size(self, out_size: int) -> int:
        return out_size

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
        return landmarks_on_crop(self._crop_landmarks, frame, (cx, cy, side, angle), self._size(out_size), hflip)

    def on_crops(self, frame: np.ndarray, crops: Sequence[Crop]) -> list[np.ndarray | None]:
        """:meth:`on_crop` on each ``(cx, cy, side, angle, out_size, hflip)`` of ``crops``, in
        order (the test-time runs of one frame). One after the other here; :class:`BlazePose`
        spreads them over its workers."""
        return [self.on_crop(frame, *c) for c in crops]


class BlazePose(CropLandmarker):
    """mediapipe BlazePose (model_complexity 1, "full"), single image mode.

    The solution API runs a graph on one core per call; :meth:`on_crops` (a frame's
    test-time runs) spreads the runs over ``workers`` graphs, one per thread (None:
    :func:`num_threads`, the cores this process may use; batch engines give each worker its
    share). Each run is the same computation whichever graph does it, so the landmarks are
    the same as one after the other (``tests/test_pose_direct.py``)."""

    def __init__(self, min_detection_confidence: float = 0.3, model_complexity: int = 1, workers: int | None = None):
        try:
            import mediapipe  # noqa: F401
        except ImportError as exc:  # pragma: no cover - the pinned stack has it
            raise PosekitError("mediapipe==0.10.21 is needed for the embedded BlazePose model") from exc
        if workers is not None and int(workers) < 1:
            raise PosekitError(f"BlazePose workers must be >= 1 (or None: one per core), got {workers}")
        self._options = {"model_complexity": model_complexity, "min_detection_confidence": min_detection_confidence}
        self._pose = self._graph()
        self.workers = None if workers is None else int(workers)
        self._pool: Any = None
        self._local = threading.local()
        self._graphs: list[Any] = []
        self._lock = threading.Lock()
        self.calls = 0

    def _graph(self) -> Any:
        import mediapipe as mp

        return mp.solutions.pose.Pose(static_image_mode=True, enable_segmentation=False, **self._options)

    def _landmarks_with(self, pose: Any, image: np.ndarray) -> np.ndarray | None:
        with self._lock:
            self.calls += 1
        res = pose.process(np.ascontiguousarray(image))
        if not res.pose_landmarks:
            return None
        h, w = image.shape[:2]
        return np.array([[p.x * w, p.y * h, p.visibility] for p in res.pose_landmarks.landmark], dtype=np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        """``(33, 3)`` x, y (pixels of ``image``), visibility; None when no person is found."""
        return self._landmarks_with(self._pose, image)

    def _crop_landmarks(self, crop: np.ndarray) -> np.ndarray | None:
        return self(crop)

    def _thread_graph(self) -> Any:
        """This worker thread's own graph (a graph runs one image at a time)."""
        pose = getattr(self._local, "pose", None)
        if pose is None:
            pose = self._local.pose = self._graph()
            self._graphs.append(pose)
        return pose

    def _run_in_thread(self, frame: np.ndarray, crop: Crop) -> np.ndarray | None:
        run = functools.partial(self._landmarks_with, self._thread_graph())
        cx, cy, side, angle, out_size, hflip = crop
        return landmarks_on_crop(run, frame, (cx, cy, side, angle), self._size(out_size), hflip)

    def on_crops(self, frame: np.ndarray, crops: Sequence[Crop]) -> list[np.ndarray | None]:
        workers = self.workers or num_threads()
        if workers <= 1 or len(crops) <= 1:
            return super().on_crops(frame, crops)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="blazepose")
        return list(self._pool.map(lambda c: self._run_in_thread(frame, c), crops))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for pose in [self._pose, *self._graphs]:
            pose.close()
        self._graphs = []


#: BlazePose full's landmark model inside the pinned mediapipe wheel
LANDMARK_MODEL = ("modules", "pose_landmark", "pose_landmark_full.tflite")


def _wheel_model(parts: tuple[str, ...], what: str, threads: int | None) -> tuple[Any, int, dict[str, int]]:
    """A LiteRT interpreter of one of BlazePose's networks in the mediapipe wheel: the
    interpreter, its input's index and its outputs' indices by name."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise PosekitError(
            f"ai-edge-litert is needed to run BlazePose's {what} network directly (it is in requirements/nodeps.txt)"
        ) from exc
    from pathlib import Path

    import mediapipe

    path = Path(mediapipe.__file__).parent.joinpath(*parts)
    if not path.is_file():
        raise PosekitError(f"{path}: BlazePose's {what} model is missing from the mediapipe wheel")
    it = Interpreter(model_path=str(path), num_threads=threads or num_threads())
    it.allocate_tensors()
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    return it, it.get_input_details()[0]["index"], outs


class BlazePoseLandmarker(CropLandmarker):
    """BlazePose full's landmark model run directly on a region of interest, without the
    solution API's person detector inside the crop (LiteRT, ``ai-edge-litert``).

    "BlazePose: On-device Real-time Body Pose tracking" (Bazarevsky et al., 2020), the
    tracking stage: once a pose is known, the next frame's region of interest is derived from
    it (centred on the hips, rotated so the body is upright, 1.25 x the body's circumscribed
    circle) and only the landmark network runs on it. Without that alignment the network
    returns an upright template for a rotated diver, so callers give the region (see
    :func:`posekit.pose.estimate.roi_from_landmarks`). Same ``on_crop`` signature as
    :class:`BlazePose` (``out_size`` is the network's 256); a run whose pose-presence score
    is under 0.5 returns None, like the solution API finding nobody. ``threads``: the
    interpreter's (None: :func:`num_threads`)."""

    size = 256

    def __init__(self, threads: int | None = None):
        self._it, self._in, outs = _wheel_model(LANDMARK_MODEL, "landmark", threads)
        self._landmarks, self._presence = outs["Identity"], outs["Identity_1"]
        self.calls = 0

    def landmarks(self, crop: np.ndarray) -> np.ndarray | None:
        """``(33, 3)`` x, y (pixels of the 256 x 256 RGB ``crop``), visibility; None when the
        pose-presence score is under 0.5."""
        self.calls += 1
        self._it.set_tensor(self._in, crop[None].astype(np.float32) / 255.0)
        self._it.invoke()
        if float(self._it.get_tensor(self._presence).reshape(-1)[0]) < 0.0:  # sigmoid(x) < 0.5
            return None
        raw = self._it.get_tensor(self._landmarks).reshape(-1, 5)[:33]  # x, y, z, visibility, presence
        vis = 1.0 / (1.0 + np.exp(-np.clip(raw[:, 3:4], -60.0, 60.0)))  # sigmoid of the logit
        return np.concatenate([raw[:, :2], vis], axis=1).astype(np.float32)

    def _crop_landmarks(self, crop: np.ndarray) -> np.ndarray | None:
        return self.landmarks(crop)

    def _size(self, out_size: int) -> int:
        return self.size  # the network's input, whatever the caller asked

    def close(self) -> None:
        self._it = None


#: BlazePose's person detector inside the pinned mediapipe wheel
DETECTION_MODEL = ("modules", "pose_detection", "pose_detection.tflite")


def ssd_anchors(size: int = 224, strides: tuple[int, ...] = (8, 16, 32, 32, 32)) -> np.ndarray:
    """The detector's anchor centres ``(2254, 2)`` in [0, 1]: mediapipe's SsdAnchorsCalculator
    with pose_detection's options (5 layers, fixed anchor size, aspect ratio 1 plus the
    interpolated scale: 2 anchors per cell and layer; layers of one stride share a grid)."""
    out = []
    i = 0
    while i < len(strides):
        same = sum(1 for s in strides[i:] if s == strides[i])
        g = int(np.ceil(size / strides[i]))
        yy, xx = np.meshgrid((np.arange(g) + 0.5) / g, (np.arange(g) + 0.5) / g, indexing="ij")
        cells = np.stack([xx.ravel(), yy.ravel()], 1)
        out.append(np.repeat(cells, 2 * same, axis=0))
        i += same
    return np.concatenate(out).astype(np.float32)


def decode_detections(
    raw: np.ndarray, scores: np.ndarray, anchors: np.ndarray, size: int = 224, min_score: float = 0.5, iou: float = 0.3
) -> np.ndarray | None:
    """The best person of BlazePose's detector output: mediapipe's TensorsToDetections
    (``raw`` ``(N, 12)``: box centre, size and 4 keypoints as offsets from the anchor in input
    pixels; sigmoid scores clipped at +-100) then weighted non-maximum suppression (IoU 0.3):
    the detections overlapping the most confident one are averaged with their scores as
    weights. Returns its 4 keypoints ``(4, 2)`` in input pixels (0: hips' midpoint, 1: the
    point that gives the body's circle and direction), or None under ``min_score``."""
    s = 1.0 / (1.0 + np.exp(-np.clip(scores.reshape(-1).astype(np.float64), -100.0, 100.0)))
    keep = np.flatnonzero(s >= min_score)
    if not len(keep):
        return None
    a = anchors[keep] * size
    r = raw[keep].astype(np.float64)
    cx, cy, w, h = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1], r[:, 2], r[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    kps = r[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
    from posekit.pose.detect import box_iou_np

    top = int(np.argmax(s[keep]))
    overlap = box_iou_np(boxes[top : top + 1], boxes)[0]
    wts = s[keep] * (overlap > iou)
    wts[top] = s[keep][top]
    return (kps * wts[:, None, None]).sum(0) / wts.sum()


class BlazePoseDirect(CropLandmarker):
    """BlazePose full's two networks run directly (LiteRT), as the solution API's
    single-image graph runs them: the person detector on the crop (224 x 224, values in
    [-1, 1]), the region of interest from its keypoints (centred on the hips, side 2.5 x the
    hips-to-circle-point distance, turned so that direction is upright: "BlazePose:
    On-device Real-time Body Pose tracking", Bazarevsky et al., 2020, and mediapipe's
    pose_detection_to_roi), then the landmark network on that region, cut from the frame in
    one warp. Same ``on_crop`` as :class:`BlazePose` in about half its time with 2
    threads (:func:`set_num_threads`); its landmarks agree with the solution API's within
    5 % of the body's extent on 93 % of crops around real divers, but it finds a person on
    more rotated crops than the solution API does, and ``accurate`` / ``balanced`` extraction
    with it is less accurate (``bench/quality_presets.py --blazepose direct``); ``fast`` runs
    it by default (:func:`backend_for`), where it is both faster and more accurate.
    ``min_score``: the detector's threshold (the solution API's ``min_detection_confidence``)."""

    size = 224

    def __init__(self, min_score: float = 0.3, threads: int | None = None):
        self._it, self._in, outs = _wheel_model(DETECTION_MODEL, "detection", threads)
        self._raw, self._scores = outs["Identity"], outs["Identity_1"]
        self._anchors = ssd_anchors(self.size)
        self.landmarker = BlazePoseLandmarker(threads)  # also the temporal path's (estimate_tracked)
        self.min_score = min_score
        self.calls = 0

    def detect(self, crop: np.ndarray) -> np.ndarray | None:
        """The best person's 4 keypoints ``(4, 2)`` in pixels of the 224 x 224 RGB ``crop``."""
        self._it.set_tensor(self._in, crop[None].astype(np.float32) / 127.5 - 1.0)
        self._it.invoke()
        raw, scores = self._it.get_tensor(self._raw)[0], self._it.get_tensor(self._scores)[0]
        return decode_detections(raw, scores, self._anchors, self.size, self.min_score)

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
        import cv2

        self.calls += 1
        n = self.size
        m = np.vstack([crop_transform(cx, cy, side, angle, n), [0, 0, 1]])
        if hflip:
            m = np.array([[-1.0, 0, n], [0, 1, 0], [0, 0, 1]]) @ m
        crop = cv2.warpAffine(frame, m[:2], (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        kp = self.detect(crop)
        if kp is None:
            return None
        dx, dy = kp[1] - kp[0]
        roi_side = 2.5 * float(np.hypot(dx, dy))
        if roi_side < 4.0:
            return None
        size = self.landmarker.size
        r = np.vstack(
            [crop_transform(kp[0, 0], kp[0, 1], roi_side, float(np.degrees(np.arctan2(dx, -dy))), size), [0, 0, 1]]
        )
        full = r @ m  # frame -> region of interest, in one warp
        roi = cv2.warpAffine(frame, full[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        lm = self.landmarker.landmarks(roi)
        if lm is None:
            return None
        lm[:, :2] = apply_affine(invert_affine(full[:2]), lm[:, :2])
        if hflip:
            from graphs import get_layout

            lm = lm[get_layout("blazepose33").flip_index].copy()
        return lm

    def close(self) -> None:
        self._it = None
        self.landmarker.close()


#: ``build_blazepose`` backends: ``solution`` (:class:`BlazePose`, mediapipe's solution API;
#: the most accurate in ``bench/quality_presets.py``) and ``direct`` (:class:`BlazePoseDirect`,
#: LiteRT: faster, less accurate there; README, "Quality presets"); ``auto`` (the default of
#: ``--blazepose``) picks one by the quality preset (:func:`backend_for`)
BACKENDS = ("solution", "direct")
AUTO = "auto"


def backend_for(quality: str, backend: str = AUTO) -> str:
    """The BlazePose backend a run uses: ``backend`` when one is named; for ``auto``,
    ``direct`` with ``--quality fast`` (the fastest pipeline: its detector and full searches
    take half the time, and its PCKh on the real dives is higher than with the solution API,
    ``bench/quality_presets.py``) and ``solution`` otherwise (the most accurate)."""
    if backend not in (*BACKENDS, AUTO):
        raise PosekitError(f"unknown BlazePose backend {backend!r}; expected one of {[*BACKENDS, AUTO]}")
    if backend != AUTO:
        return backend
    return "direct" if quality == "fast" else "solution"


def build_blazepose(backend: str = "solution") -> CropLandmarker:
    """The embedded BlazePose model that detection and pose estimation share."""
    if backend not in BACKENDS:
        raise PosekitError(f"unknown BlazePose backend {backend!r}; expected one of {list(BACKENDS)}")
    return BlazePose() if backend == "solution" else BlazePoseDirect()
