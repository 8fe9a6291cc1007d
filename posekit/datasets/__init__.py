"""Dataset readers: FineDiving, MTL-AQA, SPEED21 speed climbing, your own skeleton folders."""

from posekit.datasets.exemplars import ExemplarSampler
from posekit.datasets.finediving import FineDiving
from posekit.datasets.generic import SkeletonFolderDataset, read_labels
from posekit.datasets.mtl_aqa import MTLAQA
from posekit.datasets.records import AQARecord
from posekit.datasets.speed_climbing import SpeedClimbing, read_speed21_file
from posekit.datasets.stages import (
    boundaries_to_labels,
    labels_to_boundaries,
    stage_boundaries,
    transits_from_labels,
)

__all__ = [
    "AQARecord",
    "ExemplarSampler",
    "FineDiving",
    "MTLAQA",
    "SkeletonFolderDataset",
    "SpeedClimbing",
    "boundaries_to_labels",
    "labels_to_boundaries",
    "read_labels",
    "read_speed21_file",
    "stage_boundaries",
    "transits_from_labels",
]
