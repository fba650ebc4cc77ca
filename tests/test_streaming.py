"""Streaming from the image store: the store path equals the in-memory path, bit for bit on the images,
to 1e-6 on features, and with the same weights after training (``core.data.residency``,
``core.data.mixing``, ``core.training.batches``, ``core.models.features``)."""

import dataclasses
import hashlib
import os

import numpy as np
import pytest
import torch

from core.data.mixing import MixedImages, mix_images, take_rows
from core.data.residency import STORE_ENV, hash_arrays, is_streamed, mixed_train, row_chunks, store_mode
from core.errors import HardpairsError
from tests.helpers import run_cli


def _mapped(tmp_path, name, x):
    """``x`` written to ``tmp_path/name.npy`` and opened read-only memory-mapped (a stand-in store)."""
    path = tmp_path / f"{name}.npy"
    np.save(path, x)
    return np.load(path, mmap_mode="r")


def _streamed(data, tmp_path):
    """``data`` with its images read from read-only memmaps (the store's view), mixing redone lazily."""
    x_tr, x_te = _mapped(tmp_path, "x_train", data.x_train), _mapped(tmp_path, "x_test", data.x_test)
    return dataclasses.replace(data, x_train=x_tr, x_test=x_te)


def _images(n=60, c=3, s=9, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, c, s, s), dtype=np.uint8), rng.integers(0, 4, n).astype(np.int64)


def test_mixed_view_equals_mix_images_for_every_read(tmp_path):
    x, y = _images()
    ref, mixed, partner = mix_images(x, y, 0.3, 0.7, seed=5)
    view, mixed2, partner2 = mixed_train(_mapped(tmp_path, "x", x), y, 0.3, 0.7, 5)
    assert isinstance(view, MixedImages) and is_streamed(view)
    assert np.array_equal(mixed, mixed2) and np.array_equal(partner, partner2) and mixed.sum() == 18
    assert view.shape == ref.shape and view.dtype == np.uint8 and len(view) == 60 and view.ndim == 4
    assert np.array_equal(np.asarray(view), ref)
    assert np.array_equal(view[7], ref[7]) and np.array_equal(view[-1], ref[-1])
    assert np.array_equal(view[3:41:3], ref[3:41:3]) and np.array_equal(view[10:20], ref[10:20])
    rows = np.array([59, 2, 2, 31, 0, 17])
    assert np.array_equal(view[rows], ref[rows]) and np.array_equal(view[mixed], ref[mixed])
    assert np.array_equal(np.concatenate(list(row_chunks(view, rows=7))), ref)


def test_take_rows_reads_sorted_and_returns_in_request_order(tmp_path):
    x, _ = _images()
    mm = _mapped(tmp_path, "x", x)
    rows = np.array([40, 3, 59, 3, 11])
    got = take_rows(mm, rows)
    assert not isinstance(got, np.memmap) and got.flags.writeable and np.array_equal(got, x[rows])


def test_chunked_hash_and_moments_equal_the_contiguous_ones(tmp_path):
    from core.data.sources import load_dataset

    x, y = _images(n=301)
    h1, h2 = hashlib.sha1(), hashlib.sha1()
    for arr in (x, y):
        h1.update(str((arr.shape, arr.dtype.str)).encode())
        h1.update(np.ascontiguousarray(arr).data)
    hash_arrays(h2, (_mapped(tmp_path, "x", x), y))
    assert h1.hexdigest() == h2.hexdigest()
    data = load_dataset("digits", mix=0.2)
    streamed = _streamed(data, tmp_path)
    assert np.array_equal(data.mean, streamed.mean) and np.array_equal(data.std, streamed.std)


def test_store_mode_is_checked(monkeypatch):
    monkeypatch.setenv(STORE_ENV, "sometimes")
    with pytest.raises(HardpairsError, match="HARDPAIRS_IMAGE_STORE='sometimes' is not one of auto, always, never"):
        store_mode()
    monkeypatch.setenv(STORE_ENV, "ALWAYS")
    assert store_mode() == "always"


@pytest.mark.slow
def test_features_from_a_memmap_equal_in_memory(tmp_path):
    from core.data.sources import load_dataset
    from core.models.features import extract_features
    from core.models.models import SimCLRModel

    torch.manual_seed(0)
    backbone = SimCLRModel("small_cnn", 1, 128, 64).backbone
    data = load_dataset("digits", mix=0.1)
    streamed = _streamed(data, tmp_path)
    view, _, _ = mixed_train(_mapped(tmp_path, "base", load_dataset("digits").x_train), data.y_train, 0.1, 0.5, 0)
    dev = torch.device("cpu")
    ref = extract_features(backbone, data.x_train[:400], 16, data.mean, data.std, dev, batch_size=100)
    for images in (streamed.x_train, view):  # the memmap, and the lazy mix over the unmixed store
        got = extract_features(backbone, images, 16, data.mean, data.std, dev, batch_size=100, rows=slice(0, 400))
        assert got.shape == (400, 128)
        np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)
    part = extract_features(backbone, view, 16, data.mean, data.std, dev, batch_size=64, rows=slice(100, 333))
    np.testing.assert_allclose(part, ref[100:333], atol=1e-6, rtol=0)


def _train_weights(cfg, data, run_dir, keep):
    from core.models.checkpoints import load_checkpoint_file
    from core.training.loop import train

    train(cfg, data, run_dir, keep=keep)
    return load_checkpoint_file(run_dir / "checkpoints" / "last.pt")["model"]


@pytest.mark.slow
def test_training_from_the_store_gives_the_same_weights(tmp_path, monkeypatch):
    from core.data.sources import load_dataset
    from core.training.batches import StreamedBatches, make_batches
    from core.training.config import make_config

    monkeypatch.setattr("core.training.batches.RELEASE_BYTES", 4096)  # drop pages mid-epoch too
    data = load_dataset("digits", mix=0.1)
    streamed = _streamed(data, tmp_path)
    lazy, _, _ = mixed_train(_mapped(tmp_path, "base", load_dataset("digits").x_train), data.y_train, 0.1, 0.5, 0)
    keep = np.arange(0, 1438, 4)
    cfg = make_config("digits", epochs=2, batch_size=64, mix=0.1, device="cpu")
    y = torch.from_numpy(data.y_train[keep])
    assert isinstance(make_batches(lazy, keep, y, torch.device("cpu"), 128, torch.nn.Linear(2, 2)), StreamedBatches)
    ref = _train_weights(cfg, data, tmp_path / "memory", keep)
    for name, x in (("memmap", streamed), ("lazy", dataclasses.replace(data, x_train=lazy))):
        got = _train_weights(cfg, x, tmp_path / name, keep)
        assert ref.keys() == got.keys()
        for k in ref:
            assert torch.equal(ref[k], got[k]), (name, k)


def test_streamed_working_set_is_checked_not_the_dataset(tmp_path, monkeypatch):
    from core.training.batches import make_batches

    x, y = _images(n=4000, s=64)  # 49 MB of images
    mm = _mapped(tmp_path, "x", x)
    model = torch.nn.Linear(10, 10)
    monkeypatch.setenv("HARDPAIRS_MAX_MEMORY_GB", str(8 * 2**20 / 2**30))  # 8 MiB
    batches = make_batches(mm, np.arange(4000), torch.from_numpy(y), torch.device("cpu"), 64, model)
    with batches.epoch(torch.randperm(4000), 64) as it:
        xb, yb = next(iter(it))
    assert xb.shape == (64, 3, 64, 64) and yb.shape == (64,)
    with pytest.raises(HardpairsError, match="streaming training batches of 2000 images.*smaller --batch-size"):
        make_batches(mm, np.arange(4000), torch.from_numpy(y), torch.device("cpu"), 2000, model)


def _folder(root, n_per_class=15, size=16):
    """``root/<class>/<i>.png``: 3 classes of random RGB images (a ``folder:`` source)."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for c in ("ant", "bee", "cat"):
        (root / c).mkdir(parents=True)
        for i in range(n_per_class):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    return f"folder:{root}"


def test_folder_store_path_equals_in_memory_path(tmp_path, monkeypatch):
    from core.data.sources import load_dataset
    from core.models.features import extract_features
    from core.models.models import SimCLRModel

    spec = _folder(tmp_path / "imgs")
    monkeypatch.setenv("HARDPAIRS_CACHE_DIR", str(tmp_path / "cache"))
    loaded = {}
    for mode in ("never", "always"):
        monkeypatch.setenv(STORE_ENV, mode)
        loaded[mode] = load_dataset(spec, mix=0.2, mix_lambda=0.6, seed=3, cache_dir=tmp_path / "cache")
    mem, st = loaded["never"], loaded["always"]
    assert not is_streamed(mem.x_train) and is_streamed(st.x_train) and isinstance(st.x_train, MixedImages)
    assert np.array_equal(np.asarray(st.x_train), mem.x_train) and np.array_equal(np.asarray(st.x_test), mem.x_test)
    assert st.fingerprint == mem.fingerprint and np.array_equal(st.mean, mem.mean) and np.array_equal(st.std, mem.std)
    assert np.array_equal(st.mixed, mem.mixed) and mem.mixed.sum() == 7
    torch.manual_seed(0)
    backbone = SimCLRModel("small_cnn", 3, 128, 64).backbone
    feats = [extract_features(backbone, d.x_train, 16, d.mean, d.std, torch.device("cpu"), 8) for d in (mem, st)]
    np.testing.assert_allclose(feats[1], feats[0], atol=1e-6, rtol=0)


@pytest.mark.slow
def test_train_and_import_from_the_store_through_the_cli(tmp_path, monkeypatch, capsys):
    from core.rundir.featurefile import open_features

    monkeypatch.setenv("HARDPAIRS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(STORE_ENV, "always")
    run = tmp_path / "runs" / "streamed"
    argv = ["train", "--dataset", "digits", "--epochs", "1", "--preset", "quick", "--no-probe", "--run-dir", run]
    assert run_cli(argv, capsys)[0] == 0
    assert os.listdir(tmp_path / "cache" / "images")  # the digits were streamed from a store
    ckpt = run / "checkpoints" / "last.pt"
    argv = ["import", "--checkpoint", ckpt, "--dataset", "digits", "--runs-root", tmp_path / "runs"]
    code, out = run_cli(argv, capsys)
    assert code == 0
    monkeypatch.setenv(STORE_ENV, "never")
    code, out2 = run_cli(argv, capsys)
    assert code == 0
    trained, imported, in_memory = (open_features(r) for r in (run, out["run_dir"], out2["run_dir"]))
    assert trained["train"].shape == (1438, 128)
    for split in ("train", "test"):
        np.testing.assert_allclose(np.asarray(imported[split]), np.asarray(trained[split]), atol=1e-6, rtol=0)
        np.testing.assert_allclose(np.asarray(in_memory[split]), np.asarray(trained[split]), atol=1e-6, rtol=0)


def test_thumbnails_of_a_lazy_mix_equal_the_in_memory_ones(tmp_path):
    from core.data.thumbs import ThumbnailCache

    x, y = _images(n=40, s=8)
    ref, _, _ = mix_images(x, y, 0.5, 0.5, seed=1)
    view, _, _ = mixed_train(_mapped(tmp_path, "x", x), y, 0.5, 0.5, 1)
    assert ThumbnailCache(view, size=32).pngs(range(40)) == ThumbnailCache(ref, size=32).pngs(range(40))


def test_the_rule_streams_a_resize_that_does_not_fit_and_keeps_small_data_in_memory(tmp_path, monkeypatch):
    from core.data.sources import load_dataset

    monkeypatch.setenv("HARDPAIRS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(STORE_ENV, "auto")
    small = load_dataset("digits", image_size=32)  # 1797 x 32 x 32 = 1.8 MB: in memory
    assert not is_streamed(small.x_train) and small.x_train.shape == (1438, 1, 32, 32)
    monkeypatch.setenv("HARDPAIRS_MAX_MEMORY_GB", str(4 * 2**20 / 2**30))  # budget 1 MiB < 1.8 MB
    big = load_dataset("digits", image_size=32)
    assert is_streamed(big.x_train) and isinstance(big.x_train, np.memmap)
    assert np.array_equal(big.x_train, small.x_train) and np.array_equal(big.x_test, small.x_test)
    assert big.fingerprint == small.fingerprint
    monkeypatch.setenv(STORE_ENV, "never")
    with pytest.raises(HardpairsError, match="resizing digits to --image-size 64 .*set HARDPAIRS_IMAGE_STORE=auto"):
        load_dataset("digits", image_size=64)
