"""Score models: the method interface (:mod:`posekit.models.base`), HP-MCoRe and its parts
(one module per part)."""

from posekit.models.base import AQAMethod, Encoded, ModelOptions, Options
from posekit.models.fusion import PoseGuidedFusion
from posekit.models.hpmcore import HPMCoRe, HPMCoReConfig, HPMCoReLoss
from posekit.models.losses import contrastive_loss, stage_contrastive_loss
from posekit.models.regression import MultiStageRegressor
from posekit.models.segmentation import ProcedureSegmentation, monotone_decode, stage_pool
from posekit.models.skeletal import HierarchicalSkeletalEncoder
from posekit.models.visual import DynamicVisualEncoder, StaticVisualEncoder

__all__ = [
    "AQAMethod",
    "Encoded",
    "HPMCoReLoss",
    "ModelOptions",
    "Options",
    "DynamicVisualEncoder",
    "HPMCoRe",
    "HPMCoReConfig",
    "HierarchicalSkeletalEncoder",
    "MultiStageRegressor",
    "PoseGuidedFusion",
    "ProcedureSegmentation",
    "StaticVisualEncoder",
    "contrastive_loss",
    "monotone_decode",
    "stage_contrastive_loss",
    "stage_pool",
]
