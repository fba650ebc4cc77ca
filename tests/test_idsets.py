"""core.idsets: the sort-based id-set operations equal NumPy's on random, empty and repeated ids."""

from __future__ import annotations

import numpy as np
import pytest

from core.idsets import complement_ids, union_ids, unique_ids


@pytest.mark.parametrize("seed", range(5))
def test_equal_to_numpy_on_random_sets(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-50, 2_000, rng.integers(0, 3_000))
    b = rng.integers(0, 2_500, (rng.integers(0, 40), 3))  # any shape is flattened
    for got, want in [
        (unique_ids(a), np.unique(a)),
        (union_ids(a, b), np.union1d(a, b)),
    ]:
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, want)


def test_edge_cases():
    assert unique_ids([]).tolist() == [] and unique_ids([]).dtype == np.int64
    assert unique_ids([7]).tolist() == [7]
    assert unique_ids([[3, 1], [3, 3]]).tolist() == [1, 3]
    assert union_ids([], [2, 2]).tolist() == [2]


def test_complement_ids_matches_setdiff_of_the_range():
    rng = np.random.default_rng(0)
    ids = rng.integers(-3, 120, 60)  # ids outside 0..n-1 are ignored
    np.testing.assert_array_equal(complement_ids(100, ids), np.setdiff1d(np.arange(100), ids))
    assert complement_ids(4, []).tolist() == [0, 1, 2, 3] and complement_ids(0, [1]).tolist() == []
    assert complement_ids(3, [0, 1, 2]).dtype == np.int64
