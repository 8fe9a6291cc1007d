"""Athlete tracking: nearest-neighbour association (HP-MCoRe eq. 25) + a Kalman filter.

Each frame, the previous athlete box is propagated by a constant-velocity Kalman filter
(filterpy) on box centre and size. Candidate boxes are scored by the corner distance of
HP-MCoRe eq. 25,

    dis_i = sqrt(sum_{j=1,2} (x_j^i - x_j)^2 + (y_j^i - y_j)^2),

between candidate ``i`` and the predicted box (top-left and bottom-right corners),
normalised by the predicted box diagonal, minus a weight times the detection confidence.
A candidate further than ``gate`` diagonals (widened a little with every missed frame), or
below ``min_score``, or whose area differs from the prediction's by more than ``max_area_ratio`` (implausible jump;
a spectator across the frame, a far smaller judge): the frame is a miss, and the filter's
prediction carries the box through it (its velocity halved at every miss, so a long gap does
not coast the box away). After ``max_misses`` consecutive misses the track
ends as *lost* and stays lost: an athlete who entered the water is not replaced by
someone else. The filtered boxes are finally smoothed by a Rauch-Tung-Striebel pass.

Frame status: ``tracked`` (a detection was associated), ``predicted`` (a miss inside the
tolerance; box from the filter), ``lost`` (after the track ended), ``before`` (before the
initial frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

TRACKED, PREDICTED, LOST, BEFORE = "tracked", "predicted", "lost", "before"


def corner_distance(box: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """HP-MCoRe eq. 25: Euclidean distance over both corners ``(x0, y0)`` and ``(x1, y1)``."""
    c = np.asarray(candidates, dtype=np.float64).reshape(-1, candidates.shape[-1])[:, :4]
    b = np.asarray(box, dtype=np.float64)[:4]
    return np.sqrt(((c - b) ** 2).sum(axis=1))


def box_to_z(box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = box[:4]
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dtype=np.float64)


def z_to_box(z: np.ndarray) -> np.ndarray:
    cx, cy, w, h = z[:4]
    w, h = max(w, 1.0), max(h, 1.0)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[..., 2] - b[..., 0], 1, None) * np.clip(b[..., 3] - b[..., 1], 1, None)


def box_diag(box: np.ndarray) -> float:
    return float(np.hypot(box[2] - box[0], box[3] - box[1]))


@dataclass
class TrackerConfig:
    gate: float = 0.9  # max corner distance, in predicted-box diagonals (widened by gate_growth per miss)
    gate_growth: float = 0.1
    # a candidate 4x larger or smaller than the prediction is someone else or a fit to part of the
    # body (a diver who tucks shrinks about 3x, over several frames)
    max_area_ratio: float = 6.0
    min_score: float = 0.3  # detections below are not associated
    reacquire_score: float = 0.3  # after 2+ missed frames, only a confident detection resumes the track
    score_weight: float = 0.5  # cost = distance / diagonal - score_weight * score
    miss_velocity_decay: float = 0.5
    max_misses: int = 4  # consecutive misses (detector and landmarker both failed) before the track is lost
    smooth: bool = False  # RTS smoothing of the filtered boxes (the pose is estimated online, on the raw box)
    appearance_weight: float = 0.5  # cost += weight x Bhattacharyya distance to the athlete's colour histogram
    appearance_rate: float = 0.3  # how fast the colour model follows the athlete (EMA on found frames)
    # a pose found without the detector (the temporal path, re-acquisition by the landmarker), or a detection
    # after 2+ missed frames, whose box's colours are farther than this from the athlete's (Bhattacharyya) is
    # someone else
    max_colour_distance: float = 0.7
    # a pose the landmarker finds without the detector whose torso (the layout's neck to root, graphs/) is more
    # than this times the athlete's recent torso is not the athlete (a splash, a crowd read as one body):
    # a broadcast zooms over seconds, foreshortening only shortens a torso
    max_size_ratio: float = 1.6
    widen_per_miss: float = 0.5  # the search region grows by this fraction of the box per missed frame
    compensate_camera: bool = True  # also predict the box moved with the camera (frame-to-frame registration)
    size_velocity: bool = False  # extrapolate the box size with a velocity (off: a random walk)
    min_gate_fraction: float = 0.1  # distances are in units of max(box diagonal, this x the frame diagonal)
    pos_noise: float = 0.05  # process noise (fraction of the box diagonal per frame)
    meas_noise: float = 0.05  # measurement noise (fraction of the box diagonal)


@dataclass
class TrackResult:
    boxes: np.ndarray  # (T, 4) x0, y0, x1, y1 (NaN where lost / before)
    status: list[str]
    scores: np.ndarray  # (T,) confidence of the associated detection (0 when none)
    candidates: list[int] = field(default_factory=list)  # number of candidates per frame
    how: list[str] = field(default_factory=list)  # per frame: what found the athlete (or why not)
    camera_shift: list[float] = field(default_factory=list)  # per frame: compensated camera motion, pixels
    chosen_by: str = ""  # how the athlete was chosen at the start
    poses: np.ndarray | None = None  # (T, J, 3) when an estimator ran online
    pose_info: list[dict] = field(default_factory=list)
    timing: dict = field(default_factory=dict)  # seconds: detect, pose, start (choosing the athlete)
    frame_seconds: list[float] = field(default_factory=list)  # per frame: tracking + pose

    @property
    def found(self) -> np.ndarray:
        return np.array([s == TRACKED for s in self.status])

    def has_box(self) -> np.ndarray:
        return np.array([s in (TRACKED, PREDICTED) for s in self.status])


class AthleteTracker:
    """Online single-athlete tracker; feed one frame's candidates at a time with :meth:`step`."""

    def __init__(
        self, first_box: np.ndarray, config: TrackerConfig | None = None, frame_size: tuple[int, int] | None = None
    ):
        from filterpy.kalman import KalmanFilter

        self.cfg = config or TrackerConfig()
        # a small (far, tucked) athlete moves many of its own diagonals between frames
        self.min_scale = self.cfg.min_gate_fraction * float(np.hypot(*frame_size)) if frame_size else 1.0
        first_box = np.asarray(first_box, dtype=np.float64)
        diag = box_diag(first_box)
        kf = KalmanFilter(dim_x=8, dim_z=4)
        kf.F = np.eye(8)
        kf.F[:4, 4:] = np.eye(4)
        if not self.cfg.size_velocity:  # tuck, pike and twist change the box faster than any trend
            kf.F[2:4, 6:8] = 0
        kf.H = np.zeros((4, 8))
        kf.H[:4, :4] = np.eye(4)
        kf.x = np.concatenate([box_to_z(first_box), np.zeros(4)])[:, None]
        kf.P = np.diag([1, 1, 1, 1, 25, 25, 4, 4]) * (0.1 * diag) ** 2
        kf.R = np.eye(4) * (self.cfg.meas_noise * diag) ** 2
        q = (self.cfg.pos_noise * diag) ** 2
        qs = q / 16 if self.cfg.size_velocity else q  # a random-walk size moves in the noise alone
        kf.Q = np.diag([q / 4, q / 4, qs, qs, q, q, q / 4, q / 4])
        self.kf = kf
        self.misses = 0
        self.lost = False
        self.started = False
        self.appearance: np.ndarray | None = None  # the athlete's colour histogram (EMA)
        self.sizes: list[float] = []  # the athlete's torso lengths on its last confident poses
        self._xs: list[np.ndarray] = []
        self._ps: list[np.ndarray] = []
        self._fs: list[np.ndarray] = []
        self._qs: list[np.ndarray] = []

    def predicted_box(self) -> np.ndarray:
        """Where the athlete is expected in the next frame (before :meth:`step`)."""
        if not self.started:
            return z_to_box(self.kf.x[:4, 0])
        x = self.kf.F @ self.kf.x
        return z_to_box(x[:4, 0])

    def associate(
        self,
        pred: np.ndarray,
        candidates: np.ndarray,
        appearance: np.ndarray | None = None,
        alternatives: Sequence[np.ndarray] = (),
    ) -> int | None:
        """Index of the candidate to take, or None (eq. 25 distance + confidence, gated).

        ``alternatives``: other predictions of the same box (e.g. moved with the camera);
        each candidate is measured against the nearest hypothesis.

        ``appearance`` (optional, one per candidate): the Bhattacharyya distance of the
        candidate's colour histogram to the athlete's, added to the cost with
        ``appearance_weight`` so that a spectator next to the diver loses the tie; after 2+
        missed frames a candidate farther than ``max_colour_distance`` is not taken."""
        if len(candidates) == 0:
            return None
        d = np.min(
            [corner_distance(p, candidates) / max(box_diag(p), self.min_scale) for p in (pred, *alternatives)], axis=0
        )
        scores = candidates[:, 4]
        ratio = _area(candidates[:, :4]) / _area(pred[None, :4])
        min_score = self.cfg.reacquire_score if self.misses >= 2 else self.cfg.min_score
        ok = (
            (d <= self.gate())
            & (scores >= min_score)
            & (ratio <= self.cfg.max_area_ratio)
            & (ratio >= 1 / self.cfg.max_area_ratio)
        )
        if appearance is not None and self.misses >= 2:
            # after the athlete was hidden, whoever resumes the track must have its colours (as a
            # pose the landmarker finds must): a passer-by where it was predicted does not
            ok &= np.asarray(appearance, dtype=np.float64) <= self.cfg.max_colour_distance
        if not ok.any():
            return None
        cost = d - self.cfg.score_weight * scores
        if appearance is not None:
            cost = cost + self.cfg.appearance_weight * np.asarray(appearance, dtype=np.float64)
        cost[~ok] = np.inf
        return int(np.argmin(cost))

    def update_appearance(self, hist: np.ndarray | None) -> None:
        """Follow the athlete's colour histogram (exponential moving average)."""
        if hist is None:
            return
        r = self.cfg.appearance_rate
        self.appearance = hist if self.appearance is None else (1 - r) * self.appearance + r * hist

    def someone_else(self, hist: np.ndarray) -> bool:
        """Whether a box with colour histogram ``hist`` is too far from the athlete's colours
        (``max_colour_distance``) to be the athlete; False before any colours are known."""
        return self.appearance is not None and bhattacharyya(hist, self.appearance) > self.cfg.max_colour_distance

    def update_size(self, torso: float | None, keep: int = 5) -> None:
        """Remember the athlete's torso length (pixels) from a confident pose (None: unknown)."""
        if torso is not None and torso > 0:
            self.sizes = [*self.sizes[-(keep - 1) :], float(torso)]

    def too_large(self, torso: float | None) -> bool:
        """Whether a pose with this torso length is too large to be the athlete (more than
        ``max_size_ratio`` x the median of its recent torsos); False while unknown."""
        if torso is None or not self.sizes:
            return False
        return torso > self.cfg.max_size_ratio * float(np.median(self.sizes))

    def gate(self) -> float:
        """The association gate in predicted-box diagonals (it widens with every miss)."""
        return self.cfg.gate * (1 + self.cfg.gate_growth * self.misses)

    def plausible(
        self, pred: np.ndarray, box: np.ndarray, max_ratio: float = 4.0, alternatives: Sequence[np.ndarray] = ()
    ) -> bool:
        """Whether ``box`` (e.g. from the pose's own landmarks) can be the athlete predicted at
        ``pred``: its centre within the gate, its area within ``max_ratio`` of the prediction's
        (a diver who tucks shrinks, but not to a quarter in one frame)."""
        ratio = float(_area(np.asarray(box[:4])[None])[0] / _area(np.asarray(pred[:4])[None])[0])
        if not 1 / max_ratio <= ratio <= max_ratio:
            return False
        for p in (pred, *alternatives):
            centre = float(np.hypot(*((box[:2] + box[2:4]) / 2 - (p[:2] + p[2:4]) / 2)))
            if centre / max(box_diag(p), self.min_scale) <= self.gate():
                return True
        return False

    def begin(self) -> np.ndarray:
        """Start a frame: the Kalman prediction (none on the first frame). Returns the box."""
        if self.started and not self.lost:
            self.kf.predict()
        return z_to_box(self.kf.x[:4, 0])

    def finish(self, measurement: np.ndarray | None, score: float = 0.0) -> tuple[str, np.ndarray | None, float]:
        """End a frame with the athlete's measured box (or None: a miss)."""
        if self.lost:
            return LOST, None, 0.0
        if measurement is None:
            if self.started:
                self.misses += 1
                self.kf.x[4:] *= self.cfg.miss_velocity_decay  # do not coast away on an old velocity
            if self.misses > self.cfg.max_misses:
                self.lost = True
                return LOST, None, 0.0
            status = PREDICTED
        else:
            self.kf.update(box_to_z(np.asarray(measurement, dtype=np.float64))[:, None])
            self.misses = 0
            status = TRACKED
        self.started = True
        self._xs.append(self.kf.x.copy())
        self._ps.append(self.kf.P.copy())
        self._fs.append(self.kf.F.copy())
        self._qs.append(self.kf.Q.copy())
        return status, z_to_box(self.kf.x[:4, 0]), float(score) if measurement is not None else 0.0

    def step(self, candidates: np.ndarray) -> tuple[str, np.ndarray | None, float]:
        """Advance one frame on detections alone; returns (status, box, associated score)."""
        if self.lost:
            return LOST, None, 0.0
        candidates = np.asarray(candidates, dtype=np.float64).reshape(-1, 5)
        pred = self.begin()
        i = self.associate(pred, candidates)
        if i is None:
            return self.finish(None)
        return self.finish(candidates[i, :4], float(candidates[i, 4]))

    def smoothed_boxes(self) -> np.ndarray:
        """RTS-smoothed boxes of every step taken so far (``(n, 4)``)."""
        if not self._xs:
            return np.zeros((0, 4))
        xs, ps = np.array(self._xs), np.array(self._ps)
        if len(xs) > 1:
            xs, _, _, _ = self.kf.rts_smoother(xs, ps, Fs=np.array(self._fs), Qs=np.array(self._qs))
        return np.array([z_to_box(x[:4, 0]) for x in xs])


def choose_initial_box(
    detections: Sequence[np.ndarray], gate: float = 1.2, min_score: float = 0.3
) -> tuple[int, np.ndarray] | None:
    """Automatic initialisation: the most confident, most moving person.

    Candidates of the first frames are linked frame to frame by nearest corner distance
    (eq. 25, gated); each chain scores ``mean confidence x (1 + motion)`` with motion the
    path length of its centre in box diagonals. Returns ``(frame, detection)`` of the best
    chain's first detection (``x0, y0, x1, y1, score``), or None when no frame has one.
    """
    best: tuple[float, int, np.ndarray] | None = None
    for t0, dets in enumerate(detections):
        for d in np.asarray(dets).reshape(-1, 5):
            if d[4] < min_score:
                continue
            chain, cur = [d], d
            for nxt in detections[t0 + 1 :]:
                nxt = np.asarray(nxt).reshape(-1, 5)
                nxt = nxt[nxt[:, 4] >= min_score]
                if not len(nxt):
                    break
                dist = corner_distance(cur, nxt) / max(box_diag(cur), 1.0)
                j = int(np.argmin(dist))
                if dist[j] > gate:
                    break
                cur = nxt[j]
                chain.append(cur)
            c = np.array(chain)
            centres = (c[:, :2] + c[:, 2:4]) / 2
            motion = float(np.linalg.norm(np.diff(centres, axis=0), axis=1).sum() / max(box_diag(c[0]), 1.0))
            value = float(c[:, 4].mean()) * (1 + motion) * min(len(c), 3) / 3
            if best is None or value > best[0]:
                best = (value, t0, d)
    if best is None:
        return None
    return best[1], np.asarray(best[2], np.float64)


def choose_single_frame(dets: np.ndarray, frame_size: tuple[int, int], min_score: float = 0.3) -> np.ndarray | None:
    """The athlete of a single frame (no motion to go by): the person maximising
    ``confidence x sqrt(box area / frame area) x centrality``, centrality being
    ``1 - distance of the box centre to the frame centre / half the frame diagonal``: a
    broadcast frames the athlete large and central, spectators and judges small and aside."""
    d = np.asarray(dets, dtype=np.float64).reshape(-1, 5)
    d = d[d[:, 4] >= min_score]
    if not len(d):
        return None
    w, h = frame_size
    area = np.sqrt(_area(d[:, :4]) / float(w * h))
    centre = (d[:, :2] + d[:, 2:4]) / 2
    central = 1 - np.hypot(centre[:, 0] - w / 2, centre[:, 1] - h / 2) / (np.hypot(w, h) / 2)
    return d[int(np.argmax(d[:, 4] * area * np.clip(central, 0.05, 1)))]


def camera_motion(prev: np.ndarray, cur: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Global frame-to-frame registration: the 2x3 similarity taking ``prev``'s pixels to
    ``cur``'s, from Shi-Tomasi corners tracked by pyramidal Lucas-Kanade and a RANSAC fit
    (OpenCV), the athlete's box ``exclude`` left out. The identity when too little texture
    is found. Broadcast cameras pan and zoom with the diver; the tracker moves its state with
    this before the Kalman prediction."""
    import cv2

    eye = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    g0 = cv2.cvtColor(prev, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(cur, cv2.COLOR_RGB2GRAY)
    if g0.shape != g1.shape:
        return eye
    mask = np.full(g0.shape, 255, np.uint8)
    if exclude is not None and np.isfinite(exclude[:4]).all():
        x0, y0, x1, y1 = (int(round(v)) for v in exclude[:4])
        mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 0
    pts = cv2.goodFeaturesToTrack(g0, maxCorners=300, qualityLevel=0.01, minDistance=8, mask=mask)
    if pts is None or len(pts) < 12:
        return eye
    nxt, ok, _ = cv2.calcOpticalFlowPyrLK(g0, g1, pts, None, winSize=(21, 21), maxLevel=3)
    ok = ok.reshape(-1).astype(bool)
    if ok.sum() < 12:
        return eye
    a, inliers = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if a is None or inliers is None or inliers.sum() < 10:
        return eye
    return a.astype(np.float64)


def colour_histogram(frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Normalised hue-saturation histogram (16 x 8 bins) of the inner 60 % of ``box``."""
    import cv2

    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box[:4]
    cx, cy, bw, bh = (x0 + x1) / 2, (y0 + y1) / 2, 0.3 * (x1 - x0), 0.3 * (y1 - y0)
    xa, xb = int(max(cx - bw, 0)), int(min(cx + bw, w))
    ya, yb = int(max(cy - bh, 0)), int(min(cy + bh, h))
    if xb - xa < 2 or yb - ya < 2:
        return None
    hsv = cv2.cvtColor(np.ascontiguousarray(frame[ya:yb, xa:xb]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1e-9)


def bhattacharyya(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Bhattacharyya distance of two histograms (OpenCV ``HISTCMP_BHATTACHARYYA``: 0 =
    identical, 1 = disjoint); 0.5 when either is unknown."""
    if a is None or b is None:
        return 0.5
    import cv2

    return float(cv2.compareHist(a.astype(np.float32), b.astype(np.float32), cv2.HISTCMP_BHATTACHARYYA))
