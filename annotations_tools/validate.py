"""Validation of keypoint labels, with a readable report.

Checks per image: the image file exists and its size matches the label; one athlete box;
every joint of the layout labelled, with no duplicate or misspelt names (LabelMe folders
are read shape by shape, so a misspelling is reported with the closest joint name); points
inside the image and inside (or near) the box; and, across consecutive frames of a folder,
left/right not swapped: the torso's orientation (the sign of the cross product of
``shoulder_left - shoulder_right`` and ``neck - root``) flipping between neighbouring frames
while the body barely moved marks a likely swap.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphs import get_layout
from posekit.errors import AnnotationError
from posekit.labels import KeypointLabel, read_any


@dataclass
class Issue:
    image: str
    check: str
    message: str


@dataclass
class ValidationReport:
    images: int
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def by_check(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.issues:
            out[i.check] = out.get(i.check, 0) + 1
        return out

    def to_text(self) -> str:
        lines = [f"{self.images} image(s) checked: " + ("no problems" if self.ok else f"{len(self.issues)} problem(s)")]
        for check, n in sorted(self.by_check().items()):
            lines.append(f"  {check}: {n}")
        for i in self.issues:
            lines.append(f"- {i.image}: [{i.check}] {i.message}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "images": self.images,
            "ok": self.ok,
            "by_check": self.by_check(),
            "issues": [i.__dict__ for i in self.issues],
        }


def _labelme_name_issues(folder: Path, layout: str) -> tuple[list[Issue], set[str]]:
    """Point names in LabelMe files: misspelt (with a suggestion) or duplicated; box count.
    Also returns the files that cannot be parsed into a label."""
    lay = get_layout(layout)
    out = []
    unparseable: set[str] = set()
    for f in sorted(folder.glob("*.json")):
        try:
            obj = json.loads(f.read_text(encoding="utf-8"))
            shapes = obj.get("shapes", []) if isinstance(obj, dict) else None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            out.append(Issue(f.name, "file", f"unreadable JSON ({exc})"))
            unparseable.add(f.name)
            continue
        if not isinstance(shapes, list) or not all(isinstance(s, dict) for s in shapes):
            out.append(Issue(f.name, "file", "expected a LabelMe object with a list of shape objects"))
            unparseable.add(f.name)
            continue
        seen: dict[str, int] = {}
        rects = 0
        for s in shapes:
            if s.get("shape_type") == "rectangle":
                rects += 1
            if s.get("shape_type") != "point":
                continue
            name = str(s.get("label", "")).strip()
            if name not in lay.joints:
                close = difflib.get_close_matches(name, lay.joints, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                out.append(Issue(f.name, "names", f"unknown joint name '{name}'{hint}"))
                unparseable.add(f.name)
            seen[name] = seen.get(name, 0) + 1
        for name, n in seen.items():
            if n > 1:
                out.append(Issue(f.name, "names", f"joint '{name}' labelled {n} times"))
                unparseable.add(f.name)
        if rects > 1:
            out.append(Issue(f.name, "box", f"{rects} rectangles; expected exactly one athlete box"))
            unparseable.add(f.name)
    return out, unparseable


def check_labels(
    labels: list[KeypointLabel], image_dir: Path | None, box_margin: float = 0.15, swap_motion: float = 0.25
) -> list[Issue]:
    out: list[Issue] = []
    if not labels:
        return out
    lay = get_layout(labels[0].layout)
    for lb in labels:
        if image_dir is not None:
            p = image_dir / lb.image
            if not p.exists():
                out.append(Issue(lb.image, "image", f"image file not found: {p}"))
            else:
                from PIL import Image

                with Image.open(p) as im:
                    if im.size != (lb.width, lb.height):
                        out.append(
                            Issue(
                                lb.image,
                                "image",
                                f"image is {im.size[0]}x{im.size[1]}, label says {lb.width}x{lb.height}",
                            )
                        )
        missing = [lay.joints[j] for j in range(lay.num_joints) if lb.visibility[j] == 0]
        if missing:
            out.append(Issue(lb.image, "keypoints", f"{len(missing)} joint(s) not labelled: {', '.join(missing)}"))
        lab = lb.visibility > 0
        x, y = lb.joints[:, 0], lb.joints[:, 1]
        outside = lab & ((x < 0) | (y < 0) | (x >= lb.width) | (y >= lb.height))
        for j in np.nonzero(outside)[0]:
            out.append(
                Issue(
                    lb.image,
                    "inside_image",
                    f"{lay.joints[j]} at ({x[j]:.1f}, {y[j]:.1f}) is outside the {lb.width}x{lb.height} image",
                )
            )
        if lb.box is None:
            out.append(Issue(lb.image, "box", "no athlete box"))
        else:
            x0, y0, x1, y1 = lb.box
            mx, my = box_margin * (x1 - x0), box_margin * (y1 - y0)
            far = lab & ((x < x0 - mx) | (x > x1 + mx) | (y < y0 - my) | (y > y1 + my))
            for j in np.nonzero(far)[0]:
                out.append(
                    Issue(
                        lb.image,
                        "inside_box",
                        f"{lay.joints[j]} is outside the athlete box (beyond a {box_margin:.0%} margin)",
                    )
                )
    out += _swap_issues(labels, swap_motion)
    return out


def _side_joint(names: tuple[str, ...], kind: str, side: str) -> str | None:
    prefixes = ("l_", "left_") if side == "left" else ("r_", "right_")
    return next((n for n in names if kind in n and n.startswith(prefixes)), None)


def torso_orientation(lb: KeypointLabel) -> float | None:
    """Sign of (left shoulder - right shoulder) x (neck - root); None when not computable."""
    lay = get_layout(lb.layout)
    left, right = _side_joint(lay.joints, "shoulder", "left"), _side_joint(lay.joints, "shoulder", "right")
    if left is None or right is None or not lay.root or not lay.neck:
        return None
    idx = [lay.index(left), lay.index(right), *lay.root_index(), *lay.neck_index()]
    if (lb.visibility[idx] == 0).any():
        return None
    across = lb.joints[lay.index(left)] - lb.joints[lay.index(right)]
    up = lb.joints[lay.neck_index()].mean(0) - lb.joints[lay.root_index()].mean(0)
    return float(np.sign(across[0] * up[1] - across[1] * up[0]))


def _swap_issues(labels: list[KeypointLabel], swap_motion: float) -> list[Issue]:
    """Consecutive labels (in file order) whose torso orientation flips although the joints
    moved less than ``swap_motion`` x the torso length: left and right are likely swapped."""
    out = []
    lay = get_layout(labels[0].layout)
    for a, b in zip(labels, labels[1:], strict=False):
        oa, ob = torso_orientation(a), torso_orientation(b)
        if oa is None or ob is None or oa == ob or oa == 0 or ob == 0:
            continue
        both = (a.visibility > 0) & (b.visibility > 0)
        torso = np.linalg.norm(a.joints[lay.neck_index()].mean(0) - a.joints[lay.root_index()].mean(0))
        moved = np.linalg.norm(a.joints[both] - b.joints[both], axis=1).mean() if both.any() else np.inf
        swapped = (
            np.linalg.norm(a.joints[lay.flip_index][both] - b.joints[both], axis=1).mean() if both.any() else np.inf
        )
        if moved > swapped or moved < swap_motion * max(torso, 1e-6):
            out.append(
                Issue(b.image, "left_right", f"torso orientation flips from {a.image}; left and right may be swapped")
            )
    return out


def validate(path: str | Path, layout: str = "mpii16", image_dir: str | Path | None = None) -> ValidationReport:
    """Validate a LabelMe folder, a COCO JSON or an MPII JSON."""
    path = Path(path)
    issues: list[Issue] = []
    if path.is_dir():
        from posekit.labels import read_labelme

        issues, unparseable = _labelme_name_issues(path, layout)
        files = sorted(path.glob("*.json"))
        labels = []
        for f in files:
            if f.name in unparseable:
                continue
            try:  # one malformed file is reported, the others are still checked
                labels.append(read_labelme(f, layout, image_dir))
            except AnnotationError as exc:
                issues.append(Issue(f.name, "file", str(exc)))
        n_images = len(files)
        img_dir = Path(image_dir) if image_dir else path
    else:
        labels = read_any(path, layout, image_dir)
        n_images = len(labels)
        img_dir = (
            Path(image_dir)
            if image_dir
            else (path.parent / "images" if (path.parent / "images").is_dir() else path.parent)
        )
    issues += check_labels(labels, img_dir)
    return ValidationReport(n_images, issues)
