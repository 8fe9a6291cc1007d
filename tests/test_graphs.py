"""Layouts, hierarchy and converters (graphs/)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from graphs import SUBSETS, Layout, build_hierarchy, convert, get_layout, get_mapping, load_layout, validate_rings
from posekit.errors import LayoutError

MPII_ORDER = [
    "r_ankle",
    "r_knee",
    "r_hip",
    "l_hip",
    "l_knee",
    "l_ankle",
    "pelvis",
    "thorax",
    "upper_neck",
    "head_top",
    "r_wrist",
    "r_elbow",
    "r_shoulder",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
]
# The rings of the FineDiving graph released with HP-MCoRe (graph/tools.py, CoM = 7), 0-based.
HPMCORE_GROUPS = [[7], [6, 8, 12, 13], [9, 14, 2, 3, 11], [10, 15, 1, 4], [5, 0]]


def test_builtin_layouts() -> None:
    assert list(get_layout("mpii16").joints) == MPII_ORDER
    assert get_layout("coco17").num_joints == 17
    assert get_layout("blazepose33").num_joints == 33
    for name in ("mpii16", "coco17", "blazepose33"):
        lay = get_layout(name)
        assert nx.is_connected(lay.graph)
        perm = lay.flip_index
        assert np.array_equal(perm[perm], np.arange(lay.num_joints))  # an involution
        for a, b in lay.flip_pairs:
            assert perm[lay.index(a)] == lay.index(b)


@pytest.mark.parametrize("name", ["mpii16", "coco17", "blazepose33"])
def test_hierarchy_is_valid(name: str) -> None:
    h = build_hierarchy(name)
    V = h.num_joints
    flat = sorted(j for ring in h.rings for j in ring)
    assert flat == list(range(V))  # every joint in exactly one ring, 0-based
    assert h.adjacency.shape == (3, 3, V, V)
    assert set(h.level_of_joint.tolist()) == {0, 1, 2}
    # ring distance is the graph distance to the centre
    dist = nx.multi_source_dijkstra_path_length(h.layout.graph, h.layout.indices(h.layout.center))
    assert all(h.ring_of_joint[j] == d for j, d in dist.items())
    for lv in range(3):
        for s in range(3):
            a = h.adjacency[lv, s]
            col = a.sum(axis=0)
            assert np.allclose(col[col > 0], 1.0)  # normalize_digraph: columns sum to 1
            ei = h.edge_index(lv, SUBSETS[s])
            assert ei.dtype == np.int64 and ei.shape[0] == 2 and ((ei >= 0) & (ei < V)).all()
            nz = set(zip(*np.nonzero(a.T), strict=True))  # (source, target)
            assert nz == set(map(tuple, ei.T.tolist()))
        cp, cf = h.edge_index(lv, "centripetal"), h.edge_index(lv, "centrifugal")
        assert all(h.ring_of_joint[s] == h.ring_of_joint[t] + 1 for s, t in cp.T)  # towards the centre
        assert set(map(tuple, cf.T.tolist())) == {(t, s) for s, t in cp.T.tolist()}
    # the three levels together hold exactly HD-GCN's ring-pair connections
    lv_edges = {e for lv in range(3) for e in map(tuple, h.edge_index(lv, "centrifugal").T.tolist())}
    ring_edges = {
        (int(s), int(t))
        for r in range(len(h.rings) - 1)
        for t, s in zip(*np.nonzero(h.ring_adjacency[r, 2]), strict=True)
    }
    assert lv_edges == ring_edges


def test_mpii_rings_match_hpmcore_released_graph() -> None:
    h = build_hierarchy("mpii16")
    assert [sorted(r) for r in h.rings] == [sorted(g) for g in HPMCORE_GROUPS]
    assert h.ring_names()[-1] == ["r_ankle", "l_ankle"]


def test_off_by_one_of_the_public_implementation_is_refused() -> None:
    # HP-MCoRe's AHA module converts these already 0-based groups with `i - 1` ...
    shifted = [[i - 1 for i in g] for g in HPMCORE_GROUPS]
    assert -1 in shifted[-1]
    # ... and Python's negative indexing turns the right ankle into the left wrist, silently:
    assert MPII_ORDER[shifted[-1][1]] == "l_wrist"
    with pytest.raises(LayoutError, match="0-based"):
        validate_rings(shifted, 16)
    with pytest.raises(LayoutError, match="in no ring"):
        validate_rings(HPMCORE_GROUPS[:-1], 16)
    with pytest.raises(LayoutError, match="ring 0 and in ring 1"):
        validate_rings([[7], [7, 6]], 16)


def test_edge_index_drives_pyg_layers() -> None:
    import torch
    from torch_geometric.nn import EdgeConv, GCNConv

    h = build_hierarchy("mpii16")
    x = torch.randn(16, 3)
    ei = torch.from_numpy(h.edge_index(2, "centripetal"))
    assert GCNConv(3, 4)(x, ei).shape == (16, 4)
    inter = torch.from_numpy(h.inter_level_edge_index(1))
    assert EdgeConv(torch.nn.Linear(6, 4))(x, inter).shape == (16, 4)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "layout.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_user_layout_with_equipment(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        name: skier
        joints: [pelvis, neck, head, l_hand, r_hand, l_foot, r_foot, l_ski_tip, r_ski_tip, pole_l, pole_r]
        bones: [[pelvis, neck], [neck, head], [neck, l_hand], [neck, r_hand], [pelvis, l_foot],
                [pelvis, r_foot], [l_foot, l_ski_tip], [r_foot, r_ski_tip], [l_hand, pole_l], [r_hand, pole_r]]
        flip_pairs: [[l_hand, r_hand], [l_foot, r_foot], [l_ski_tip, r_ski_tip], [pole_l, pole_r]]
        center: [pelvis]
        root: [pelvis]
        neck: [neck]
        """,
    )
    lay = load_layout(p)
    h = build_hierarchy(lay)
    assert h.adjacency.shape == (3, 3, 11, 11)
    assert h.level_of_joint[lay.index("pelvis")] == 0
    assert h.level_of_joint[lay.index("pole_l")] == 2


@pytest.mark.parametrize(
    "body,field,message",
    [
        ("joints: [a, b]\nbones: [[a, c]]\ncenter: [a]", "bones", "unknown joint 'c'"),
        ("joints: [a, b, c]\nbones: [[a, b]]\ncenter: [a]", "bones", "not connected"),
        ("joints: [a, a]\nbones: []\ncenter: [a]", "joints", "duplicate"),
        ("joints: [a, b]\ncenter: [a]", "bones", "missing required field"),
        ("joints: [a, b]\nbones: [[a, b]]\ncenter: [z]", "center", "unknown joint 'z'"),
        ("joints: [a, b]\nbones: [[a]]\ncenter: [a]", "bones", "expected a pair"),
    ],
)
def test_bad_layout_names_file_and_field(tmp_path: Path, body: str, field: str, message: str) -> None:
    p = write(tmp_path, "name: bad\n" + body + "\n")
    with pytest.raises(LayoutError) as err:
        load_layout(p)
    assert str(p) in str(err.value) and f"field '{field}'" in str(err.value) and message in str(err.value)


def test_too_few_rings_for_three_levels() -> None:
    lay = Layout(name="tiny", joints=("a", "b"), bones=(("a", "b"),), center=("a",))
    with pytest.raises(LayoutError, match="at least 3"):
        build_hierarchy(lay)


def test_unknown_layout() -> None:
    with pytest.raises(LayoutError, match="unknown layout 'nope'"):
        get_layout("nope")


# ---------------------------------------------------------------------- converters
def coco_pose(rng: np.random.Generator, T: int = 4) -> np.ndarray:
    xy = rng.uniform(0, 500, (T, 17, 2))
    conf = rng.uniform(0.5, 1.0, (T, 17, 1))
    return np.concatenate([xy, conf], -1).astype(np.float32)


def test_coco_to_mpii_copies_limbs_and_synthesises_the_rest() -> None:
    rng = np.random.default_rng(0)
    src = coco_pose(rng)
    out = convert(src, "coco17", "mpii16")
    coco, mpii = get_layout("coco17"), get_layout("mpii16")
    assert out.shape == (4, 16, 3) and out.dtype == np.float32
    assert np.allclose(out[:, mpii.index("r_knee")], src[:, coco.index("right_knee")])
    hips = src[:, [coco.index("left_hip"), coco.index("right_hip")]]
    assert np.allclose(out[:, mpii.index("pelvis"), :2], hips[..., :2].mean(1), atol=1e-4)
    assert np.allclose(out[:, mpii.index("pelvis"), 2], hips[..., 2].min(1))
    m = get_mapping("coco17", "mpii16")
    assert set(m.synthesised) == {"pelvis", "thorax", "upper_neck", "head_top"}
    # head_top lies above the ears for an upright pose
    up = src.copy()
    up[:, coco.index("left_ear"), 1] = up[:, coco.index("right_ear"), 1] = 100
    up[:, coco.index("left_shoulder"), 1] = up[:, coco.index("right_shoulder"), 1] = 200
    o = convert(up, "coco17", "mpii16")
    assert (o[:, mpii.index("head_top"), 1] < 100).all() and (o[:, mpii.index("upper_neck"), 1] > 100).all()


def test_conversion_is_affine_equivariant_and_carries_missing() -> None:
    rng = np.random.default_rng(1)
    src = coco_pose(rng)
    moved = src.copy()
    moved[..., :2] = src[..., :2] * 2.5 + np.array([10.0, -7.0])
    a, b = convert(src, "coco17", "mpii16"), convert(moved, "coco17", "mpii16")
    assert np.allclose(b[..., :2], a[..., :2] * 2.5 + np.array([10.0, -7.0]), atol=1e-3)
    src[1, get_layout("coco17").index("left_ear"), 2] = 0.0  # a missing ear
    out = convert(src, "coco17", "mpii16")
    mpii = get_layout("mpii16")
    assert out[1, mpii.index("head_top"), 2] == 0 and out[1, mpii.index("upper_neck"), 2] == 0
    assert out[1, mpii.index("r_knee"), 2] > 0


def test_blazepose_to_mpii() -> None:
    rng = np.random.default_rng(2)
    src = np.concatenate([rng.uniform(0, 1, (3, 33, 2)), np.ones((3, 33, 1))], -1)
    out = convert(src, "blazepose33", "mpii16")
    bp, mpii = get_layout("blazepose33"), get_layout("mpii16")
    assert np.allclose(out[:, mpii.index("l_wrist"), :2], src[:, bp.index("left_wrist"), :2])
    with pytest.raises(LayoutError, match="expected"):
        convert(src[:, :20], "blazepose33", "mpii16")


def test_no_mapping_is_a_clear_error() -> None:
    with pytest.raises(LayoutError, match="no mapping registered from mpii16 to coco17"):
        get_mapping("mpii16", "coco17")
