"""Skeleton layouts: joint names and order, bones, left/right flip pairs, centre joints.

This module is the single source of truth for joint orders in posekit. Built-in layouts
live as YAML files in ``graphs/layouts/`` (MPII-16, COCO-17, BlazePose-33); a user adds a
layout (e.g. body joints plus equipment points such as ski tips or a pole) by writing the
same YAML and calling :func:`load_layout` or :func:`register_layout`.

YAML fields::

    name: my_layout
    joints: [a, b, c, ...]            # order = index in the (T, J, C) arrays
    bones: [[a, b], ...]              # undirected physical connections
    flip_pairs: [[l_x, r_x], ...]     # swapped by a left/right flip
    center: [c]                       # hierarchy centre: ring 0 (one joint or several)
    ring_levels: [0, 0, 1, 2, 2]      # optional: semantic level (H0/H1/H2) of each ring
    root: [pelvis]                    # optional: normalisation origin (mean of these)
    neck: [thorax]                    # optional: torso length = |mean(neck) - mean(root)|
    head: [head_top, upper_neck]      # optional: head segment used by PCKh
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import yaml

from graphs.errors import LayoutError

LAYOUT_DIR = Path(__file__).resolve().parent / "layouts"


@dataclass(frozen=True)
class Layout:
    """A skeleton layout. Indices are 0-based positions in :attr:`joints`."""

    name: str
    joints: tuple[str, ...]
    bones: tuple[tuple[str, str], ...]
    flip_pairs: tuple[tuple[str, str], ...] = ()
    center: tuple[str, ...] = ()
    ring_levels: tuple[int, ...] | None = None
    root: tuple[str, ...] = ()
    neck: tuple[str, ...] = ()
    head: tuple[str, ...] = ()
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, spec: dict[str, Any], source: str | None = None) -> Layout:
        """Build a layout from a parsed YAML mapping; errors name ``source`` and the field."""
        if not isinstance(spec, dict):
            raise LayoutError(f"expected a mapping, got {type(spec).__name__}", source)
        for key in ("name", "joints", "bones"):
            if key not in spec:
                raise LayoutError("missing required field", source, key)
        unknown = set(spec) - {f for f in cls.__dataclass_fields__ if f != "source"}
        if unknown:
            raise LayoutError(f"unknown field(s) {sorted(unknown)}", source)

        def names(key: str) -> tuple[str, ...]:
            value = spec.get(key) or ()
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise LayoutError("expected a list of joint names", source, key)
            return tuple(value)

        def pairs(key: str) -> tuple[tuple[str, str], ...]:
            value = spec.get(key) or ()
            out = []
            for i, p in enumerate(value):
                if not (isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, str) for v in p)):
                    raise LayoutError(f"entry {i} is {p!r}, expected a pair of joint names", source, key)
                out.append((p[0], p[1]))
            return tuple(out)

        levels = spec.get("ring_levels")
        if levels is not None:
            if not isinstance(levels, (list, tuple)) or not all(isinstance(v, int) for v in levels):
                raise LayoutError("expected a list of integers (0, 1, 2)", source, "ring_levels")
            levels = tuple(levels)
        return cls(
            name=str(spec["name"]),
            joints=names("joints"),
            bones=pairs("bones"),
            flip_pairs=pairs("flip_pairs"),
            center=names("center"),
            ring_levels=levels,
            root=names("root"),
            neck=names("neck"),
            head=names("head"),
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "joints": list(self.joints),
            "bones": [list(b) for b in self.bones],
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "center": list(self.center),
        }
        if self.ring_levels is not None:
            out["ring_levels"] = list(self.ring_levels)
        for key in ("root", "neck", "head"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        return out

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        src = self.source
        if not self.joints:
            raise LayoutError("a layout needs at least one joint", src, "joints")
        seen: set[str] = set()
        for j in self.joints:
            if j in seen:
                raise LayoutError(f"duplicate joint name '{j}'", src, "joints")
            seen.add(j)
        for key in ("center", "root", "neck", "head"):
            for j in getattr(self, key):
                if j not in seen:
                    raise LayoutError(f"unknown joint '{j}' (not in joints)", src, key)
        for key in ("bones", "flip_pairs"):
            for a, b in getattr(self, key):
                for j in (a, b):
                    if j not in seen:
                        raise LayoutError(f"unknown joint '{j}' in pair ({a}, {b})", src, key)
                if a == b:
                    raise LayoutError(f"pair ({a}, {b}) joins a joint to itself", src, key)
        flipped = [j for p in self.flip_pairs for j in p]
        if len(flipped) != len(set(flipped)):
            raise LayoutError("a joint appears in more than one flip pair", src, "flip_pairs")
        if len(self.joints) > 1 and not nx.is_connected(self.graph):
            parts = [sorted(c) for c in nx.connected_components(self.graph)]
            raise LayoutError(f"the bone graph is not connected: components {parts}", src, "bones")
        if not self.center:
            raise LayoutError("give the hierarchy centre joint(s)", src, "center")

    # ------------------------------------------------------------------ accessors
    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def __len__(self) -> int:
        return len(self.joints)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {j: i for i, j in enumerate(self.joints)}

    def index(self, name: str) -> int:
        """0-based index of a joint; :class:`LayoutError` for an unknown name."""
        try:
            return self._index[name]
        except KeyError:
            raise LayoutError(f"unknown joint '{name}'; joints are {list(self.joints)}", self.source) from None

    def indices(self, names: Iterable[str]) -> list[int]:
        return [self.index(n) for n in names]

    @cached_property
    def bone_index(self) -> np.ndarray:
        """``(B, 2)`` int64 array of bone endpoints."""
        return np.array([[self.index(a), self.index(b)] for a, b in self.bones], dtype=np.int64).reshape(-1, 2)

    @cached_property
    def flip_index(self) -> np.ndarray:
        """Permutation ``p`` with ``flipped[:, j] = data[:, p[j]]`` (left and right swapped)."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            ia, ib = self.index(a), self.index(b)
            perm[ia], perm[ib] = ib, ia
        return perm

    @cached_property
    def graph(self) -> nx.Graph:
        """Undirected networkx graph of the bones, nodes are joint indices."""
        g = nx.Graph()
        g.add_nodes_from(range(self.num_joints))
        g.add_edges_from((self._index[a], self._index[b]) for a, b in self.bones)
        return g

    def root_index(self) -> list[int]:
        return self.indices(self.root)

    def neck_index(self) -> list[int]:
        return self.indices(self.neck)

    def head_index(self) -> list[int]:
        return self.indices(self.head)


# ---------------------------------------------------------------------- registry
_REGISTRY: dict[str, Layout] = {}


def load_layout(path: str | Path) -> Layout:
    """Read a layout from YAML (``yaml.safe_load``); errors name the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LayoutError(f"cannot read layout file ({exc.strerror})", path) from exc
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LayoutError(f"not valid YAML: {exc}", path) from exc
    return Layout.from_dict(spec, source=str(path))


_BUILTINS: list[str] = []  # names of the layouts shipped in graphs/layouts (loaded once)


def same_layout(a: Layout, b: Layout) -> bool:
    """Whether two layouts describe the same skeleton (their specs, not where they came from)."""
    return a.to_dict() == b.to_dict()


def register_layout(layout: Layout | str | Path | dict[str, Any], overwrite: bool = False) -> Layout:
    """Add a layout (object, YAML path or spec dict) to the registry of :func:`get_layout`,
    beside the built-ins. Registering the same spec again is a no-op; a different spec
    under a registered name is an error naming both sources (``overwrite`` replaces a
    layout that is not built in)."""
    _load_builtins()
    if isinstance(layout, dict):
        layout = Layout.from_dict(layout)
    elif not isinstance(layout, Layout):
        layout = load_layout(layout)
    existing = _REGISTRY.get(layout.name)
    if existing is not None and not same_layout(existing, layout):
        if not overwrite or layout.name in _BUILTINS:
            raise LayoutError(
                f"two different layouts are named '{layout.name}': {existing.source or 'registered in code'} "
                f"and {layout.source or 'this one'} (rename one of them)",
                layout.source,
            )
    if existing is None or overwrite:
        _REGISTRY[layout.name] = layout
    return _REGISTRY[layout.name]


def _load_builtins() -> None:
    if _BUILTINS:
        return
    for path in sorted(LAYOUT_DIR.glob("*.yaml")):
        lay = load_layout(path)
        _REGISTRY[lay.name] = lay
        _BUILTINS.append(lay.name)


def is_builtin(name: str) -> bool:
    _load_builtins()
    return name in _BUILTINS


def available_layouts() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get_layout(name: str | Path | Layout) -> Layout:
    """A registered layout by name, or a layout YAML by path."""
    if isinstance(name, Layout):
        return name
    _load_builtins()
    if isinstance(name, str) and name in _REGISTRY:
        return _REGISTRY[name]
    if str(name).endswith((".yaml", ".yml")) and Path(name).exists():
        return register_layout(name)
    raise LayoutError(f"unknown layout '{name}'; known layouts: {available_layouts()} (or give a YAML path)")


def joint_names(layout: str | Layout) -> Sequence[str]:
    return get_layout(layout).joints
