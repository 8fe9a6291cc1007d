"""Training and evaluation of AQA models (``posekit train`` / ``posekit evaluate``)."""

from posekit.training.checkpoint import load_checkpoint, model_from_checkpoint
from posekit.training.config import load_config
from posekit.training.data import AQAItem, AQASplits, build_splits
from posekit.training.trainer import evaluate_items, run_evaluation, run_training

__all__ = [
    "AQAItem",
    "AQASplits",
    "build_splits",
    "evaluate_items",
    "load_checkpoint",
    "load_config",
    "model_from_checkpoint",
    "run_evaluation",
    "run_training",
]
