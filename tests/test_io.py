"""core.io: atomic writes create files with the user's umask (not mkstemp's private 0o600)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from core.io import atomic_write_bytes, current_umask, save_npy, save_npz, write_json


@pytest.fixture
def umask():
    """Set a umask for one test and restore the old one afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    assert current_umask() == mask
    atomic_write_bytes(tmp_path / "a.bin", b"abc")
    write_json(tmp_path / "b.json", {"x": 1})
    save_npz(tmp_path / "c.npz", x=np.arange(3))
    save_npy(tmp_path / "d.npy", np.arange(3))
    for name in ("a.bin", "b.json", "c.npz", "d.npy"):
        assert _mode(tmp_path / name) == expected, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.json", "c.npz", "d.npy"]  # no temp files


def test_rewrite_is_still_atomic_and_takes_the_new_mode(tmp_path, umask, monkeypatch):
    umask(0o077)
    atomic_write_bytes(tmp_path / "f", b"old")
    assert _mode(tmp_path / "f") == 0o600
    umask(0o022)

    def broken_fsync(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write_bytes(tmp_path / "f", b"new")
    assert (tmp_path / "f").read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]  # old file whole, no temp left
    monkeypatch.undo()
    atomic_write_bytes(tmp_path / "f", b"new")
    assert (tmp_path / "f").read_bytes() == b"new" and _mode(tmp_path / "f") == 0o644


def test_save_npz_streams_a_sharded_array_into_a_mappable_member(tmp_path):
    """Sharded features (``ShardedArray``) are written block by block into ``features.npz``; the file
    is a normal uncompressed npz that ``np.load`` reads and ``map_npz`` memory-maps, equal to the
    concatenation of the shards."""
    from core.data.shards import ShardedArray
    from core.io import map_npz

    rng = np.random.default_rng(0)
    parts = [rng.standard_normal((n, 6)).astype(np.float32) for n in (5, 0, 70_000, 3)]  # one part spans blocks
    for i, part in enumerate(parts):
        save_npy(tmp_path / f"s{i}.npy", part)
    sharded = ShardedArray([np.load(tmp_path / f"s{i}.npy", mmap_mode="r") for i in range(len(parts))])
    y = np.arange(len(sharded), dtype=np.int64)
    save_npz(tmp_path / "f.npz", train=sharded, y_train=y)
    whole = np.concatenate(parts)
    with np.load(tmp_path / "f.npz") as data:
        np.testing.assert_array_equal(data["train"], whole)
        np.testing.assert_array_equal(data["y_train"], y)
    mapped = map_npz(tmp_path / "f.npz")
    assert isinstance(mapped["train"], np.memmap) and mapped["train"].shape == (70_008, 6)
    np.testing.assert_array_equal(mapped["train"], whole)
    assert not list(tmp_path.glob(".f.npz.*"))  # no temporary left behind
