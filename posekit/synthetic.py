"""A benchmark with known answers: diving-like skeleton sequences whose score is a known
function of injected flaws, plus matching synthetic "RGB feature" tracks.

Every dive has three physical stages (take-off, flight, entry) of random lengths, drawn
in MPII-16 from a 2D stick figure (forward kinematics of trunk, hip/knee and shoulder/elbow
angles). The flight is a somersault (1.5, 2.5 or 3.5 turns) in tuck (C), pike (B) or
straight (A) position, so the dive number is ``1 0 <half turns> <position>`` like FINA's
forward group and the degree of difficulty (DD) follows from it.

Injected flaws (severity in [0, 1], each present with probability ``flaw_rate``):

=================  ========  ==================================================  ===========
flaw               stage     what changes                                        seen by
=================  ========  ==================================================  ===========
``bent_knees``     flight    knees bend in pike / straight (not in tuck)         skeleton
``legs_apart``     flight    left and right legs scissor apart                   skeleton
``arm_timing``     take-off  the arm swing starts late                           skeleton
``entry_angle``    entry     the body enters off vertical                        both
``splash``         entry     splash size (no joint moves)                        RGB only
=================  ========  ==================================================  ===========

Each judge gives ``execution + N(0, judge_noise)`` rounded to half points, the two highest
and two lowest are dropped and ``score = DD * sum(middle three)`` (FINA's rule for seven
judges). ``execution = 9.5 - sum(weight * severity)``. The ground truth of every dive
records its noise-free score and the penalty of each flaw in score points, split per stage,
per joint and per frame (over the frames of its stage), so an explanation can be checked
against it. The joints that carry a flaw are measured, not assumed: the generator renders
the same dive without the flaw and spreads the penalty over the joints in proportion to how
far the flaw moves them while they are visible (``penalties["moved_joints"]``). ``FLAWS``'
``joints`` name the body part a flaw acts on; for a whole-body flaw they differ from the
measured ones (a tilted entry rotates the body about the pelvis: the ankles and knees,
above the water, move most; head and thorax are under water for most of the entry).

Pose extraction artefacts are simulated: joints under the water line at entry are missing
(confidence 0), random joints drop out, confidences vary and coordinates jitter.

The RGB features are random but fixed projections (``feature_seed``) of a per-frame scene
descriptor (stage, body orientation, height, body extent, splash) plus noise: ``static``
``(T, D_s)`` per frame (like ResNet-50 features) and ``dynamic`` ``(num_clips, D_d)`` per
clip (like I3D features of overlapping clips).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io import atomic_write
from posekit.skeleton import SkeletonSequence

STAGES = ("take-off", "flight", "entry")
POSITIONS = {"C": "tuck", "B": "pike", "A": "straight"}
FLAWS: dict[str, dict[str, Any]] = {
    "bent_knees": {"stage": 1, "weight": 2.0, "joints": ["r_ankle", "r_knee", "l_knee", "l_ankle"], "visual": False},
    "legs_apart": {"stage": 1, "weight": 1.5, "joints": ["r_ankle", "r_knee", "l_knee", "l_ankle"], "visual": False},
    "arm_timing": {"stage": 0, "weight": 1.0, "joints": ["r_wrist", "r_elbow", "l_elbow", "l_wrist"], "visual": False},
    "entry_angle": {
        "stage": 2,
        "weight": 2.0,
        "joints": ["r_hip", "l_hip", "pelvis", "thorax", "upper_neck", "head_top"],
        "visual": True,
    },
    "splash": {"stage": 2, "weight": 2.5, "joints": [], "visual": True},
}
BASE_EXECUTION = 9.5
MOVED_FRACTION = 0.25  # a joint carries a flaw when moved >= this share of the most-moved joint
FRAME_W, FRAME_H, WATER_Y, UNIT = 455.0, 256.0, 236.0, 26.0
JOINTS = (
    "r_ankle r_knee r_hip l_hip l_knee l_ankle pelvis thorax upper_neck head_top "
    "r_wrist r_elbow r_shoulder l_shoulder l_elbow l_wrist"
).split()
J = {n: i for i, n in enumerate(JOINTS)}


def difficulty_of(dive_number: str) -> float:
    """DD of a forward dive ``10<half turns><position>`` (a simple monotone table)."""
    half = int(dive_number[2])
    pos = dive_number[3]
    return round(1.2 + 0.3 * (half - 1) + {"C": 0.0, "B": 0.1, "A": 0.2}[pos], 1)


@dataclass
class SyntheticDive:
    """One generated dive with its known answers."""

    key: tuple[str, int]
    skeleton: SkeletonSequence
    static: np.ndarray  # (T, D_s) float32
    dynamic: np.ndarray  # (num_clips, D_d) float32
    boundaries: np.ndarray  # (2,) last frame of take-off and of flight
    score: float  # judged score (with judge noise)
    true_score: float  # noise-free score, 3 * DD * execution
    difficulty: float
    dive_number: str
    judge_scores: list[float]
    flaws: dict[str, float]  # severity per flaw
    penalties: dict[str, Any] = field(default_factory=dict)

    @property
    def stage_labels(self) -> np.ndarray:
        return np.searchsorted(self.boundaries, np.arange(self.skeleton.num_frames), side="left")


def _smooth(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3 - 2 * s)


def _pose_frame(
    pelvis: np.ndarray, theta: float, hip: tuple[float, float], knee: tuple[float, float], arm: float, elbow: float
) -> np.ndarray:
    """MPII-16 joint positions (pixels) of one frame by 2D forward kinematics.

    ``theta`` is the trunk angle (0 upright, pi upside down, clockwise on screen);
    ``hip``/``knee`` are (right, left) flexions; ``arm`` swings from down (0) to overhead (pi).
    """
    up = np.array([np.sin(theta), -np.cos(theta)])
    front = np.array([np.cos(theta), np.sin(theta)])
    side = 0.07 * front  # depth cue between the right (near) and left (far) side
    u = UNIT
    out = np.zeros((16, 2))
    out[J["pelvis"]] = pelvis
    out[J["thorax"]] = pelvis + 1.0 * u * up
    out[J["upper_neck"]] = out[J["thorax"]] + 0.2 * u * up
    out[J["head_top"]] = out[J["upper_neck"]] + 0.38 * u * up
    for s, sign, (h, kn) in (("r", 1.0, (hip[0], knee[0])), ("l", -1.0, (hip[1], knee[1]))):
        hp = pelvis + sign * side * u - 0.05 * u * up
        out[J[f"{s}_hip"]] = hp
        d_thigh = np.cos(h) * (-up) + np.sin(h) * front
        out[J[f"{s}_knee"]] = hp + 0.75 * u * d_thigh
        d_shin = np.cos(h - kn) * (-up) + np.sin(h - kn) * front
        out[J[f"{s}_ankle"]] = out[J[f"{s}_knee"]] + 0.75 * u * d_shin
        sh = out[J["thorax"]] + sign * side * u - 0.08 * u * up
        out[J[f"{s}_shoulder"]] = sh
        a = arm + (0.05 if s == "l" else 0.0)
        d_up = np.cos(a) * (-up) + np.sin(a) * front
        out[J[f"{s}_elbow"]] = sh + 0.5 * u * d_up
        d_fore = np.cos(a + elbow) * (-up) + np.sin(a + elbow) * front
        out[J[f"{s}_wrist"]] = out[J[f"{s}_elbow"]] + 0.45 * u * d_fore
    return out


def _trajectory(
    flaws: dict[str, float],
    *,
    stage: np.ndarray,
    phase: np.ndarray,
    board: np.ndarray,
    water_x: float,
    pos: str,
    half: int,
    entry_sign: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free joint positions ``(T, 16, 2)`` and trunk angle ``(T,)`` of one dive.

    Deterministic in its arguments, so the generator can render the same dive with one
    flaw removed and measure which joints the flaw actually moves.
    """
    T = len(stage)
    lean = 0.35
    tuck_hip, tuck_knee = (2.3, 2.4) if pos == "C" else ((2.4, 0.0) if pos == "B" else (0.15, 0.0))
    arm_shape = {"C": (0.9, 1.4), "B": (1.3, 0.2), "A": (0.3, 0.1)}[pos]
    entry_err = flaws["entry_angle"] * 0.7 * entry_sign
    theta_end = half * np.pi
    pts = np.zeros((T, 16, 2))
    theta = np.zeros(T)
    for t in range(T):
        s = phase[t]
        if stage[t] == 0:
            pel = board + np.array([8 * s, 6 * np.sin(np.pi * s) - 4 * s])
            th = lean * s
            dip = np.sin(np.pi * s)
            hip = (0.4 * dip, 0.4 * dip)
            knee = (0.9 * dip, 0.9 * dip)
            delay = 0.55 * flaws["arm_timing"]
            arm = np.pi * float(_smooth(np.array((s - delay) / max(1e-6, 1 - delay))))
            elbow = 0.2
        elif stage[t] == 1:
            start = board + np.array([8, -4])
            end = np.array([water_x, WATER_Y - 2.6 * UNIT])
            pel = start + (end - start) * s + np.array([0, -70 * 4 * s * (1 - s)])
            th = lean + (theta_end - lean) * float(_smooth(np.array(s)))
            open_ = float(_smooth(np.array((s - 0.8) / 0.2)))  # opening before the entry
            close = float(_smooth(np.array(s / 0.15)))
            shape = close * (1 - open_)
            bent = flaws["bent_knees"] * 1.1
            apart = flaws["legs_apart"] * 0.6
            h, kn = tuck_hip * shape, (tuck_knee + bent) * shape
            hip = (h + apart * shape, h - apart * shape)
            knee = (kn, kn)
            arm = np.pi * (1 - close) + arm_shape[0] * shape + np.pi * open_ * (1 - shape)
            arm = float(np.clip(arm, 0, np.pi)) if shape > 0.05 else np.pi
            elbow = arm_shape[1] * shape
        else:
            start = np.array([water_x, WATER_Y - 2.6 * UNIT])
            pel = start + np.array([np.sin(entry_err) * 40 * s, 95 * s])
            th = theta_end + entry_err * float(_smooth(np.array(s / 0.3)))
            hip = (0.0, 0.0)
            knee = (0.0, 0.0)
            arm, elbow = np.pi, 0.0
        theta[t] = th
        pts[t] = _pose_frame(pel, th, hip, knee, arm, elbow)
    return pts, theta


class DiveGenerator:
    """Generates :class:`SyntheticDive` s; the same ``seed`` gives the same dives."""

    def __init__(
        self,
        num_frames: int = 48,
        num_clips: int = 9,
        static_dim: int = 64,
        dynamic_dim: int = 64,
        flaw_rate: float = 0.6,
        judge_noise: float = 0.3,
        dropout: float = 0.03,
        feature_noise: float = 0.3,
        feature_seed: int = 0,
        stage_fractions: tuple[tuple[float, float], tuple[float, float]] = ((0.2, 0.32), (0.16, 0.26)),
    ):
        """``stage_fractions``: the ranges the take-off's and the entry's share of the clip
        are drawn from (wider ranges: stage durations that vary more between dives)."""
        if num_frames < 12:
            raise ValueError(f"num_frames must be >= 12 (three stages of at least 4 frames), got {num_frames}")
        self.T, self.num_clips = int(num_frames), int(num_clips)
        self.flaw_rate, self.judge_noise, self.dropout = flaw_rate, judge_noise, dropout
        self.feature_noise = feature_noise
        (a0, a1), (c0, c1) = stage_fractions
        if not (0 < a0 <= a1 and 0 < c0 <= c1 and a1 + c1 < 0.9):
            raise ValueError(f"stage_fractions {stage_fractions}: need 0 < lo <= hi and take-off + entry < 0.9")
        self.stage_fractions = ((float(a0), float(a1)), (float(c0), float(c1)))
        frng = np.random.default_rng([feature_seed, 7])
        self.desc_dim = 10
        self.W_static = frng.normal(0, 1.0, (self.desc_dim, static_dim)) / np.sqrt(self.desc_dim)
        self.W_dynamic = frng.normal(0, 1.0, (self.desc_dim + 2, dynamic_dim)) / np.sqrt(self.desc_dim + 2)

    # ------------------------------------------------------------------ one dive
    def dive(
        self,
        index: int,
        seed: int = 0,
        split: str = "synthetic",
        flaws: dict[str, float] | None = None,
        dive_number: str | None = None,
    ) -> SyntheticDive:
        """One dive. ``flaws`` (severity per flaw, missing ones 0) and ``dive_number``
        override the random draw - for controlled explanation benchmarks."""
        rng = np.random.default_rng([seed, index])
        T = self.T
        half = int(rng.choice([3, 5, 7]))
        pos = str(rng.choice(["C", "B", "A"]))
        if dive_number is not None:
            if (
                len(dive_number) != 4
                or dive_number[:2] != "10"
                or dive_number[2] not in "357"
                or dive_number[3] not in POSITIONS
            ):
                raise ValueError(f"dive number {dive_number!r}: expected 10<3|5|7><A|B|C>")
            half, pos = int(dive_number[2]), dive_number[3]
        dn = f"10{half}{pos}"
        dd = difficulty_of(dn)
        drawn = {n: (float(rng.uniform(0.1, 1.0)) if rng.random() < self.flaw_rate else 0.0) for n in FLAWS}
        if flaws is not None:
            unknown = set(flaws) - set(FLAWS)
            if unknown:
                raise ValueError(f"unknown flaw(s) {sorted(unknown)}; expected some of {list(FLAWS)}")
            drawn = {n: float(flaws.get(n, 0.0)) for n in FLAWS}
        flaws = drawn
        if pos == "C":
            flaws["bent_knees"] = 0.0  # knees are meant to bend in tuck
        # stage lengths
        f0 = rng.uniform(*self.stage_fractions[0])
        f2 = rng.uniform(*self.stage_fractions[1])
        b0 = int(round(f0 * T)) - 1
        b1 = int(round((1 - f2) * T)) - 1
        boundaries = np.array([b0, b1], dtype=np.int64)
        stage = np.searchsorted(boundaries, np.arange(T), side="left")
        phase = np.zeros(T)
        for k, (lo, hi) in enumerate(((0, b0), (b0 + 1, b1), (b1 + 1, T - 1))):
            n = hi - lo + 1
            phase[lo : hi + 1] = np.linspace(0, 1, n) if n > 1 else 0.0
            assert (stage[lo : hi + 1] == k).all()

        # trajectory of the pelvis: board, ballistic flight, entry into the water
        board = np.array([rng.uniform(70, 110), rng.uniform(95, 120)])
        water_x = board[0] + rng.uniform(70, 130)
        entry_sign = float(rng.choice([-1.0, 1.0]))
        path = {"stage": stage, "phase": phase, "board": board, "water_x": water_x, "pos": pos, "half": half}
        pts, theta = _trajectory(flaws, entry_sign=entry_sign, **path)
        # how far each flaw moves each joint: the same dive rendered without that flaw
        moves = {
            n: np.linalg.norm(pts - _trajectory({**flaws, n: 0.0}, entry_sign=entry_sign, **path)[0], axis=-1)
            for n in FLAWS
            if flaws[n] > 0
        }
        pts += rng.normal(0, 1.0, pts.shape)
        conf = rng.uniform(0.55, 1.0, (T, 16))
        conf[pts[..., 1] > WATER_Y] = 0.0  # under water: the pose estimator finds nothing
        conf[rng.random((T, 16)) < self.dropout] = 0.0
        data = np.concatenate([pts, conf[..., None]], axis=2).astype(np.float32)
        data[conf == 0, :2] = 0.0
        skel = SkeletonSequence(data=data, layout="mpii16", fps=25.0, meta={"source": f"synthetic:{split}:{index}"})

        # judging
        deduction = {n: FLAWS[n]["weight"] * flaws[n] for n in FLAWS}
        execution = BASE_EXECUTION - sum(deduction.values())
        judges = np.clip(np.round(2 * (execution + rng.normal(0, self.judge_noise, 7))) / 2, 0, 10)
        mid = np.sort(judges)[2:5]
        score = float(dd * mid.sum())
        true_score = float(3 * dd * execution)

        penalties = self._penalties(deduction, dd, stage, moves, conf > 0)
        static, dynamic = self._features(rng, stage, phase, theta, pts, conf, flaws["splash"])
        return SyntheticDive(
            key=(split, index),
            skeleton=skel,
            static=static,
            dynamic=dynamic,
            boundaries=boundaries,
            score=score,
            true_score=true_score,
            difficulty=dd,
            dive_number=dn,
            judge_scores=[float(x) for x in judges],
            flaws=flaws,
            penalties=penalties,
        )

    def _penalties(
        self,
        deduction: dict[str, float],
        dd: float,
        stage: np.ndarray,
        moves: dict[str, np.ndarray],
        visible: np.ndarray,
    ) -> dict[str, Any]:
        """Score points lost per flaw, split per stage, per frame (evenly over the flaw's
        stage) and per joint: over the joints the flaw moves, in proportion to how far it
        moves each one (pixels summed over the frames of its stage where the joint is
        visible), measured against the same dive rendered without the flaw. ``moved_joints``
        lists, per flaw, the joints moved by at least ``MOVED_FRACTION`` of the most-moved
        one: the joints that carry the flaw in the input an explanation sees."""
        T = len(stage)
        by_flaw = {n: 3 * dd * d for n, d in deduction.items()}
        per_stage = np.zeros(3)
        per_joint = np.zeros(16)
        per_frame = np.zeros(T)
        moved_joints: dict[str, list[str]] = {}
        for n, pts in by_flaw.items():
            spec = FLAWS[n]
            frames = np.nonzero(stage == spec["stage"])[0]
            per_stage[spec["stage"]] += pts
            per_frame[frames] += pts / max(1, len(frames))
            if spec["joints"] and n in moves:
                motion = (moves[n] * visible)[frames].sum(axis=0)
                if motion.max() <= 1e-6:  # nothing visible moved: the body part the flaw acts on
                    motion = np.isin(np.arange(16), [J[j] for j in spec["joints"]]).astype(float)
                per_joint += pts * motion / motion.sum()
                moved_joints[n] = [JOINTS[j] for j in np.nonzero(motion >= MOVED_FRACTION * motion.max())[0]]
        return {
            "by_flaw": by_flaw,
            "stage": per_stage,
            "joint": per_joint,
            "frame": per_frame,
            "visual_only": by_flaw["splash"],
            "moved_joints": moved_joints,
        }

    def _features(
        self,
        rng: np.random.Generator,
        stage: np.ndarray,
        phase: np.ndarray,
        theta: np.ndarray,
        pts: np.ndarray,
        conf: np.ndarray,
        splash: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        T = len(stage)
        from scipy.ndimage import gaussian_filter1d

        desc = np.zeros((T, self.desc_dim))
        onehot = np.eye(3)[stage]
        desc[:, :3] = gaussian_filter1d(onehot, sigma=max(1.0, T / 24), axis=0)  # board / air / water in view
        desc[:, 3] = np.sin(theta)
        desc[:, 4] = np.cos(theta)
        vis = conf > 0
        for t in range(T):
            p = pts[t][vis[t]] if vis[t].any() else pts[t]
            desc[t, 5] = (p[:, 1].mean() - FRAME_H / 2) / FRAME_H * 4
            desc[t, 6] = np.ptp(p, axis=0).max() / (3 * UNIT)
        entry = (stage == 2).astype(float)
        desc[:, 7] = 3.0 * splash * entry * _smooth(phase / 0.4)  # the splash grows after the entry
        desc[:, 8] = np.gradient(theta) * 3  # rotation speed
        desc[:, 9] = 1.0
        static = np.tanh(desc @ self.W_static) + rng.normal(0, self.feature_noise, (T, self.W_static.shape[1]))
        # overlapping clips (like I3D over 16-frame windows) with their mean motion
        starts = np.linspace(0, max(0, T - T // 4), self.num_clips).astype(int)
        win = max(2, T // 4)
        vel = np.abs(np.gradient(theta))
        clips = []
        for s0 in starts:
            sl = slice(s0, min(T, s0 + win))
            m = desc[sl].mean(axis=0)
            clips.append(np.concatenate([m, [vel[sl].mean() * 3, desc[sl, 5].std() * 3]]))
        dynamic = np.tanh(np.asarray(clips) @ self.W_dynamic) + rng.normal(
            0, self.feature_noise, (self.num_clips, self.W_dynamic.shape[1])
        )
        return static.astype(np.float32), dynamic.astype(np.float32)

    def dataset(self, n: int, seed: int = 0, split: str = "synthetic") -> list[SyntheticDive]:
        return [self.dive(i, seed=seed, split=split) for i in range(n)]


def make_dives(n: int, seed: int = 0, split: str = "synthetic", **kwargs: Any) -> list[SyntheticDive]:
    """``n`` dives of a :class:`DiveGenerator` built with ``kwargs``."""
    return DiveGenerator(**kwargs).dataset(n, seed=seed, split=split)


# ---------------------------------------------------------------------- on disk
def write_finediving_layout(
    root: str | Path, splits: dict[str, Sequence[SyntheticDive]], video_prefix: str = "SYN"
) -> Path:
    """Write dives as a FineDiving-layout dataset (the layout ``posekit train`` reads)::

    root/annotations/FineDiving_coarse_annotation.pkl, FineDiving_fine-grained_annotation.pkl,
                     Sub_action_Types_Table.pkl, train_split.pkl, test_split.pkl
    root/pose/<video>/<idx>.npz            SkeletonSequence
    root/features/dynamic/<video>/<idx>.npy
    root/features/static/<video>/<idx>.npy
    root/ground_truth/<video>/<idx>.json   the known penalties
    """
    from posekit.io import write_json

    root = Path(root)
    coarse: dict[tuple[str, int], dict[str, Any]] = {}
    fine: dict[tuple[str, int], dict[str, Any]] = {}
    split_keys: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    sub_names = {1: "take-off", 2: "somersault", 3: "entry"}
    counter = 0
    for split, dives in splits.items():
        if split not in split_keys:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        for d in dives:
            key = (f"{video_prefix}{counter // 20:02d}", counter % 20)
            counter += 1
            T = d.skeleton.num_frames
            coarse[key] = {
                "action_type": d.dive_number,
                "start_frame": 0,
                "end_frame": T - 1,
                "dive_score": d.score,
                "difficulty": d.difficulty,
                "judge_scores": list(d.judge_scores),
            }
            labels = (d.stage_labels + 1).astype(int).tolist()
            fine[key] = {
                "action_type": d.dive_number,
                "dive_score": d.score,
                "difficulty": d.difficulty,
                "steps_transit_frames": [int(b) for b in d.boundaries],
                "frames_labels": labels,
                "sub-action_types": sub_names,
            }
            split_keys[split].append(key)
            vid, idx = key
            d.skeleton.save(root / "pose" / vid / f"{idx}.npz")
            for kind, arr in (("dynamic", d.dynamic), ("static", d.static)):
                p = root / "features" / kind / vid / f"{idx}.npy"
                p.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(p, lambda f, a=arr: np.save(f, a))
            write_json(
                root / "ground_truth" / vid / f"{idx}.json",
                {"true_score": d.true_score, "flaws": d.flaws, "penalties": d.penalties, "source": list(d.key)},
            )
    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    for name, obj in (
        ("FineDiving_coarse_annotation.pkl", coarse),
        ("FineDiving_fine-grained_annotation.pkl", fine),
        ("Sub_action_Types_Table.pkl", sub_names),
        ("train_split.pkl", split_keys["train"]),
        ("test_split.pkl", split_keys["test"]),
    ):
        atomic_write(ann / name, lambda f, o=obj: pickle.dump(o, f, protocol=4))
    return root


__all__ = [
    "FLAWS",
    "STAGES",
    "DiveGenerator",
    "SyntheticDive",
    "difficulty_of",
    "make_dives",
    "write_finediving_layout",
]
