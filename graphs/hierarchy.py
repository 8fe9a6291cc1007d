"""Hierarchical decomposition of a skeleton (HD-GCN, Lee et al. ICCV 2023; HP-MCoRe eq. 4).

The joints are grouped into *rings* by their graph distance from the centre joint(s)
(ring 0 = the centre). HD-GCN connects every joint of ring ``r`` to every joint of ring
``r + 1`` and splits each connection set into three subsets:

* identity    - self loops of the joints involved;
* centripetal - edges pointing towards the centre (ring r+1 -> ring r);
* centrifugal - edges pointing away from the centre (ring r -> ring r+1).

HP-MCoRe groups the rings into three semantic levels, H0 torso, H1 inner limbs and H2
outer limbs (their Fig. 3). Level ``l`` holds the ring-to-ring connections that end in one
of its rings, so level 0 holds the torso's own rings, level 1 connects the torso to the
inner limbs and level 2 connects the inner limbs to the outer ones. For each level the
three subsets give one adjacency matrix, ``A`` of shape ``(L=3, 3, V, V)``; the per ring
pair matrices of HD-GCN are kept as :attr:`Hierarchy.ring_adjacency`. A level made of ring 0
alone (COCO-17's torso quadrilateral) has identity edges only: HD-GCN keeps no edges inside
a ring.

Conventions (those of ST-GCN/HD-GCN ``edge2mat``): ``A[l, s, j, i] = 1`` for a message
from joint ``i`` to joint ``j``, so a graph convolution is ``y_j = sum_i A[j, i] x_i``; each
subset is normalised by ``normalize_digraph`` (every column divided by its sum). The PyG
``edge_index`` of a subset has sources in row 0 and targets in row 1.

Indices are 0-based everywhere and validated: a public implementation of this
decomposition converted already 0-based groups with ``i - 1``, which turned the right
ankle (0) into ``-1`` and so, through Python's negative indexing, silently into the left
wrist (15). :func:`validate_rings` refuses any such ring set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np

from graphs.errors import LayoutError
from graphs.layout import Layout, get_layout

SUBSETS: tuple[str, str, str] = ("identity", "centripetal", "centrifugal")
LEVEL_NAMES: tuple[str, str, str] = ("torso", "inner_limbs", "outer_limbs")
NUM_LEVELS = 3


def compute_rings(layout: Layout) -> list[list[int]]:
    """Joints grouped by bone-graph distance from the centre joint(s), ring 0 first."""
    sources = layout.indices(layout.center)
    dist = nx.multi_source_dijkstra_path_length(layout.graph, sources)
    if len(dist) != layout.num_joints:
        missing = sorted(set(range(layout.num_joints)) - set(dist))
        raise LayoutError(f"joints {missing} are not reachable from the centre", layout.source, "bones")
    n_rings = max(dist.values()) + 1
    rings: list[list[int]] = [[] for _ in range(n_rings)]
    for j in range(layout.num_joints):
        rings[dist[j]].append(j)
    return rings


def validate_rings(rings: Sequence[Sequence[int]], num_joints: int, where: str | None = None) -> None:
    """Every joint index ``0..V-1`` in exactly one ring; no negative or out-of-range index."""
    seen: dict[int, int] = {}
    for r, ring in enumerate(rings):
        if len(ring) == 0:
            raise LayoutError(f"ring {r} is empty", where, "rings")
        for j in ring:
            if not isinstance(j, (int, np.integer)) or not 0 <= int(j) < num_joints:
                raise LayoutError(
                    f"ring {r} holds index {j!r}; joint indices are 0-based, 0..{num_joints - 1}", where, "rings"
                )
            if int(j) in seen:
                raise LayoutError(f"joint {j} is in ring {seen[int(j)]} and in ring {r}", where, "rings")
            seen[int(j)] = r
    missing = sorted(set(range(num_joints)) - set(seen))
    if missing:
        raise LayoutError(f"joints {missing} are in no ring", where, "rings")


def default_ring_levels(n_rings: int) -> list[int]:
    """Rings split into three contiguous groups (torso / inner / outer) of near-equal count."""
    if n_rings < NUM_LEVELS:
        raise LayoutError(
            f"the skeleton has {n_rings} ring(s) around its centre; three semantic levels need at least 3"
        )
    return [int(lv) for lv, chunk in enumerate(np.array_split(np.arange(n_rings), NUM_LEVELS)) for _ in chunk]


def edge2mat(edges: Sequence[tuple[int, int]], num_nodes: int) -> np.ndarray:
    """Adjacency with ``A[j, i] = 1`` for each edge ``i -> j``."""
    a = np.zeros((num_nodes, num_nodes), dtype=np.float32)
    for i, j in edges:
        a[j, i] = 1.0
    return a


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """``A D^-1`` with ``D`` the column sums (ST-GCN / HD-GCN normalisation)."""
    col = a.sum(axis=0)
    inv = np.where(col > 0, 1.0 / np.where(col > 0, col, 1.0), 0.0)
    return (a * inv[None, :]).astype(np.float32)


@dataclass(frozen=True)
class Hierarchy:
    """Rings, semantic levels, adjacency and PyG edge indices of one layout."""

    layout: Layout
    rings: tuple[tuple[int, ...], ...]
    ring_levels: tuple[int, ...]

    def __post_init__(self) -> None:
        validate_rings(self.rings, self.layout.num_joints, self.layout.source or self.layout.name)
        levels = self.ring_levels
        if len(levels) != len(self.rings):
            raise LayoutError(
                f"{len(levels)} ring levels given for {len(self.rings)} rings {self.ring_names()}",
                self.layout.source,
                "ring_levels",
            )
        if any(lv not in (0, 1, 2) for lv in levels) or list(levels) != sorted(levels):
            raise LayoutError(
                f"{list(levels)}: levels must be 0, 1, 2 and non-decreasing", self.layout.source, "ring_levels"
            )
        if set(levels) != {0, 1, 2}:
            raise LayoutError(
                f"{list(levels)}: each of the levels 0, 1, 2 needs a ring", self.layout.source, "ring_levels"
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_layout(cls, layout: Layout | str) -> Hierarchy:
        layout = get_layout(layout)
        rings = compute_rings(layout)
        levels = layout.ring_levels if layout.ring_levels is not None else default_ring_levels(len(rings))
        return cls(layout, tuple(tuple(r) for r in rings), tuple(int(v) for v in levels))

    # ------------------------------------------------------------------ structure
    @property
    def num_joints(self) -> int:
        return self.layout.num_joints

    def ring_names(self) -> list[list[str]]:
        return [[self.layout.joints[j] for j in ring] for ring in self.rings]

    @cached_property
    def ring_of_joint(self) -> np.ndarray:
        out = np.empty(self.num_joints, dtype=np.int64)
        for r, ring in enumerate(self.rings):
            out[list(ring)] = r
        return out

    @cached_property
    def level_of_joint(self) -> np.ndarray:
        """``(V,)`` semantic level (0 torso, 1 inner limbs, 2 outer limbs) of each joint."""
        return np.asarray(self.ring_levels, dtype=np.int64)[self.ring_of_joint]

    def level_joints(self, level: int) -> list[int]:
        return [j for j in range(self.num_joints) if self.level_of_joint[j] == level]

    def _ring_pair_edges(self, r: int) -> dict[str, list[tuple[int, int]]]:
        """Subsets of the HD-GCN connection between ring ``r - 1`` and ring ``r``."""
        inner, outer = self.rings[r - 1], self.rings[r]
        return {
            "identity": [(j, j) for j in (*inner, *outer)],
            "centripetal": [(o, i) for o in outer for i in inner],
            "centrifugal": [(i, o) for i in inner for o in outer],
        }

    def level_edges(self, level: int) -> dict[str, list[tuple[int, int]]]:
        """Edge lists (source, target) of the three subsets of one semantic level."""
        rings = [r for r, lv in enumerate(self.ring_levels) if lv == level]
        out: dict[str, list[tuple[int, int]]] = {s: [] for s in SUBSETS}
        for r in rings:
            if r == 0:
                continue
            for s, edges in self._ring_pair_edges(r).items():
                out[s].extend(edges)
        own = [j for r in rings for j in self.rings[r]]
        nodes = sorted({j for e in out["identity"] for j in e} | set(own))
        out["identity"] = [(j, j) for j in nodes]
        return out

    @cached_property
    def adjacency(self) -> np.ndarray:
        """``(3, 3, V, V)`` float32: level x (identity, centripetal, centrifugal), normalised."""
        mats = [
            [normalize_digraph(edge2mat(self.level_edges(lv)[s], self.num_joints)) for s in SUBSETS]
            for lv in range(NUM_LEVELS)
        ]
        return np.asarray(mats, dtype=np.float32)

    @cached_property
    def ring_adjacency(self) -> np.ndarray:
        """``(R - 1, 3, V, V)``: HD-GCN's per ring pair matrices (its ``get_hierarchical_graph``)."""
        mats = []
        for r in range(1, len(self.rings)):
            edges = self._ring_pair_edges(r)
            mats.append([normalize_digraph(edge2mat(edges[s], self.num_joints)) for s in SUBSETS])
        return np.asarray(mats, dtype=np.float32).reshape(-1, 3, self.num_joints, self.num_joints)

    def edge_index(self, level: int, subset: str) -> np.ndarray:
        """PyG ``edge_index`` ``(2, E)`` int64 (row 0 sources, row 1 targets) of one subset."""
        if subset not in SUBSETS:
            raise LayoutError(f"unknown subset '{subset}', expected one of {SUBSETS}")
        edges = self.level_edges(level)[subset]
        return np.asarray(edges, dtype=np.int64).reshape(-1, 2).T.copy()

    def inter_level_edge_index(self, level: int) -> np.ndarray:
        """Fully connected (both directions) edges between the joints of levels ``level-1`` and
        ``level`` - the semantic edges EdgeConv works on (HP-MCoRe eq. 5)."""
        if not 1 <= level < NUM_LEVELS:
            raise LayoutError(f"inter-level edges exist for levels 1..{NUM_LEVELS - 1}, got {level}")
        a, b = self.level_joints(level - 1), self.level_joints(level)
        edges = [(i, j) for i in a for j in b] + [(j, i) for i in a for j in b]
        return np.asarray(edges, dtype=np.int64).reshape(-1, 2).T.copy()

    def describe(self) -> str:
        lines = [f"layout {self.layout.name}: {self.num_joints} joints, centre {list(self.layout.center)}"]
        for r, names in enumerate(self.ring_names()):
            lv = self.ring_levels[r]
            lines.append(f"  ring {r} (H{lv} {LEVEL_NAMES[lv]}): {', '.join(names)}")
        return "\n".join(lines)


def build_hierarchy(layout: Layout | str) -> Hierarchy:
    """The hierarchy of a registered layout name, a layout YAML path or a :class:`Layout`."""
    return Hierarchy.from_layout(layout)
