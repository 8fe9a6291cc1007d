"""An mmpose dataset for posekit's MPII-style athlete labels (registered as
``PosekitKeypointDataset``).

mmpose's own ``MpiiDataset`` expects MPII's numeric image names and 1-based MATLAB centres;
posekit's labels (``posekit.labels.write_mpii``) have any image name, 0-based
pixel coordinates and the exact athlete box in ``bbox`` (falling back to the square of side
``scale * 200`` around ``center``). ``joints_vis`` may be fractional: mmpose uses it as the
keypoint loss weight (pseudo-labels are weighted lower).
"""

from __future__ import annotations

import json
import os.path as osp

import numpy as np

from posekit import compat

compat.install()
from mmpose.datasets.datasets.base import BaseCocoStyleDataset  # noqa: E402
from mmpose.registry import DATASETS  # noqa: E402


@DATASETS.register_module(force=True)
class PosekitKeypointDataset(BaseCocoStyleDataset):
    def _load_annotations(self) -> tuple[list[dict], list[dict]]:
        with open(self.ann_file, encoding="utf-8") as fh:
            anns = json.load(fh)
        instances, images = [], []
        for idx, ann in enumerate(anns):
            if "bbox" in ann:
                bbox = np.asarray(ann["bbox"], np.float32).reshape(1, 4)
            else:
                c, half = np.asarray(ann["center"], np.float32), float(ann["scale"]) * 100.0
                bbox = np.array([[c[0] - half, c[1] - half, c[0] + half, c[1] + half]], np.float32)
            keypoints = np.asarray(ann["joints"], np.float32).reshape(1, -1, 2)
            visible = np.asarray(ann["joints_vis"], np.float32).reshape(1, -1)
            img_path = ann["image"] if osp.isabs(ann["image"]) else osp.join(self.data_prefix["img"], ann["image"])
            instances.append(
                {
                    "id": idx,
                    "img_id": idx,
                    "img_path": img_path,
                    "bbox": bbox,
                    "bbox_score": np.ones(1, np.float32),
                    "keypoints": keypoints,
                    "keypoints_visible": visible,
                    "num_keypoints": int((visible > 0).sum()),
                    "category_id": 1,
                    "area": np.array([(bbox[0, 2] - bbox[0, 0]) * (bbox[0, 3] - bbox[0, 1])], np.float32),
                }
            )
            images.append({"img_id": idx, "img_path": img_path})
        return instances, images
