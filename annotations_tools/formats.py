"""The keypoint label formats moved to :mod:`posekit.labels` (the library reads and writes
them too); this module re-exports them for code written against ``annotations_tools.formats``."""

from posekit.labels import *  # noqa: F403
from posekit.labels import __all__  # noqa: F401
