"""core.store: the image stores' folders listed, evicted least-recently-used above the size limit (never one a
live process reads, never the one just built), older versions dropped, and the limit's environment variable."""

from __future__ import annotations

import gc
import json
import os

import numpy as np
import pytest

from core.errors import HardpairsError
from core.store import LIMIT_ENV, array_sha1, drop_versions, evict_stores, hold, limit_bytes, list_stores


def _store(root, key, kb, used, complete=True):
    path = root / (key if complete else key + ".building")
    path.mkdir(parents=True)
    (path / "images.npy").write_bytes(os.urandom(kb * 1024))
    if complete:
        (path / "meta.json").write_text(json.dumps({"format": 1, "key": key}))  # as imagestore writes it
    (path / "last_used").touch()
    os.utime(path / "last_used", (used, used))
    return path


def test_list_stores_sizes_and_completeness(tmp_path):
    _store(tmp_path, "a", 8, 100)
    _store(tmp_path, "b", 4, 200, complete=False)
    rows = list_stores(tmp_path)
    assert [(r["key"], r["complete"], r["last_used"]) for r in rows] == [("a", True, 100), ("b", False, 200)]
    assert rows[0]["bytes"] >= 8 * 1024 and list_stores(tmp_path / "missing") == []


def test_eviction_is_least_recently_used_and_spares_partial_and_kept(tmp_path):
    for key, used in (("old", 100), ("mid", 200), ("new", 300)):
        _store(tmp_path, key, 40, used)
    _store(tmp_path, "part", 40, 50, complete=False)
    removed = evict_stores(tmp_path, keep="old", limit=100 * 1024)
    assert removed == ["mid", "new"]  # the oldest is the one being kept; the partial build is never removed
    assert sorted(r["key"] for r in list_stores(tmp_path)) == ["old", "part"]


def test_a_store_held_by_a_live_reader_is_not_evicted(tmp_path):
    a, _ = _store(tmp_path, "a", 40, 100), _store(tmp_path, "b", 40, 200)
    owner = np.zeros(1)
    hold(a, owner)
    assert evict_stores(tmp_path, keep="none", limit=1) == ["b"]
    assert a.exists()
    del owner
    gc.collect()  # the reader's memmap is gone: its lock is released
    assert evict_stores(tmp_path, keep="none", limit=1) == ["a"]


def test_drop_versions_removes_older_stores_of_one_tag(tmp_path):
    for key in ("folder-x-1", "folder-x-2", "folder-y-1"):
        _store(tmp_path, key, 1, 100)
    _store(tmp_path, "folder-x-3", 1, 100, complete=False)
    drop_versions(tmp_path, "folder-x", keep="folder-x-2")
    assert [r["key"] for r in list_stores(tmp_path)] == ["folder-x-2", "folder-x-3", "folder-y-1"]


def test_limit_from_the_environment(monkeypatch):
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    assert limit_bytes() == 200 * 10**9
    monkeypatch.setenv(LIMIT_ENV, "1.5")
    assert limit_bytes() == 1_500_000_000
    monkeypatch.setenv(LIMIT_ENV, "lots")
    with pytest.raises(HardpairsError, match="HARDPAIRS_IMAGE_STORE_GB=200"):
        limit_bytes()


def test_array_sha1_depends_on_shape_dtype_and_bytes():
    x = np.arange(6, dtype=np.int64)
    assert array_sha1(x) == array_sha1(x.copy()) != array_sha1(x.reshape(2, 3)) != array_sha1(x.astype(np.int32))


def test_eviction_never_removes_a_folder_the_store_did_not_write(tmp_path):
    # a --cache-dir pointed at a folder with other data: a sub-folder holding its own meta.json is not a store
    from core.store import evict_stores

    other = tmp_path / "my-results"
    other.mkdir()
    (other / "meta.json").write_text('{"note": "mine"}')
    (other / "images.npy").write_bytes(b"x" * 1000)
    assert evict_stores(tmp_path, keep="none", limit=0) == []
    assert (other / "meta.json").read_text() == '{"note": "mine"}'
