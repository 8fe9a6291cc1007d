"""Skeleton layouts and hierarchies: the one source of truth for joint orders.

>>> from graphs import get_layout, build_hierarchy
>>> mpii = get_layout("mpii16")
>>> mpii.joints[:3]
('r_ankle', 'r_knee', 'r_hip')
>>> build_hierarchy("mpii16").adjacency.shape
(3, 3, 16, 16)
"""

from graphs.convert import LayoutMapping, convert, get_mapping, register_mapping
from graphs.hierarchy import LEVEL_NAMES, SUBSETS, Hierarchy, build_hierarchy, compute_rings, validate_rings
from graphs.layout import Layout, available_layouts, get_layout, load_layout, register_layout

__all__ = [
    "LEVEL_NAMES",
    "SUBSETS",
    "Hierarchy",
    "Layout",
    "LayoutMapping",
    "available_layouts",
    "build_hierarchy",
    "compute_rings",
    "convert",
    "get_layout",
    "get_mapping",
    "load_layout",
    "register_layout",
    "register_mapping",
    "validate_rings",
]
