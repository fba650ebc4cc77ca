"""core.data.imagestore: the on-disk image store equals the in-memory decode bit for bit, is keyed on the
folder's content, is never read while partial, resumes, refuses a full disk, and survives two builders."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data import imagestore, storebuild
from core.data.decode import decode_files, resize_images
from core.data.folder import _layout, _scan_layout, folder_stored
from core.errors import HardpairsError
from core.store import list_stores

REPO = Path(__file__).resolve().parents[1]


def make_folder(root: Path, per_class: int = 7, bad: bool = True) -> Path:
    """Three classes of JPEG/PNG images of mixed sizes and modes (RGB, L, RGBA), plus one unreadable file."""
    rng = np.random.default_rng(0)
    for k, c in enumerate(["cat", "dog", "eel"]):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            h, w = 20 + (i % 3) * 4, 24
            if i % 3 == 1:
                im = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L")
            elif i % 3 == 2:
                im = Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
            else:
                im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8) // (k + 1))
            im.save(root / c / f"{i}.{'jpg' if i % 2 and im.mode != 'RGBA' else 'png'}")
    if bad:
        (root / "dog" / "broken.jpg").write_bytes(b"not an image")
    return root


def reference(root: Path, image_size: int | None) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """The in-memory decode (``decode_files``) in store order: (images, labels, n_train, skipped)."""
    groups, classes, split_layout = _scan_layout(root)
    files = [f[0] for _, _, f in groups]
    x, ok = decode_files(files, image_size)
    labels = np.array([classes.index(c) for c, _, _ in groups], np.int64)
    splits = np.array([s for _, s, _ in groups], np.int64)
    order, n_train = _layout(root, ok, labels, splits, classes, split_layout)
    return x[order], labels[order], n_train, [files[i] for i in np.flatnonzero(~ok)]


def _images(stored: imagestore.StoredImages) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([stored.x_train, stored.x_test]), np.concatenate([stored.y_train, stored.y_test])


@pytest.mark.parametrize("size", [16, None])
def test_store_equals_the_in_memory_decode_bit_for_bit(tmp_path, monkeypatch, size):
    monkeypatch.setenv(storebuild.CHUNK_ENV, "4")  # several chunks, decoded by 2 worker processes
    monkeypatch.setenv(storebuild.WORKERS_ENV, "2")
    root = make_folder(tmp_path / "imgs")
    stored = folder_stored(root, size, tmp_path / "cache")
    x_ref, y_ref, n_train, skipped = reference(root, size)
    x, y = _images(stored)
    assert x.dtype == np.uint8 and x.shape == x_ref.shape and x.shape[1] == 3
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert len(stored.x_train) == n_train and stored.skipped == skipped == [str(root / "dog" / "broken.jpg")]
    assert isinstance(stored.x_train, np.memmap) and not stored.x_train.flags.writeable
    meta = json.loads((stored.path / "meta.json").read_text())
    assert meta["classes"] == stored.classes == ["cat", "dog", "eel"] and meta["n"] == len(x_ref)
    assert sorted(os.listdir(stored.path.parent)) == [".locks", stored.path.name]  # no partial folder left


def test_array_store_equals_resize_images(tmp_path, monkeypatch):
    monkeypatch.setenv(storebuild.CHUNK_ENV, "5")
    rng = np.random.default_rng(1)
    xtr, xte = rng.integers(0, 256, (12, 3, 10, 10), np.uint8), rng.integers(0, 256, (7, 3, 10, 10), np.uint8)
    ytr, yte = np.arange(12) % 3, np.arange(7) % 3
    stored = imagestore.array_store("k1", xtr, ytr, xte, yte, ["a", "b", "c"], 16, tmp_path / "c")
    np.testing.assert_array_equal(stored.x_train, resize_images(xtr, 16))
    np.testing.assert_array_equal(stored.x_test, resize_images(xte, 16))
    assert stored.y_train.tolist() == ytr.tolist() and stored.y_test.tolist() == yte.tolist()
    again = imagestore.array_store("k1", xtr, ytr, xte, yte, ["a", "b", "c"], 16, tmp_path / "c")
    assert again.path == stored.path and again.sha1 == stored.sha1


def test_changed_file_gets_a_new_key_and_the_old_store_goes(tmp_path):
    root, cache = make_folder(tmp_path / "imgs", bad=False), tmp_path / "cache"
    first = folder_stored(root, 12, cache)
    old_path, old_sha1 = first.path, first.sha1
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(root / "cat" / "0.png")
    os.utime(root / "cat" / "0.png", ns=(1, 10**18))
    del first
    gc.collect()  # nothing of the old store is open any more: it may be removed
    second = folder_stored(root, 12, cache)
    assert second.path != old_path and second.sha1 != old_sha1 and not old_path.exists()
    assert [s["key"] for s in list_stores(cache)] == [second.path.name]
    np.testing.assert_array_equal(_images(second)[0], reference(root, 12)[0])


def test_a_partial_store_is_never_read_and_a_rerun_resumes_it(tmp_path, monkeypatch):
    monkeypatch.setenv(storebuild.CHUNK_ENV, "3")
    monkeypatch.setenv(storebuild.WORKERS_ENV, "1")
    root, cache = make_folder(tmp_path / "imgs"), tmp_path / "cache"
    real, calls = storebuild.decode_chunk, []

    def dies_after_two(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the build stops mid-way, as on Ctrl-C
        calls.append(args[1])
        return real(*args)

    monkeypatch.setattr(storebuild, "decode_chunk", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        folder_stored(root, 16, cache)
    (partial,) = list_stores(cache)
    assert not partial["complete"] and partial["path"].endswith(".building")
    assert imagestore.open_store(Path(partial["path"].removesuffix(".building"))) is None
    assert sorted(storebuild.done_chunks(Path(partial["path"]))) == calls == [0, 1]
    calls.clear()
    monkeypatch.setattr(storebuild, "decode_chunk", lambda *a: calls.append(a[1]) or real(*a))
    stored = folder_stored(root, 16, cache)
    assert calls == list(range(2, storebuild.n_chunks(21, 3)))  # only the missing chunks were decoded
    np.testing.assert_array_equal(_images(stored)[0], reference(root, 16)[0])
    assert [s["complete"] for s in list_stores(cache)] == [True]


def test_full_disk_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    root, cache = make_folder(tmp_path / "imgs"), tmp_path / "cache"
    monkeypatch.setattr(imagestore.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    with pytest.raises(HardpairsError) as err:
        folder_stored(root, 64, cache)
    msg = str(err.value)
    need = imagestore.store_disk_bytes(21, 3, 64)
    assert f"needs {need / 1e9:.2f} GB on disk" in msg and "0.00 GB free" in msg
    assert "--image-size" in msg and "HARDPAIRS_CACHE_DIR" in msg and "--cache-dir" in msg
    assert list_stores(cache) == []


def test_estimate_counts_images_labels_and_time(tmp_path):
    est = imagestore.estimate_build(100_000, 3, 224, tmp_path, workers=4)
    assert est["bytes"] == 100_000 * 3 * 224 * 224 + 1_600_000 + 768
    assert est["seconds"] == round(100_000 / (imagestore.BUILD_RATE_PER_CORE * 4), 1) and est["free_bytes"] > 0


def test_rank_chunks_are_disjoint_and_cover_everything():
    for total in (0, 1, 7, 64):
        for world in (1, 2, 3, 8):
            parts = [list(storebuild.rank_chunks(total, r, world)) for r in range(world)]
            assert sum(parts, []) == list(range(total))


_BUILD = (
    "import sys; from pathlib import Path; from core.data.folder import folder_stored; "
    "s = folder_stored(Path(sys.argv[1]), 16, Path(sys.argv[2])); print(s.sha1)"
)


def _builders(root: Path, cache: Path, envs: list[dict[str, str]]) -> list[subprocess.CompletedProcess[str]]:
    base = os.environ | {"PYTHONPATH": str(REPO), storebuild.CHUNK_ENV: "2", storebuild.WORKERS_ENV: "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILD, str(root), str(cache)],
            env=base | env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env in envs
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(120), *p.communicate()) for p in procs]


@pytest.mark.slow
def test_two_processes_building_one_store_at_once_agree(tmp_path):
    root, cache = make_folder(tmp_path / "imgs"), tmp_path / "cache"
    done = _builders(root, cache, [{}, {}])
    assert [d.returncode for d in done] == [0, 0], [d.stderr for d in done]
    sha = {d.stdout.split()[-1] for d in done}
    (stored,) = list_stores(cache)
    assert stored["complete"] and sha == {json.loads(Path(stored["path"], "meta.json").read_text())["sha1"]}
    np.testing.assert_array_equal(_images(imagestore.open_store(Path(stored["path"])))[0], reference(root, 16)[0])


@pytest.mark.slow
def test_torchrun_ranks_build_disjoint_ranges_and_rank_0_finalises(tmp_path, monkeypatch):
    monkeypatch.setenv(storebuild.CHUNK_ENV, "2")
    monkeypatch.setenv(storebuild.WORKERS_ENV, "1")
    root, cache = make_folder(tmp_path / "imgs"), tmp_path / "cache"
    real = storebuild.decode_chunk

    def stop(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(storebuild, "decode_chunk", stop)  # rank 0 plans, then stops before any chunk
    with pytest.raises(KeyboardInterrupt):
        folder_stored(root, 16, cache)
    monkeypatch.setattr(storebuild, "decode_chunk", real)
    (rank1,) = _builders(root, cache, [{"RANK": "1", "WORLD_SIZE": "2", imagestore.WAIT_ENV: "1"}])
    assert rank1.returncode != 0 and "waited 1 s for rank 0 to finish" in rank1.stderr  # rank 0 is not running
    bdir = Path(list_stores(cache)[0]["path"])
    total = storebuild.n_chunks(21, 2)
    assert sorted(storebuild.done_chunks(bdir)) == list(storebuild.rank_chunks(total, 1, 2))  # only its own range
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    stored = folder_stored(root, 16, cache)  # rank 0 builds the rest and finalises
    np.testing.assert_array_equal(_images(stored)[0], reference(root, 16)[0])
    assert [s["complete"] for s in list_stores(cache)] == [True]


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict, str]:
    from core.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, json.loads(out.splitlines()[-1]), err


def test_cli_store_dry_run_build_and_list(tmp_path, capsys):
    root, cache = make_folder(tmp_path / "imgs"), tmp_path / "cache"
    code, est, err = _cli(
        ["store", "--dataset", f"folder:{root}", "--image-size", "32", "--cache-dir", str(cache), "--dry-run"], capsys
    )
    assert code == 0 and est["rows"] == 22 and est["channels"] == 3 and est["image_size"] == [32, 32]
    assert est["bytes"] == imagestore.store_disk_bytes(22, 3, 32) and est["fits"] and "GB free" in err
    assert list_stores(cache) == []  # a dry run writes nothing
    code, out, err = _cli(
        ["store", "--dataset", f"folder:{root}", "--image-size", "32", "--cache-dir", str(cache)], capsys
    )
    assert code == 0 and out["rows"] == 21 and Path(out["store"]).parent == cache and "21 images stored" in err
    code, listed, err = _cli(["store", "--list", "--cache-dir", str(cache)], capsys)
    (row,) = listed["stores"]
    assert (
        row["complete"] and row["n"] == 21 and row["shape"] == [3, 32, 32] and row["key"] in err and "complete" in err
    )
    code, out, err = _cli(["store", "--dataset", "digits"], capsys)
    assert code == 2 and "folder:PATH" in out["error"]


def test_unwritable_store_folder_is_a_clear_error(tmp_path):
    root = make_folder(tmp_path / "imgs")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(HardpairsError, match="cannot write the image store in .*HARDPAIRS_CACHE_DIR=DIR"):
        folder_stored(root, 8, tmp_path / "file" / "cache")
