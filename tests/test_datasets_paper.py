"""Paper datasets and the Mixed-omega seed: --mix-seed, tinyimagenet, imagenet:PATH, stl10+unlabeled, presets."""

from __future__ import annotations

import numpy as np
import pytest

from core.runs.pipeline import load_run_data
from core.training.config import TrainConfig, make_config


def test_mix_seed_is_separate_from_the_training_seed():
    a = make_config("digits", mix=0.2, seed=1, epochs=1)
    b = make_config("digits", mix=0.2, seed=2, epochs=1)
    assert a.mix_seed == b.mix_seed == 0
    da, db = load_run_data(a), load_run_data(b)
    assert np.array_equal(da.mixed, db.mixed)
    assert np.array_equal(da.x_train, db.x_train)
    assert da.fingerprint == db.fingerprint
    c = load_run_data(make_config("digits", mix=0.2, seed=1, mix_seed=5, epochs=1))
    assert not np.array_equal(c.mixed, da.mixed)
    assert c.fingerprint != da.fingerprint
    assert int(c.mixed.sum()) == int(da.mixed.sum()) == round(0.2 * len(da.y_train))


def test_legacy_config_without_mix_seed_mixed_with_the_training_seed():
    old = make_config("digits", seed=7).to_dict()
    del old["mix_seed"]
    assert TrainConfig.from_dict(old).mix_seed == 7
    assert make_config("digits", seed=7).mix_seed == 0


# ----------------------------------------------------------------------------- generated miniature layouts
def _jpeg(path, color, size=64):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path, "JPEG", quality=95)


def make_tiny_imagenet(root, wnids=("n01443537", "n01629819", "n01641577"), per_class=4, val_per_class=2):
    """A miniature ``tiny-imagenet-200`` layout; class i's images are a flat colour (40 * i, 0, 0)."""
    (root / "wnids.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    lines = []
    for i, w in enumerate(wnids):
        for j in range(per_class):
            _jpeg(root / "train" / w / "images" / f"{w}_{j}.JPEG", (40 * i, 0, 0))
        (root / "train" / w / f"{w}_boxes.txt").write_text("")
        for j in range(val_per_class):
            name = f"val_{i * val_per_class + j}.JPEG"
            _jpeg(root / "val" / "images" / name, (40 * i, 0, 0))
            lines.append(f"{name}\t{w}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(reversed(lines)) + "\n")
    return root


def test_tinyimagenet_layout_labels_follow_wnids_and_val_annotations(tmp_path):
    from core.data.sources import load_dataset

    root = make_tiny_imagenet(tmp_path / "tiny-imagenet-200")
    data = load_dataset(f"tinyimagenet:{root}", cache_dir=str(tmp_path / "cache"))
    assert data.x_train.shape == (12, 3, 64, 64) and data.x_test.shape == (6, 3, 64, 64)
    assert data.classes == ["n01443537", "n01629819", "n01641577"]
    assert data.y_train.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    # every val image's red channel says its class: the annotations were read, not the file order
    red = data.x_test[:, 0].reshape(6, -1).mean(1)
    assert np.allclose(red, 40 * data.y_test, atol=3)
    assert sorted(data.y_test.tolist()) == [0, 0, 1, 1, 2, 2]
    # the default spec looks under the data root
    again = load_dataset("tinyimagenet", data_root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    assert again.fingerprint == data.fingerprint
    small = load_dataset(f"tinyimagenet:{root}", image_size=16, cache_dir=str(tmp_path / "cache"))
    assert small.x_train.shape == (12, 3, 16, 16)


def test_tinyimagenet_missing_files_are_explained(tmp_path):
    from core.data.sources import load_dataset
    from core.errors import HardpairsError

    with pytest.raises(HardpairsError, match="wnids.txt not found.*tiny-imagenet-200"):
        load_dataset("tinyimagenet", data_root=str(tmp_path))
    root = make_tiny_imagenet(tmp_path / "t")
    (root / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(HardpairsError, match="not in wnids.txt"):
        load_dataset(f"tinyimagenet:{root}", cache_dir=str(tmp_path / "cache"))


def test_imagenet_folder_spec(tmp_path):
    from core.data.sources import load_dataset
    from core.errors import HardpairsError

    for split, n in (("train", 3), ("val", 1)):
        for i, w in enumerate(("n02", "n01")):
            for j in range(n):
                _jpeg(tmp_path / "in" / split / w / f"{w}_{j}.JPEG", (0, 60 * i, 0), size=40)
    data = load_dataset(f"imagenet:{tmp_path / 'in'}", image_size=24, cache_dir=str(tmp_path / "cache"))
    assert data.classes == ["n01", "n02"] and data.x_train.shape == (6, 3, 24, 24)
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1] and data.y_test.tolist() == [0, 1]
    assert np.allclose(data.x_train[:, 1].reshape(6, -1).mean(1), [60, 60, 60, 0, 0, 0], atol=3)
    with pytest.raises(HardpairsError, match="lacks train/ or val/"):
        load_dataset(f"imagenet:{tmp_path / 'in' / 'train'}")


def test_stl10_unlabeled_split_gets_label_minus_one(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    from core.data.sources import load_dataset

    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("train", 4), ("test", 3), ("unlabeled", 5)):
        rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8).tofile(folder / f"{name}_X.bin")
        if name != "unlabeled":
            np.array([1, 2, 1, 2][:n], np.uint8).tofile(folder / f"{name}_y.bin")
    (folder / "class_names.txt").write_text("\n".join(f"c{i}" for i in range(10)))
    (folder / "fold_indices.txt").write_text("0 1\n")
    monkeypatch.setattr(tvd.STL10, "_check_integrity", lambda self: True)
    data = load_dataset("stl10+unlabeled", data_root=str(tmp_path))
    assert data.x_train.shape == (9, 3, 96, 96) and data.x_test.shape == (3, 3, 96, 96)
    assert data.y_train.tolist() == [0, 1, 0, 1, -1, -1, -1, -1, -1]
    plain = load_dataset("stl10", data_root=str(tmp_path))
    assert plain.y_train.tolist() == [0, 1, 0, 1]


# ----------------------------------------------------------------------------- presets
def test_paper_presets_for_the_new_datasets():
    from core.training.presets import preset_note, preset_values

    tiny = make_config("tinyimagenet")
    assert (tiny.preset, tiny.arch, tiny.batch_size, tiny.lr, tiny.temperature) == ("paper", "resnet50", 512, 0.5, 0.5)
    assert (tiny.pos_high, tiny.pos_low, tiny.sigma, tiny.rho, tiny.out_size) == (0.013, 0.5, 0.1, 0.7, 64)
    im = make_config("imagenet:/data/in")
    assert (im.batch_size, im.lr, im.temperature, im.epochs, im.image_size) == (1024, 0.1, 0.07, 400, 96)
    assert (im.pos_high, im.pos_low, im.sigma, im.rho) == (0.01, 0.5, 0.1, 0.7)
    assert make_config("stl10+unlabeled").batch_size == 256
    folder = make_config("folder:/x", preset="paper", preset_from="tinyimagenet")
    assert folder.pos_high == 0.013 and folder.preset_from == "tinyimagenet"
    assert make_config("folder:/x", preset="paper").pos_high == 0.15
    assert preset_values("paper", "folder:/x", "cifar100")["temperature"] == 0.1
    note = preset_note("quick", "folder:/x")
    assert (
        note == "folder: quick preset (CPU-sized; pass --preset paper --preset-from cifar10 to use CIFAR-10's values)"
    )
    assert "tinyimagenet's values" in preset_note("paper", "folder:/x", "tinyimagenet")
    from core.errors import HardpairsError

    with pytest.raises(HardpairsError, match="--preset-from 'mnist' is unknown"):
        make_config("folder:/x", preset="paper", preset_from="mnist")
