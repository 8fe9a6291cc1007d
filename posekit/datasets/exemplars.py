"""Exemplar selection for contrastive regression (CoRe, TSA, HP-MCoRe).

* Training: each query is paired with one other training sample (never itself). "w/ DN"
  draws it from the same dive number when another one exists, "w/o DN" from the whole
  training set.
* Test: each query gets ``M`` exemplars (default 10) from the training set for
  multi-exemplar voting (TSA eq. 10). "w/ DN" takes them from the same dive number; when
  fewer than ``M`` exist, it warns and fills up from the rest of the training set.

Choices depend only on ``(seed, key[, epoch])`` - not on the order of calls - so the same
query gets the same exemplars in every run and every worker.
"""

from __future__ import annotations

import warnings
import zlib
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from posekit.errors import AnnotationError


def stable_hash(key: Hashable) -> int:
    """A hash of ``repr(key)`` that is the same in every process (unlike ``hash``)."""
    return zlib.crc32(repr(key).encode("utf-8"))


class ExemplarSampler:
    """Deterministic exemplar choice over a pool of training keys."""

    def __init__(
        self, train_keys: Sequence[Hashable], dive_numbers: Mapping[Hashable, str] | None = None, seed: int = 0
    ):
        # a canonical order, so choices do not depend on the order the pool was given in
        self.train_keys = sorted(train_keys, key=repr)
        if len(set(self.train_keys)) != len(self.train_keys):
            raise AnnotationError("duplicate keys in the exemplar pool")
        if not self.train_keys:
            raise AnnotationError("the exemplar pool is empty")
        self.dive_numbers = dict(dive_numbers or {})
        self.seed = int(seed)
        self.by_dn: dict[str, list[Hashable]] = defaultdict(list)
        for k in self.train_keys:
            self.by_dn[self.dive_numbers.get(k, "")].append(k)

    def _rng(self, key: Hashable, *salt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, stable_hash(key), *salt])

    def _pick(self, rng: np.random.Generator, pool: list[Hashable], n: int) -> list[Hashable]:
        idx = rng.choice(len(pool), size=n, replace=False)
        return [pool[i] for i in idx]

    def train_exemplar(self, key: Hashable, epoch: int = 0, use_dn: bool = True) -> Hashable:
        """One exemplar for a training query (never the query itself)."""
        rng = self._rng(key, 1, epoch)
        if use_dn and key in self.dive_numbers:
            same = [k for k in self.by_dn[self.dive_numbers[key]] if k != key]
            if same:
                return self._pick(rng, same, 1)[0]
        others = [k for k in self.train_keys if k != key]
        if not others:
            raise AnnotationError(f"no exemplar for {key!r}: the pool holds only the query")
        return self._pick(rng, others, 1)[0]

    def test_exemplars(
        self, key: Hashable, M: int = 10, use_dn: bool = True, dive_number: str | None = None
    ) -> list[Hashable]:
        """``M`` distinct training exemplars for a test query (w/ DN or w/o DN)."""
        rng = self._rng(key, 2)
        others = [k for k in self.train_keys if k != key]
        if M > len(others):
            raise AnnotationError(f"asked for M = {M} exemplars but the pool has {len(others)} candidates")
        if not use_dn:
            return self._pick(rng, others, M)
        dn = dive_number if dive_number is not None else self.dive_numbers.get(key)
        if dn is None:
            raise AnnotationError(f"query {key!r} has no dive number; pass dive_number= or use_dn=False")
        same = [k for k in self.by_dn.get(dn, []) if k != key]
        if len(same) >= M:
            return self._pick(rng, same, M)
        warnings.warn(
            f"query {key!r}: only {len(same)} training exemplar(s) with dive number {dn}, fewer than M = {M}; "
            f"filling {M - len(same)} from other dive numbers",
            stacklevel=2,
        )
        rest = [k for k in others if k not in set(same)]
        return [*self._pick(rng, same, len(same)), *self._pick(rng, rest, M - len(same))]
