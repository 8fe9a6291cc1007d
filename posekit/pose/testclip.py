"""Generated clips with known tracks, made from real photographs of people that an installed
package ships (scikit-image's astronaut and cameraman), so the default estimator sees real
humans: the athlete (astronaut) moves along a flight arc and rotates like a somersault;
upright distractors (cameraman) cross the frame; the athlete can be hidden for some frames.

Used by the tracking tests and benchmark, and by ``posekit demo`` when no real clip exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from posekit.pose.video import Clip


@dataclass
class TestClip:
    clip: Clip
    athlete_boxes: np.ndarray  # (T, 4); NaN where the athlete is hidden
    distractor_boxes: list[np.ndarray] = field(default_factory=list)  # each (T, 4)


def _person_images() -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    astro = data.astronaut()[20:512, 60:460]  # the astronaut, head to waist
    cam = data.camera()[40:480, 170:380]  # the cameraman, standing
    return astro, np.repeat(cam[..., None], 3, axis=2)


def _paste(canvas: np.ndarray, img: np.ndarray, cx: float, cy: float, height: float, angle: float) -> np.ndarray:
    """Paste ``img`` scaled to ``height``, rotated by ``angle`` about its centre; returns its box."""
    h, w = img.shape[:2]
    s = height / h
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, s)
    m[0, 2] += cx - w / 2
    m[1, 2] += cy - h / 2
    H, W = canvas.shape[:2]
    warped = cv2.warpAffine(img, m, (W, H))
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (W, H)) > 127
    canvas[mask] = warped[mask]
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], float) @ m[:, :2].T + m[:, 2]
    x0, y0 = corners.min(0)
    x1, y1 = corners.max(0)
    return np.array([max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)])


def make_tracking_clip(
    T: int = 24,
    size: tuple[int, int] = (480, 320),
    distractors: int = 2,
    hidden: tuple[int, int] | None = (12, 14),
    rotate: float = 120.0,
    seed: int = 0,
    pan: float = 0.0,
) -> TestClip:
    """An athlete on a parabolic path, rotating by ``rotate`` degrees over the clip, hidden in
    frames ``hidden[0] .. hidden[1]`` (inclusive); ``distractors`` upright people crossing.

    ``pan`` (pixels per frame): the camera pans with the athlete, as a broadcast does - the
    background (with stands drawn on it) and the distractors slide across the frame while the
    athlete keeps the same path in the image."""
    rng = np.random.default_rng(seed)
    W, H = size
    astro, cam = _person_images()
    WW = W + int(np.ceil(abs(pan) * T)) + 1
    background = _world_background(WW, H, rng)
    frames, ath = [], np.full((T, 4), np.nan)
    dis = [np.full((T, 4), np.nan) for _ in range(distractors)]
    starts = [(W * (0.9 - 0.5 * k), W * (0.1 + 0.5 * k)) for k in range(distractors)]
    base = 0 if pan >= 0 else WW - W
    for t in range(T):
        u = t / max(T - 1, 1)
        ox = int(round(base + pan * t))  # the camera's left edge in the world
        world = background.copy()
        for k in range(distractors):
            x = starts[k][0] + (starts[k][1] - starts[k][0]) * u  # walking, in the world
            dis[k][t] = _paste(world, cam, x + base, H * (0.8 + 0.06 * k), H * 0.3, 0.0) - [ox, 0, ox, 0]
        if hidden is None or not hidden[0] <= t <= hidden[1]:
            cx = W * (0.2 + 0.6 * u) + ox  # the camera follows the athlete
            cy = H * (0.65 - 1.2 * u * (1 - u))
            ath[t] = _paste(world, astro, cx, cy, H * 0.42, rotate * u) - [ox, 0, ox, 0]
        frames.append(np.ascontiguousarray(world[:, ox : ox + W]))
    for b in [ath, *dis]:
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, W)
    clip = Clip(frames, np.arange(T), 10.0, "generated:astronaut+cameraman", {"seed": seed, "pan": pan})
    return TestClip(clip, ath, dis)


def _world_background(W: int, H: int, rng: np.random.Generator) -> np.ndarray:
    """A gradient with noise and rows of coloured blocks (stands): texture a pan can be seen on."""
    yy, xx = np.mgrid[0:H, 0:W]
    background = np.stack([40 + 30 * yy / H, 90 + 60 * yy / H, 150 + 80 * (xx % 480) / 480], -1)
    background = background + rng.normal(0, 6, (H, W, 3))
    for _ in range(W // 12):
        x, y = int(rng.integers(0, W - 8)), int(rng.integers(0, H // 3))
        background[y : y + 6, x : x + 8] = rng.integers(0, 255, 3)
    return background.clip(0, 255).astype(np.uint8)


def tracking_scores(boxes: np.ndarray, status: list[str], truth: TestClip) -> dict[str, float]:
    """Athlete recall (visible frames whose track box centre lies in the athlete's box), ID
    switches (the track box moving onto a distractor), and false frames (a box while hidden)."""
    centres = (boxes[:, :2] + boxes[:, 2:4]) / 2
    visible = np.isfinite(truth.athlete_boxes).all(1)

    def inside(c: np.ndarray, b: np.ndarray) -> bool:
        return bool(np.isfinite(b).all() and np.isfinite(c).all() and b[0] <= c[0] <= b[2] and b[1] <= c[1] <= b[3])

    on_athlete = np.array([inside(centres[t], truth.athlete_boxes[t]) for t in range(len(boxes))])
    on_distractor = np.array(
        [any(inside(centres[t], d[t]) for d in truth.distractor_boxes) and not on_athlete[t] for t in range(len(boxes))]
    )
    switches = int(np.sum(on_distractor[1:] & ~on_distractor[:-1]))
    return {
        "recall": float(on_athlete[visible].mean()) if visible.any() else float("nan"),
        "id_switches": switches,
        "frames_on_distractor": int(on_distractor.sum()),
        "visible_frames": int(visible.sum()),
    }
