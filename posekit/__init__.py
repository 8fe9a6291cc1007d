"""posekit: skeleton-first action quality assessment.

Three jobs: build pose datasets from broadcast video, train fused score models,
explain scores joint by joint. Importing ``posekit`` is cheap (no torch); the
submodules that need torch install the CPU compatibility layer themselves
(:mod:`posekit.compat`).
"""

__version__ = "0.1.0"

from posekit.errors import PosekitError, SkeletonFormatError  # noqa: E402

__all__ = ["__version__", "PosekitError", "SkeletonFormatError"]
