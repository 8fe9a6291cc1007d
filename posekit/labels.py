"""Keypoint label formats: LabelMe, COCO keypoints, and the MPII/HRNet JSON of HP-MCoRe.

One in-memory record, :class:`KeypointLabel`, and a reader and writer per format, so any
pair converts through it and round trips are lossless:

* **LabelMe** (one JSON per image, as LabelMe saves them): a ``point`` shape per joint, labelled
  with the joint name of the layout (``r_ankle`` ...), and one ``rectangle`` shape for the
  athlete box (any label; ``athlete`` when written). A point whose shape ``flags`` has
  ``"occluded": true`` is labelled but occluded; a missing point is not labelled.
* **COCO keypoints** (one JSON): ``images``, ``annotations`` (``keypoints`` as x, y, v with
  v = 0 not labelled, 1 labelled occluded, 2 labelled visible; ``bbox`` as x, y, w, h) and a
  ``categories`` entry whose ``keypoints`` / ``skeleton`` come from :mod:`graphs`.
* **MPII / HRNet JSON** (one JSON list, HP-MCoRe's format and mmpose's ``MpiiDataset``):
  ``{image, joints[J][2], joints_vis[J], center[2], scale}`` with the box recovered as a
  square of side ``scale * 200`` around ``center``. ``joints_vis`` is 1 for labelled joints;
  occlusion, which the format cannot hold, goes in an extra ``joints_occluded`` list (ignored
  by other readers) and the exact box in an extra ``bbox`` so the round trip keeps both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphs import get_layout
from posekit.errors import AnnotationError
from posekit.io import safe_relative_path, write_json

NOT_LABELLED, OCCLUDED, VISIBLE = 0, 1, 2

__all__ = [
    "MPII_SCALE_PX",
    "NOT_LABELLED",
    "OCCLUDED",
    "VISIBLE",
    "KeypointLabel",
    "box_to_center_scale",
    "center_scale_to_box",
    "read_any",
    "read_coco",
    "read_labelme",
    "read_labelme_folder",
    "read_mpii",
    "write_any",
    "write_coco",
    "write_labelme",
    "write_labelme_folder",
    "write_mpii",
]
MPII_SCALE_PX = 200.0


@dataclass
class KeypointLabel:
    """One labelled image: athlete box and keypoints in a :mod:`graphs` layout."""

    image: str  # path relative to the image folder
    width: int
    height: int
    joints: np.ndarray  # (J, 2) float64
    visibility: np.ndarray  # (J,) int: 0 not labelled, 1 occluded, 2 visible
    box: np.ndarray | None = None  # (4,) x0, y0, x1, y1
    layout: str = "mpii16"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        J = get_layout(self.layout).num_joints
        self.joints = np.asarray(self.joints, dtype=np.float64).reshape(J, 2)
        self.visibility = np.asarray(self.visibility, dtype=np.int64).reshape(J)
        if self.box is not None:
            self.box = np.asarray(self.box, dtype=np.float64).reshape(4)

    def same_as(self, other: KeypointLabel, atol: float = 1e-6) -> bool:
        lab = self.visibility > 0
        return (
            self.image == other.image
            and (self.width, self.height) == (other.width, other.height)
            and np.array_equal(self.visibility, other.visibility)
            and np.allclose(self.joints[lab], other.joints[lab], atol=atol)
            and (
                (self.box is None and other.box is None)
                or (self.box is not None and other.box is not None and np.allclose(self.box, other.box, atol=atol))
            )
        )


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


# ---------------------------------------------------------------------- LabelMe
def _point(value: Any, path: Path, where: str) -> tuple[float, float]:
    """``[x, y]`` as two finite numbers, or an error naming the file and the shape."""
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        raise AnnotationError(
            f"{where}: expected a point [x, y] of two numbers, got {value!r}", path, "shapes"
        ) from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise AnnotationError(f"{where}: expected finite coordinates, got [{x}, {y}]", path, "shapes")
    return x, y


def _labelme_object(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"not a readable LabelMe JSON ({exc})", path) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("shapes", []), list):
        raise AnnotationError("expected a LabelMe object with a list of 'shapes'", path, "shapes")
    return obj


def read_labelme(path: str | Path, layout: str = "mpii16", image_dir: str | Path | None = None) -> KeypointLabel:
    """One LabelMe JSON; unknown or repeated point names, malformed or non-finite points raise
    (validation reports them per file). Without ``imageWidth`` / ``imageHeight`` the image is
    looked up in ``image_dir`` (default: next to the JSON)."""
    path = Path(path)
    obj = _labelme_object(path)
    lay = get_layout(layout)
    J = lay.num_joints
    joints = np.zeros((J, 2))
    vis = np.zeros(J, np.int64)
    boxes = []
    for i, shape in enumerate(obj["shapes"] if "shapes" in obj else []):
        if not isinstance(shape, dict):
            raise AnnotationError(f"shape {i}: expected an object, got {shape!r}", path, "shapes")
        kind = shape.get("shape_type", "polygon")
        pts = shape.get("points") or []
        if kind == "point":
            name = str(shape.get("label", "")).strip()
            if name not in lay.joints:
                raise AnnotationError(f"shape {i}: point label '{name}' is not a {layout} joint", path, "shapes")
            j = lay.index(name)
            if vis[j]:
                raise AnnotationError(f"shape {i}: joint '{name}' labelled twice", path, "shapes")
            if not isinstance(pts, list) or len(pts) != 1:
                raise AnnotationError(f"shape {i} ('{name}'): expected one point, got {pts!r}", path, "shapes")
            joints[j] = _point(pts[0], path, f"shape {i} ('{name}')")
            vis[j] = OCCLUDED if (shape.get("flags") or {}).get("occluded") else VISIBLE
        elif kind == "rectangle" and isinstance(pts, list) and len(pts) == 2:
            (xa, ya), (xb, yb) = (_point(q, path, f"shape {i} (rectangle)") for q in pts)
            boxes.append([min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)])
    if len(boxes) > 1:
        raise AnnotationError(f"{len(boxes)} rectangles; expected one athlete box", path, "shapes")
    image = obj.get("imagePath") or path.with_suffix(".jpg").name
    w, h = obj.get("imageWidth"), obj.get("imageHeight")
    if not (w and h):
        found = Path(image_dir or path.parent) / str(image)
        if not found.is_file():
            raise AnnotationError(
                f"no imageWidth/imageHeight and the image {found} is not there to measure (give --image-dir)",
                path,
                "imageWidth",
            )
        w, h = _image_size(found)
    return KeypointLabel(
        str(image), int(w), int(h), joints, vis, np.array(boxes[0]) if boxes else None, layout, {"source": str(path)}
    )


def write_labelme(label: KeypointLabel, path: str | Path, box_label: str = "athlete") -> Path:
    lay = get_layout(label.layout)
    shapes = []
    if label.box is not None:
        x0, y0, x1, y1 = (float(v) for v in label.box)
        shapes.append(
            {
                "label": box_label,
                "points": [[x0, y0], [x1, y1]],
                "group_id": None,
                "shape_type": "rectangle",
                "flags": {},
                "description": "",
            }
        )
    for j, name in enumerate(lay.joints):
        if label.visibility[j] == NOT_LABELLED:
            continue
        shapes.append(
            {
                "label": name,
                "points": [[float(label.joints[j, 0]), float(label.joints[j, 1])]],
                "group_id": None,
                "shape_type": "point",
                "flags": {"occluded": True} if label.visibility[j] == OCCLUDED else {},
                "description": "",
            }
        )
    obj = {
        "version": "5.4.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": label.image,
        "imageData": None,
        "imageHeight": int(label.height),
        "imageWidth": int(label.width),
    }
    return write_json(path, obj)


def read_labelme_folder(
    folder: str | Path, layout: str = "mpii16", image_dir: str | Path | None = None
) -> list[KeypointLabel]:
    files = sorted(Path(folder).glob("*.json"))
    if not files:
        raise AnnotationError("no LabelMe .json files", folder)
    return [read_labelme(f, layout, image_dir) for f in files]


def write_labelme_folder(labels: list[KeypointLabel], folder: str | Path) -> list[Path]:
    """One LabelMe JSON per label in ``folder``. Images in sub-folders (``M1/7/00001.jpg``)
    get the folders in the JSON's name (``M1__7__00001.json``; ``imagePath`` keeps the path),
    so two images of the same name in different folders never share one file; a name that
    would still collide is refused before anything is written."""
    folder = Path(folder)
    names: dict[str, str] = {}
    for lb in labels:
        rel = safe_relative_path(lb.image, None, "image")
        name = "__".join(rel.with_suffix("").parts) + ".json"
        if name in names:
            raise AnnotationError(
                f"{lb.image!r} and {names[name]!r} would both be written to {name}: rename one", folder, "image"
            )
        names[name] = lb.image
    return [write_labelme(lb, folder / name) for lb, name in zip(labels, names, strict=True)]


# ---------------------------------------------------------------------- COCO
def write_coco(labels: list[KeypointLabel], path: str | Path, category: str = "athlete") -> Path:
    lay = get_layout(labels[0].layout if labels else "mpii16")
    images, anns = [], []
    for i, lb in enumerate(labels, start=1):
        images.append({"id": i, "file_name": lb.image, "width": lb.width, "height": lb.height})
        kps = []
        for j in range(lay.num_joints):
            v = int(lb.visibility[j])
            x, y = (float(c) for c in lb.joints[j]) if v else (0.0, 0.0)
            kps += [x, y, v]
        ann = {
            "id": i,
            "image_id": i,
            "category_id": 1,
            "keypoints": kps,
            "num_keypoints": int((lb.visibility > 0).sum()),
            "iscrowd": 0,
        }
        if lb.box is not None:
            x0, y0, x1, y1 = (float(v) for v in lb.box)
            ann["bbox"] = [x0, y0, x1 - x0, y1 - y0]
            ann["area"] = (x1 - x0) * (y1 - y0)
        anns.append(ann)
    cat = {
        "id": 1,
        "name": category,
        "supercategory": "person",
        "keypoints": list(lay.joints),
        "skeleton": [[int(a) + 1, int(b) + 1] for a, b in lay.bone_index],
    }  # COCO skeletons are 1-based
    return write_json(
        path,
        {
            "images": images,
            "annotations": anns,
            "categories": [cat],
            "info": {"layout": lay.name, "description": "written by posekit"},
        },
    )


def read_coco(path: str | Path, layout: str | None = None) -> list[KeypointLabel]:
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"not a readable COCO JSON ({exc})", path) from None
    for key in ("images", "annotations", "categories"):
        if key not in obj:
            raise AnnotationError("missing key", path, key)
    layout = layout or (obj.get("info") or {}).get("layout") or "mpii16"
    lay = get_layout(layout)
    names = obj["categories"][0].get("keypoints")
    if names and list(names) != list(lay.joints):
        raise AnnotationError(f"category keypoints {names} do not match layout {layout}", path, "categories")
    imgs = {im["id"]: im for im in obj["images"]}
    out = []
    for a in obj["annotations"]:
        im = imgs.get(a["image_id"])
        if im is None:
            raise AnnotationError(
                f"annotation {a.get('id')} refers to a missing image {a['image_id']}", path, "annotations"
            )
        k = np.asarray(a["keypoints"], float).reshape(-1, 3)
        if len(k) != lay.num_joints:
            raise AnnotationError(
                f"annotation {a.get('id')}: {len(k)} keypoints, layout {layout} has {lay.num_joints}", path, "keypoints"
            )
        box = None
        if "bbox" in a:
            x, y, w, h = a["bbox"]
            box = np.array([x, y, x + w, y + h])
        out.append(
            KeypointLabel(
                im["file_name"], int(im["width"]), int(im["height"]), k[:, :2], k[:, 2].astype(int), box, layout
            )
        )
    return out


# ---------------------------------------------------------------------- MPII / HRNet JSON
def box_to_center_scale(box: np.ndarray) -> tuple[list[float], float]:
    """MPII convention: centre of the box, scale = longer side / 200 px."""
    x0, y0, x1, y1 = box
    return [float((x0 + x1) / 2), float((y0 + y1) / 2)], float(max(x1 - x0, y1 - y0) / MPII_SCALE_PX)


def center_scale_to_box(center: list[float], scale: float) -> np.ndarray:
    half = scale * MPII_SCALE_PX / 2
    return np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half])


def write_mpii(labels: list[KeypointLabel], path: str | Path) -> Path:
    recs = []
    for lb in labels:
        rec: dict[str, Any] = {
            "image": lb.image,
            "joints": [
                [float(x), float(y)] if v else [-1.0, -1.0] for (x, y), v in zip(lb.joints, lb.visibility, strict=True)
            ],
            "joints_vis": [int(v > 0) for v in lb.visibility],
            "joints_occluded": [int(v == OCCLUDED) for v in lb.visibility],
            "image_size": [int(lb.width), int(lb.height)],
        }
        if lb.box is not None:
            rec["center"], rec["scale"] = box_to_center_scale(lb.box)
            rec["bbox"] = [float(v) for v in lb.box]
        recs.append(rec)
    return write_json(path, recs)


def read_mpii(path: str | Path, image_dir: str | Path | None = None, layout: str = "mpii16") -> list[KeypointLabel]:
    """HP-MCoRe / HRNet MPII JSON. Image sizes come from ``image_size`` or the image files."""
    path = Path(path)
    try:
        recs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"not a readable MPII JSON ({exc})", path) from None
    if not isinstance(recs, list):
        raise AnnotationError("expected a list of {image, joints, joints_vis, center, scale}", path)
    J = get_layout(layout).num_joints
    image_dir = Path(image_dir) if image_dir else path.parent / "images"
    out = []
    for i, r in enumerate(recs):
        for key in ("image", "joints", "joints_vis"):
            if key not in r:
                raise AnnotationError(f"record {i} has no '{key}'", path, key)
        joints = np.asarray(r["joints"], float)
        if joints.shape != (J, 2) or len(r["joints_vis"]) != J:
            raise AnnotationError(
                f"record {i} ({r['image']}): joints {joints.shape}, expected ({J}, 2)", path, "joints"
            )
        occl = r.get("joints_occluded") or [0] * J
        vis = np.array(
            [(OCCLUDED if o else VISIBLE) if v else NOT_LABELLED for v, o in zip(r["joints_vis"], occl, strict=True)]
        )
        if "bbox" in r:
            box = np.asarray(r["bbox"], float)
        elif "center" in r and "scale" in r:
            box = center_scale_to_box(r["center"], float(r["scale"]))
        else:
            box = None
        if "image_size" in r:
            w, h = r["image_size"]
        else:
            try:
                w, h = _image_size(image_dir / r["image"])
            except OSError:
                raise AnnotationError(
                    f"record {i}: image {r['image']} not found in {image_dir} (needed for its size)", path, "image"
                ) from None
        out.append(KeypointLabel(r["image"], int(w), int(h), joints, vis, box, layout))
    return out


def read_any(path: str | Path, layout: str = "mpii16", image_dir: str | Path | None = None) -> list[KeypointLabel]:
    """A LabelMe folder, a COCO JSON or an MPII JSON (told apart by their structure)."""
    path = Path(path)
    if path.is_dir():
        return read_labelme_folder(path, layout, image_dir)
    obj = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(obj, dict) and "annotations" in obj:
        return read_coco(path, layout)
    if isinstance(obj, list):
        return read_mpii(path, image_dir, layout)
    if isinstance(obj, dict) and "shapes" in obj:
        return [read_labelme(path, layout, image_dir)]
    raise AnnotationError("not LabelMe, COCO or MPII JSON", path)


def write_any(labels: list[KeypointLabel], path: str | Path, fmt: str) -> Path | list[Path]:
    if fmt == "labelme":
        return write_labelme_folder(labels, path)
    if fmt == "coco":
        return write_coco(labels, path)
    if fmt == "mpii":
        return write_mpii(labels, path)
    raise AnnotationError(f"unknown format '{fmt}' (labelme, coco, mpii)")
