"""What extraction runs with, as one typed value: :class:`ExtractionModels` names the
detector, the pose estimator, the BlazePose mapping, the device and whether checkpoints are
trusted. ``posekit extract`` and ``extract-dataset`` build it once from their flags
(:meth:`ExtractionModels.from_args`), Python code builds it directly, and single-clip and
batch extraction (every worker of it) build their models from it with :meth:`build`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

DETECTORS = ("blazepose", "hog", "blazepose+hog", "mmdet")
ESTIMATORS = ("blazepose", "mmpose")


@dataclass(frozen=True)
class ExtractionModels:
    """Detector + pose estimator + mapping + device (picklable: sent to batch workers).

    ``det_config`` / ``det_checkpoint``: the mmdet model for ``detector="mmdet"``;
    ``pose_config`` / ``pose_checkpoint``: the mmpose model for ``pose="mmpose"``;
    ``pose_mapping``: the BlazePose -> MPII-16 mapping (None: the shipped calibrated one);
    ``trust_checkpoint``: allow checkpoints that are not weights-only (they can run code);
    ``blazepose``: how the embedded BlazePose runs (``solution`` / ``direct``:
    :func:`posekit.pose.blazepose.build_blazepose`; ``auto``: by the quality preset,
    :meth:`for_quality`), one model shared by the detector and the estimator."""

    detector: str = "blazepose"
    det_config: str | None = None
    det_checkpoint: str | None = None
    pose: str = "blazepose"
    pose_config: str | None = None
    pose_checkpoint: str | None = None
    pose_mapping: str | None = None
    device: str = "cpu"
    trust_checkpoint: bool = False
    blazepose: str = "auto"

    def __post_init__(self) -> None:
        from posekit.errors import PosekitError

        if self.detector not in DETECTORS:
            raise PosekitError(f"unknown detector {self.detector!r}; expected one of {list(DETECTORS)}")
        if self.pose not in ESTIMATORS:
            raise PosekitError(f"unknown pose estimator {self.pose!r}; expected one of {list(ESTIMATORS)}")
        from posekit.pose.blazepose import backend_for

        backend_for("balanced", self.blazepose)  # an unknown backend is a clear error here
        if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", str(self.device)):
            raise PosekitError(f"unknown device {self.device!r}; expected cpu, cuda, cuda:N or mps")
        for name in ("det_config", "det_checkpoint", "pose_config", "pose_checkpoint", "pose_mapping"):
            v = getattr(self, name)
            if isinstance(v, Path):
                object.__setattr__(self, name, str(v))

    @property
    def uses_gpu(self) -> bool:
        """Whether a model runs on the GPU: ``device`` is cuda and the detector (mmdet) or the
        estimator (mmpose) is a torch model; BlazePose runs on the CPU whatever ``device``."""
        return self.device.startswith("cuda") and (self.detector == "mmdet" or self.pose == "mmpose")

    @classmethod
    def from_args(cls, args: Any) -> ExtractionModels:
        """From the ``posekit extract`` / ``extract-dataset`` flags."""
        return cls(
            detector=args.detector,
            det_config=args.det_config,
            det_checkpoint=args.det_checkpoint,
            pose=args.pose,
            pose_config=args.pose_config,
            pose_checkpoint=args.pose_checkpoint,
            pose_mapping=args.pose_mapping,
            device=args.device,
            trust_checkpoint=bool(args.trust_checkpoint),
            blazepose=getattr(args, "blazepose", "auto"),
        )

    def for_quality(self, quality: str) -> ExtractionModels:
        """These models with ``blazepose="auto"`` resolved for the ``quality`` preset
        (:func:`posekit.pose.blazepose.backend_for`): what a run builds and what its reports
        store."""
        from posekit.pose.blazepose import backend_for

        return replace(self, blazepose=backend_for(quality, self.blazepose))

    def build(self, quality: str = "balanced") -> tuple[Any, Any]:
        """``(detector, estimator)`` ready for :func:`posekit.pose.pipeline.extract` with the
        ``quality`` preset (what ``blazepose="auto"`` resolves by)."""
        from posekit.pose.blazepose import build_blazepose
        from posekit.pose.detect import build_detector
        from posekit.pose.estimate import build_estimator

        uses = "blazepose" in self.detector or self.pose == "blazepose"
        model = build_blazepose(self.for_quality(quality).blazepose) if uses else None
        det = build_detector(
            self.detector,
            self.det_config,
            self.det_checkpoint,
            self.device,
            trust_checkpoint=self.trust_checkpoint,
            model=model,
        )
        kw = {"model": model} if self.pose == "blazepose" else {}
        est = build_estimator(
            self.pose,
            self.pose_config,
            self.pose_checkpoint,
            self.device,
            mapping=self.pose_mapping,
            trust_checkpoint=self.trust_checkpoint,
            **kw,
        )
        return det, est

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
