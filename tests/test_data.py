"""Dataset sources, the fixed splits, the folder cache and omega-Mixed contamination."""

from __future__ import annotations

import gc
import os
import warnings

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from core.data import sources as data
from core.data import storebuild
from core.data.sources import load_dataset
from core.data.split import stratified_split
from core.errors import HardpairsError
from core.store import list_stores


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


# ---------------------------------------------------------------- digits


def test_digits_shapes_dtypes_and_values(digits):
    raw = load_digits()
    assert digits.x_train.shape == (1438, 1, 8, 8) and digits.x_test.shape == (359, 1, 8, 8)
    assert digits.x_train.dtype == np.uint8 and digits.y_train.dtype == np.int64 and digits.y_test.dtype == np.int64
    assert digits.classes == [str(i) for i in range(10)] and digits.n_classes == 10
    assert digits.channels == 1 and digits.image_size == (8, 8)
    assert digits.x_train.min() == 0 and digits.x_train.max() == 255
    # Every image is a real digit scaled 0..16 -> 0..255, and train + test is the whole set.
    expected = np.rint(raw.images * 255 / 16).astype(np.uint8)
    allx = np.concatenate([digits.x_train, digits.x_test])[:, 0]
    ally = np.concatenate([digits.y_train, digits.y_test])
    order = np.lexsort(allx.reshape(len(allx), -1).T[::-1])
    ref_order = np.lexsort(expected.reshape(len(expected), -1).T[::-1])
    np.testing.assert_array_equal(allx[order], expected[ref_order])
    np.testing.assert_array_equal(np.sort(ally), np.sort(raw.target))
    assert not digits.mixed.any() and (digits.mix_partner == -1).all()


def test_digits_split_is_fixed_and_stratified(digits):
    other = load_dataset("digits", seed=123)
    np.testing.assert_array_equal(other.x_test, digits.x_test)
    np.testing.assert_array_equal(other.x_train, digits.x_train)
    assert other.fingerprint == digits.fingerprint  # seed only matters when mixing
    counts = np.bincount(load_digits().target)
    np.testing.assert_array_equal(np.bincount(digits.y_test), np.rint(0.2 * counts).astype(int))


def test_mean_std_match_numpy(digits):
    ref = digits.x_train.astype(np.float64) / 255
    np.testing.assert_allclose(digits.mean, [ref.mean()], rtol=1e-6)
    np.testing.assert_allclose(digits.std, [ref.std()], rtol=1e-6)
    assert digits.mean.dtype == np.float32 and digits.std.shape == (1,)


def test_image_size_resizes(digits):
    big = load_dataset("digits", image_size=16)
    assert big.x_train.shape == (1438, 1, 16, 16) and big.x_test.shape == (359, 1, 16, 16)
    assert big.fingerprint != digits.fingerprint


def test_stratified_split_small_classes():
    y = np.array([0] * 10 + [1] * 5 + [2] * 1)
    train, test = stratified_split(y)
    assert np.bincount(y[test], minlength=3).tolist() == [2, 1, 0]
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(16))


# ---------------------------------------------------------------- mixing


def test_mixing_recipe(digits):
    lam = 0.7
    mixed = load_dataset("digits", mix=0.25, mix_lambda=lam, seed=3)
    n = len(digits.y_train)
    idx = np.flatnonzero(mixed.mixed)
    assert len(idx) == round(0.25 * n)
    partner = mixed.mix_partner[idx]
    assert (mixed.mix_partner[~mixed.mixed] == -1).all() and (partner >= 0).all()
    assert (digits.y_train[partner] != digits.y_train[idx]).all()
    np.testing.assert_array_equal(mixed.y_train, digits.y_train)
    expected = lam * digits.x_train[idx].astype(np.float64) + (1 - lam) * digits.x_train[partner]
    assert np.abs(mixed.x_train[idx] - expected).max() <= 0.5 + 1e-6
    np.testing.assert_array_equal(mixed.x_train[~mixed.mixed], digits.x_train[~mixed.mixed])
    np.testing.assert_array_equal(mixed.x_test, digits.x_test)
    np.testing.assert_array_equal(mixed.y_test, digits.y_test)
    assert mixed.fingerprint != digits.fingerprint


def test_mixing_is_deterministic_per_seed():
    a = load_dataset("digits", mix=0.1, seed=7)
    b = load_dataset("digits", mix=0.1, seed=7)
    c = load_dataset("digits", mix=0.1, seed=8)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.mix_partner, b.mix_partner)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert not np.array_equal(a.mixed, c.mixed)


@pytest.mark.parametrize("mix", [1.0, -0.1, 1.5])
def test_mix_out_of_range(mix):
    with pytest.raises(HardpairsError, match=r"mix must be in \[0, 1\)"):
        load_dataset("digits", mix=mix)


# ---------------------------------------------------------------- errors of the spec


def test_unknown_spec_lists_sources():
    with pytest.raises(HardpairsError, match="unknown dataset 'mnist'") as err:
        load_dataset("mnist")
    for source in (
        "digits",
        "cifar10",
        "cifar100",
        "stl10",
        "folder:PATH",
        "npz:PATH",
        "tinyimagenet",
        "imagenet:PATH",
    ):
        assert source in str(err.value)
    assert len(data.list_sources()) == 9  # + stl10+unlabeled, tinyimagenet, imagenet (issue 12)


@pytest.mark.parametrize("name,folder", [("cifar10", "cifar-10-batches-py"), ("stl10", "stl10_binary")])
def test_torchvision_missing_files_says_where(tmp_path, name, folder):
    with pytest.raises(HardpairsError) as err:
        load_dataset(name, data_root=str(tmp_path))
    msg = str(err.value)
    assert str(tmp_path / folder) in msg and "--download" in msg


# ---------------------------------------------------------------- folder source


def _save(path, arr, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    (Image.fromarray(arr) if mode is None else Image.fromarray(arr).convert(mode)).save(path)


def _noise(seed, h=8, w=8, c=3):
    shape = (h, w, c) if c > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _mixed_folder(root):
    """train/test layout with grayscale, RGB, RGBA, palette, an odd size, a corrupt and a .txt file."""
    imgs = {}
    for i in range(3):
        imgs[f"train/cat/rgb{i}.png"] = _noise(i)
        imgs[f"train/dog/rgb{i}.png"] = _noise(10 + i)
    imgs["test/cat/t0.png"], imgs["test/dog/t0.png"] = _noise(20), _noise(21)
    for rel, arr in imgs.items():
        _save(root / rel, arr)
    _save(root / "train/cat/gray.png", _noise(30, c=1))
    rgba = np.concatenate([_noise(31), np.full((8, 8, 1), 77, np.uint8)], axis=2)
    _save(root / "train/cat/rgba.png", rgba)
    _save(root / "train/dog/pal.png", _noise(32), mode="P")
    _save(root / "train/dog/wide.png", _noise(33, h=10, w=12))
    (root / "train/cat/broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (root / "train/dog/notes.txt").write_text("not an image")
    return imgs, rgba


def test_folder_train_test_layout(tmp_path):
    root = tmp_path / "imgs"
    imgs, rgba = _mixed_folder(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset(f"folder:{root}", cache_dir=str(tmp_path / "cache"))
    msgs = [str(w.message) for w in caught if "skipped" in str(w.message)]
    assert len(msgs) == 1 and "skipped 2 " in msgs[0] and "broken.png" in msgs[0] and "notes.txt" in msgs[0]
    assert ds.classes == ["cat", "dog"] and ds.name == "folder:imgs"
    assert ds.x_train.shape == (10, 3, 8, 8) and ds.x_test.shape == (2, 3, 8, 8)
    assert ds.y_train.tolist() == [0] * 5 + [1] * 5 and ds.y_test.tolist() == [0, 1]
    # Files are sorted per class: cat = gray, rgb0..2, rgba; dog = pal, rgb0..2, wide.
    chw = lambda a: a.transpose(2, 0, 1)  # noqa: E731
    gray = np.asarray(Image.open(root / "train/cat/gray.png"))
    np.testing.assert_array_equal(ds.x_train[0], np.stack([gray] * 3))
    np.testing.assert_array_equal(ds.x_train[1], chw(imgs["train/cat/rgb0.png"]))
    np.testing.assert_array_equal(ds.x_train[4], chw(rgba[..., :3]))
    pal = np.asarray(Image.open(root / "train/dog/pal.png").convert("RGB"))
    np.testing.assert_array_equal(ds.x_train[5], chw(pal))
    wide = Image.open(root / "train/dog/wide.png").convert("RGB").resize((8, 8), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(ds.x_train[9], chw(np.asarray(wide)))
    np.testing.assert_array_equal(ds.x_test[1], chw(imgs["test/dog/t0.png"]))


def test_folder_all_grayscale_is_one_channel_and_image_size(tmp_path):
    root = tmp_path / "g"
    for c in ("a", "b"):
        for i in range(5):
            _save(root / c / f"{i}.png", _noise(i + (c == "b") * 10, h=6, w=6, c=1))
    ds = load_dataset(f"folder:{root}", cache_dir=str(tmp_path / "cache"))
    assert ds.channels == 1 and ds.image_size == (6, 6)
    assert ds.x_train.shape == (8, 1, 6, 6) and np.bincount(ds.y_test).tolist() == [1, 1]
    big = load_dataset(f"folder:{root}", image_size=12, cache_dir=str(tmp_path / "cache"))
    assert big.x_train.shape == (8, 1, 12, 12)


def test_folder_single_level_split(tmp_path):
    root = tmp_path / "flat"
    for i in range(10):
        _save(root / "a" / f"{i:02d}.png", _noise(i))
    for i in range(5):
        _save(root / "b" / f"{i:02d}.png", _noise(100 + i))
    ds = load_dataset(f"folder:{root}", cache_dir=str(tmp_path / "cache"))
    assert np.bincount(ds.y_train).tolist() == [8, 4] and np.bincount(ds.y_test).tolist() == [2, 1]
    again = load_dataset(f"folder:{root}", seed=99, cache_dir=str(tmp_path / "cache2"))
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    # Train and test together are exactly the 15 images, none twice.
    flat = {a.tobytes() for a in np.concatenate([ds.x_train, ds.x_test])}
    assert len(flat) == 15


def test_folder_cache_hit_and_invalidation(tmp_path, monkeypatch):
    root, cache = tmp_path / "c", tmp_path / "cache"
    for c in ("a", "b"):
        for i in range(4):
            _save(root / c / f"{i}.png", _noise(i + (c == "b") * 10))
    calls = []
    real = storebuild.decode_chunk
    monkeypatch.setattr(storebuild, "decode_chunk", lambda *a: calls.append(1) or real(*a))
    first = load_dataset(f"folder:{root}", cache_dir=str(cache))
    second = load_dataset(f"folder:{root}", cache_dir=str(cache))
    assert len(calls) == 1 and len(list_stores(cache)) == 1
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, key), getattr(second, key))
    assert first.fingerprint == second.fingerprint and first.classes == second.classes
    target = root / "a" / "0.png"
    st = target.stat()
    _save(target, np.zeros((8, 8, 3), np.uint8))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    old_fingerprint = first.fingerprint
    del first, second  # a store open in a live process is never removed
    gc.collect()
    third = load_dataset(f"folder:{root}", cache_dir=str(cache))
    assert len(calls) == 2 and third.fingerprint != old_fingerprint
    assert len(list_stores(cache)) == 1  # the stale store was replaced
    zero = np.zeros((3, 8, 8), np.uint8)
    assert any(np.array_equal(x, zero) for x in np.concatenate([third.x_train, third.x_test]))


def _text_files(root, classes):
    for c in classes:
        (root / c).mkdir(parents=True)
        (root / c / "x.txt").write_text("x")


def _two_classes(root, split=""):
    for c in ("a", "b"):
        _save(root / split / c / "0.png", _noise(0))
        _save(root / split / c / "1.png", _noise(1))


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda r: None, "does not exist"),
        (lambda r: r.mkdir(), "0 class folder"),
        (lambda r: _save(r / "only" / "0.png", _noise(0)), "needs at least two classes"),
        (lambda r: _two_classes(r, "train"), "only one of train/ and test/"),
        (lambda r: (_two_classes(r, "train"), _save(r / "test" / "a" / "0.png", _noise(0))), "class folders differ"),
        (lambda r: (_two_classes(r), _text_files(r, "c")), "['c'] hold no readable"),
        (lambda r: _text_files(r, "ab"), "no readable images"),
    ],
)
def test_folder_errors(tmp_path, build, message):
    root = tmp_path / "bad"
    build(root)
    with pytest.raises(HardpairsError) as err, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_dataset(f"folder:{root}", cache_dir=str(tmp_path / "cache"))
    assert message in str(err.value)


# ---------------------------------------------------------------- npz source


def test_npz_layouts_and_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    x_hwc = rng.random((6, 5, 5, 3)).astype(np.float32)
    x_chw = rng.integers(0, 256, (4, 3, 5, 5), dtype=np.uint8)
    y_tr, y_te = np.array([0, 1, 0, 1, 2, 2]), np.array([0, 1, 2, 2])
    names = np.array(["x", "y", "z"])
    np.savez(tmp_path / "d.npz", x_train=x_hwc, y_train=y_tr, x_test=x_chw, y_test=y_te, classes=names)
    ds = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert ds.x_train.shape == (6, 3, 5, 5) and ds.x_train.dtype == np.uint8 and ds.name == "npz:d"
    np.testing.assert_array_equal(ds.x_train, np.rint(x_hwc.transpose(0, 3, 1, 2) * 255).astype(np.uint8))
    np.testing.assert_array_equal(ds.x_test, x_chw)
    assert ds.classes == ["x", "y", "z"] and ds.y_test.dtype == np.int64
    gray = rng.integers(0, 256, (4, 7, 7), dtype=np.uint8)
    labels = np.array([0, 1, 1, 0])
    np.savez(tmp_path / "g.npz", x_train=gray, y_train=labels, x_test=gray, y_test=labels)
    g = load_dataset(f"npz:{tmp_path / 'g.npz'}")
    assert g.x_train.shape == (4, 1, 7, 7) and g.classes == ["0", "1"]
    np.testing.assert_array_equal(g.x_train[:, 0], gray)


def _npz(tmp_path, **over):
    arrays = {
        "x_train": np.zeros((4, 3, 4, 4), np.uint8),
        "y_train": np.array([0, 1, 0, 1]),
        "x_test": np.zeros((2, 3, 4, 4), np.uint8),
        "y_test": np.array([0, 1]),
    }
    arrays.update(over)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(tmp_path / "x.npz", **arrays)
    return f"npz:{tmp_path / 'x.npz'}"


@pytest.mark.parametrize(
    "over,message",
    [
        ({"y_test": None}, "lacks y_test"),
        ({"x_train": np.zeros((4, 2, 4, 4), np.uint8)}, "x_train has shape (4, 2, 4, 4)"),
        ({"x_train": np.full((4, 3, 4, 4), 2.0)}, "must lie in [0, 1]"),
        ({"y_train": np.array([0, 1, 0])}, "y_train must be 1-D non-negative integer labels"),
        ({"x_test": np.zeros((2, 3, 5, 5), np.uint8)}, "x_test images are (3, 5, 5)"),
        ({"y_train": np.array([1, 1, 1, 1])}, "single class"),
        ({"classes": np.array(["only"])}, "the classes array has only 1 names"),
    ],
)
def test_npz_errors(tmp_path, over, message):
    with pytest.raises(HardpairsError) as err:
        load_dataset(_npz(tmp_path, **over))
    assert message in str(err.value)


def test_npz_missing_file(tmp_path):
    with pytest.raises(HardpairsError, match="does not exist"):
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")


# ---- label noise (core.data.labelnoise, load_dataset(label_noise=...)) ------------------------


@pytest.mark.parametrize("w", [0.1, 0.25, 0.013])
def test_label_noise_flips_exactly_round_w_n_each_to_another_class(digits, w):
    noisy = load_dataset("digits", label_noise=w, seed=3)
    n = len(digits.y_train)
    assert int(noisy.noisy.sum()) == round(w * n)
    changed = noisy.y_train != digits.y_train
    assert np.array_equal(changed, noisy.noisy)  # flipped exactly where recorded, each to a different class
    assert noisy.y_train.min() >= 0 and noisy.y_train.max() < 10
    assert np.array_equal(noisy.x_train, digits.x_train)  # images and test labels are untouched
    assert np.array_equal(noisy.y_test, digits.y_test)
    assert noisy.fingerprint != digits.fingerprint


def test_label_noise_is_seeded():
    a, b = load_dataset("digits", label_noise=0.1, seed=5), load_dataset("digits", label_noise=0.1, seed=5)
    c = load_dataset("digits", label_noise=0.1, seed=6)
    assert np.array_equal(a.noisy, b.noisy) and np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.noisy, c.noisy)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_label_noise_with_mix_and_out_of_range(digits):
    both = load_dataset("digits", mix=0.2, label_noise=0.1, seed=0)
    assert both.mixed.sum() == round(0.2 * len(digits.y_train)) and both.noisy.sum() == round(0.1 * len(digits.y_train))
    assert np.array_equal(both.mixed, load_dataset("digits", mix=0.2, seed=0).mixed)  # noise does not move the mix
    assert not load_dataset("digits").noisy.any()
    with pytest.raises(HardpairsError, match="label noise must be in"):
        load_dataset("digits", label_noise=1.0)
    from core.data.labelnoise import flip_labels

    with pytest.raises(HardpairsError, match="fully labelled"):
        flip_labels(np.array([0, 1, -1, 1]), 0.5, 2, 0)
    y, flipped = flip_labels(np.array([0, 1, 0, 1]), 0.5, 2, 0)
    assert flipped.sum() == 2 and np.array_equal(y[flipped], 1 - np.array([0, 1, 0, 1])[flipped])
