"""Restricted unpickling and atomic writes."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from posekit.errors import AnnotationError, UnsafePickleError
from posekit.io import restricted_pickle_load, write_json


class Exploit:
    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_malicious_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"a": Exploit(str(marker))}))
    with pytest.raises(UnsafePickleError, match="evil.pkl.*(posix|os).system"):
        restricted_pickle_load(p)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_data_pickles_load(tmp_path: Path, protocol: int) -> None:
    obj = {
        ("clip", 1): {
            "score": np.float64(88.5),
            "frames": np.arange(5),
            "names": {np.int64(4): "Inward"},
            "judges": [9.5, 9.0],
        }
    }
    p = tmp_path / "ok.pkl"
    p.write_bytes(pickle.dumps(obj, protocol=protocol))
    back = restricted_pickle_load(p)
    assert back[("clip", 1)]["score"] == 88.5
    assert np.array_equal(back[("clip", 1)]["frames"], np.arange(5))


def test_garbage_pickle_names_file(tmp_path: Path) -> None:
    p = tmp_path / "junk.pkl"
    p.write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(AnnotationError, match="junk.pkl"):
        restricted_pickle_load(p)


def test_real_annotation_pickles_load(shared_data: Path) -> None:
    for rel in [
        "finediving/annotations/FineDiving_fine-grained_annotation.pkl",
        "mtl_aqa/annotations/final_annotations_dict_with_dive_number.pkl",
    ]:
        assert len(restricted_pickle_load(shared_data / rel)) > 1000


def test_write_json_is_atomic(tmp_path: Path) -> None:
    p = write_json(tmp_path / "r.json", {"x": np.float32(1.5), "a": np.arange(3)})
    assert p.read_text().strip().startswith("{")
    assert [q.name for q in tmp_path.iterdir()] == ["r.json"]
