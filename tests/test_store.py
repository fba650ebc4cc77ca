"""core.store: the diskcache store of decoded image folders (hit, LRU size limit, damaged entries,
unreadable cache)."""

from __future__ import annotations

import warnings

import diskcache
import numpy as np
import pytest
from PIL import Image

from core.data import folder as data_folder
from core.data.sources import load_dataset
from core.io import REPO_ROOT
from core.store import DATASETS_DIR, ArrayStore, array_sha1


def _arrays(i: int, n: int = 25_000) -> dict[str, np.ndarray]:
    """~200 KB of int64."""
    return {"x": np.arange(n, dtype=np.int64) + i, "names": np.array([f"c{i}", "d"])}


def _value_files(directory):
    return sorted(directory.rglob("*.val"))


def test_store_round_trip_and_miss(tmp_path):
    store = ArrayStore(tmp_path / "c")
    assert store.get("nope") is None
    store.put("k", _arrays(3))
    got = store.get("k")
    assert set(got) == {"x", "names"}
    np.testing.assert_array_equal(got["x"], _arrays(3)["x"])
    assert got["names"].tolist() == ["c3", "d"]
    assert ArrayStore(tmp_path / "c").keys() == ["k"]  # persistent: a second store sees it


def test_default_location_is_the_repo_cache_folder():
    assert DATASETS_DIR == REPO_ROOT / "cache" / "datasets"
    assert ArrayStore().directory == DATASETS_DIR and ArrayStore("x").directory.name == "x"


def test_size_limit_evicts_the_least_recently_used(tmp_path):
    store = ArrayStore(tmp_path / "c", size_limit=500_000)  # room for two ~200 KB entries
    store.put("a", _arrays(0))
    store.put("b", _arrays(1))
    assert store.keys() == ["a", "b"]
    assert store.get("a") is not None  # a is now more recently used than b
    store.put("c", _arrays(2))
    assert sorted(store.keys()) == ["a", "c"] and store.volume() <= 500_000
    np.testing.assert_array_equal(store.get("c")["x"], _arrays(2)["x"])
    assert len(_value_files(tmp_path / "c")) == 2  # b's file is gone from disk too


def test_an_entry_larger_than_the_limit_is_kept_alone(tmp_path):
    store = ArrayStore(tmp_path / "c", size_limit=300_000)
    store.put("a", _arrays(0))
    store.put("big", _arrays(1, n=50_000))  # 400 KB > limit: a is evicted, big stays
    assert store.keys() == ["big"]


def test_tag_replaces_the_older_version(tmp_path):
    store = ArrayStore(tmp_path / "c")
    store.put("folder-1-v1", _arrays(0), tag="folder-1")
    store.put("other", _arrays(1), tag="folder-2")
    store.put("folder-1-v2", _arrays(2), tag="folder-1")
    assert sorted(store.keys()) == ["folder-1-v2", "other"]


def test_small_values_written_by_diskcache_itself_are_read(tmp_path):
    store = ArrayStore(tmp_path / "c")
    store.put("k", _arrays(1, n=10))
    with diskcache.Cache(str(tmp_path / "c")) as raw:  # a value kept inside SQLite (bytes, not a file)
        raw.set("inline", raw.get("k"))
    np.testing.assert_array_equal(store.get("inline")["x"], _arrays(1, n=10)["x"])


def test_damaged_entry_is_a_miss_and_deleted(tmp_path):
    store = ArrayStore(tmp_path / "c")
    store.put("k", _arrays(0))
    (path,) = _value_files(tmp_path / "c")
    path.write_bytes(b"not an npz file")
    assert store.get("k") is None
    assert store.keys() == [] and _value_files(tmp_path / "c") == []
    store.put("k", _arrays(0))
    assert store.get("k") is not None


def test_unreadable_cache_warns_and_misses(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "cache.db").write_bytes(b"this is not a SQLite database" * 100)
    store = ArrayStore(tmp_path / "c")
    with pytest.warns(UserWarning, match=r"unreadable .*delete that folder"):
        assert store.get("k") is None
    with pytest.warns(UserWarning, match="continuing uncached"):
        store.put("k", _arrays(0))


def _folder(root):
    for c in ("a", "b"):
        for i in range(4):
            path = root / c / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng(i + 10 * (c == "b"))
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def decode_calls(monkeypatch):
    calls = []
    real = data_folder._decode_files
    monkeypatch.setattr(data_folder, "_decode_files", lambda *a: calls.append(1) or real(*a))
    return calls


def test_folder_hit_equals_decode_and_damaged_entry_is_decoded_again(tmp_path, decode_calls):
    root, cache = tmp_path / "imgs", tmp_path / "cache"
    _folder(root)
    first = load_dataset(f"folder:{root}", cache_dir=str(cache))
    second = load_dataset(f"folder:{root}", cache_dir=str(cache))
    assert len(decode_calls) == 1
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, key), getattr(second, key))
    assert second.classes == ["a", "b"] and second.x_train.dtype == np.uint8
    (path,) = _value_files(cache)
    path.write_bytes(path.read_bytes()[:100])  # torn value file
    third = load_dataset(f"folder:{root}", cache_dir=str(cache))
    assert len(decode_calls) == 2
    np.testing.assert_array_equal(third.x_train, first.x_train)
    load_dataset(f"folder:{root}", cache_dir=str(cache))
    assert len(decode_calls) == 2  # the rebuilt entry is a hit again


def test_folder_image_sizes_are_separate_entries(tmp_path, decode_calls):
    root, cache = tmp_path / "imgs", tmp_path / "cache"
    _folder(root)
    small = load_dataset(f"folder:{root}", cache_dir=str(cache))
    big = load_dataset(f"folder:{root}", image_size=16, cache_dir=str(cache))
    again = load_dataset(f"folder:{root}", image_size=16, cache_dir=str(cache))
    assert len(decode_calls) == 2 and len(ArrayStore(cache).keys()) == 2
    assert small.x_train.shape[-1] == 8 and big.x_train.shape[-1] == again.x_train.shape[-1] == 16


def test_folder_unwritable_cache_still_loads(tmp_path, decode_calls):
    root, cache = tmp_path / "imgs", tmp_path / "cache"
    _folder(root)
    cache.mkdir()
    (cache / "cache.db").write_bytes(b"garbage" * 1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset(f"folder:{root}", cache_dir=str(cache))
    assert ds.x_train.shape == (6, 3, 8, 8)
    assert any("unreadable" in str(w.message) for w in caught)


def test_array_sha1_sees_shape_dtype_and_bytes():
    a = np.arange(6, dtype=np.float32)
    assert array_sha1(a) == array_sha1(a.copy())
    assert len({array_sha1(a), array_sha1(a.reshape(2, 3)), array_sha1(a.astype(np.float64))}) == 3
    assert array_sha1(a[::2]) == array_sha1(np.ascontiguousarray(a[::2]))
    b = a.copy()
    b[5] = np.nextafter(b[5], np.float32(10))
    assert array_sha1(b) != array_sha1(a)
