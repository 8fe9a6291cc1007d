"""Review between two annotators: per-keypoint distance normalised by head size, the frames
above a threshold listed for a second look, and agreement (PCKh of one set against the other)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphs import get_layout
from posekit import metrics
from posekit.errors import AnnotationError
from posekit.labels import KeypointLabel, read_any


@dataclass
class ReviewReport:
    images: int
    agreement_pckh: dict[str, float]  # {"0.5": ..., "0.2": ...}
    per_joint_pckh: dict[str, float]
    mean_normalised_distance: dict[str, float]
    flagged: list[dict]  # frames whose worst joint exceeds the threshold

    def to_dict(self) -> dict:
        return self.__dict__

    def to_text(self) -> str:
        lines = [
            f"{self.images} image(s) labelled by both annotators",
            "agreement " + ", ".join(f"PCKh@{a} {v:.3f}" for a, v in self.agreement_pckh.items()),
        ]
        worst = sorted(self.mean_normalised_distance.items(), key=lambda kv: -kv[1])[:5]
        lines.append("largest mean disagreement (head sizes): " + ", ".join(f"{j} {v:.2f}" for j, v in worst))
        lines.append(f"{len(self.flagged)} frame(s) for a second look:")
        for f in self.flagged:
            lines.append(f"  {f['image']}: " + ", ".join(f"{j} {d:.2f}" for j, d in f["joints"].items()))
        return "\n".join(lines)


def review(
    a: list[KeypointLabel] | str | Path,
    b: list[KeypointLabel] | str | Path,
    threshold: float = 0.5,
    layout: str = "mpii16",
) -> ReviewReport:
    """Compare two label sets (matched by image name). ``threshold`` in head sizes."""
    la = read_any(a, layout) if not isinstance(a, list) else a
    lb = read_any(b, layout) if not isinstance(b, list) else b
    lay = get_layout(layout)
    if not lay.head:
        raise AnnotationError(f"layout {layout} has no head segment to normalise distances")
    by_name = {x.image: x for x in lb}
    pairs = [(x, by_name[x.image]) for x in la if x.image in by_name]
    if not pairs:
        raise AnnotationError("the two label sets share no image")
    A = np.array([p[0].joints for p in pairs])
    B = np.array([p[1].joints for p in pairs])
    both = np.array([(p[0].visibility > 0) & (p[1].visibility > 0) for p in pairs])
    ha, hb = lay.head_index()
    head = np.linalg.norm(A[:, ha] - A[:, hb], axis=1)
    head = np.where(head > 0, head, np.nan)
    d = np.linalg.norm(A - B, axis=2) / head[:, None]
    flagged = []
    for i, (x, _) in enumerate(pairs):
        bad = {
            lay.joints[j]: round(float(d[i, j]), 3)
            for j in range(lay.num_joints)
            if both[i, j] and np.isfinite(d[i, j]) and d[i, j] > threshold
        }
        if bad:
            flagged.append({"image": x.image, "joints": bad})
    agree = {str(alpha): metrics.pckh(B, A, both, alpha=alpha, layout=layout)["pckh"] for alpha in (0.5, 0.2)}
    per_joint = metrics.pckh(B, A, both, alpha=0.5, layout=layout)["per_joint"]
    mean_d = {
        lay.joints[j]: float(np.nanmean(np.where(both[:, j], d[:, j], np.nan))) if both[:, j].any() else float("nan")
        for j in range(lay.num_joints)
    }
    return ReviewReport(len(pairs), agree, per_joint, mean_d, flagged)
