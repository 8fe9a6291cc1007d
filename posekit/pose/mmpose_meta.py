"""mmpose dataset metainfo built from a :mod:`graphs` layout (the one joint-order source).

mmpose models and datasets carry ``dataset_meta`` (keypoint names, flip pairs, skeleton,
joint weights, OKS sigmas). posekit derives it from the layout instead of hard-coding it.
"""

from __future__ import annotations

from typing import Any

from graphs import get_layout

# MPII's OKS-style sigmas are not defined; these are the COCO values of the matching joints,
# with MPII's extra joints (pelvis, thorax, upper neck, head top) given torso/head values.
_SIGMA_BY_KIND = {"ankle": 0.089, "knee": 0.087, "hip": 0.107, "wrist": 0.062, "elbow": 0.072, "shoulder": 0.079}


def _sigma(name: str) -> float:
    for kind, s in _SIGMA_BY_KIND.items():
        if name.endswith(kind):
            return s
    return 0.1 if name in ("pelvis", "thorax") else 0.08


def layout_metainfo(layout: str = "mpii16") -> dict[str, Any]:
    """The raw metainfo dict (as in mmpose's ``configs/_base_/datasets/*.py``)."""
    lay = get_layout(layout)
    partner = {a: b for a, b in lay.flip_pairs} | {b: a for a, b in lay.flip_pairs}
    upper = {"head_top", "upper_neck", "thorax", "nose"}
    keypoint_info = {
        i: dict(
            name=j,
            id=i,
            color=[51, 153, 255],
            type="upper" if (j in upper or "wrist" in j or "elbow" in j or "shoulder" in j) else "lower",
            swap=partner.get(j, ""),
        )
        for i, j in enumerate(lay.joints)
    }
    skeleton_info = {k: dict(link=(a, b), id=k, color=[0, 255, 0]) for k, (a, b) in enumerate(lay.bones)}
    return dict(
        dataset_name=f"posekit_{lay.name}",
        keypoint_info=keypoint_info,
        skeleton_info=skeleton_info,
        joint_weights=[
            1.5 if ("wrist" in j or "ankle" in j) else 1.2 if ("elbow" in j or "knee" in j) else 1.0 for j in lay.joints
        ],
        sigmas=[_sigma(j) for j in lay.joints],
    )


def dataset_meta(layout: str = "mpii16") -> dict[str, Any]:
    """The parsed ``dataset_meta`` mmpose models use (flip indices, num_keypoints, ...)."""
    from posekit import compat

    compat.install()
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    return parse_pose_metainfo(layout_metainfo(layout))
