"""Job 1: broadcast video -> clean athlete skeletons (read, detect, track, estimate, clean, write)."""

from posekit.pose.pipeline import ExtractConfig, ExtractResult, extract

__all__ = ["ExtractConfig", "ExtractResult", "extract"]
