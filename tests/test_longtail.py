"""TinyImageNet-LT (the paper's Table 6): the exponential profile, the built folder, its manifest and the CLI."""

from __future__ import annotations

import json
import math
import os

import pytest

from core.cli import main
from core.data.longtail import MANIFEST, build_longtail, longtail_counts
from core.errors import HardpairsError
from tests.test_datasets_paper import make_tiny_imagenet

WNIDS = ("n01443537", "n01629819", "n01641577", "n01644900", "n01698640")


def test_counts_follow_the_exponential_profile():
    # written out by hand: 500 * 100^(-i/199) for i = 0, 1, 199 and 500 * 10^(-i/4) for 5 classes
    counts = longtail_counts(500, 200, 100.0)
    assert counts[0] == 500 and counts[1] == math.floor(500 * 100 ** (-1 / 199)) == 488 and counts[-1] == 5
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False))
    assert longtail_counts(500, 5, 10.0) == [500, 281, 158, 88, 50]
    assert longtail_counts(4, 3, 1000.0) == [4, 1, 1]  # never below one image
    assert longtail_counts(7, 3, 1.0) == [7, 7, 7]
    with pytest.raises(HardpairsError, match="--imbalance must be a ratio >= 1"):
        longtail_counts(500, 200, 0.5)


def test_build_writes_links_manifest_and_a_balanced_test_split(tmp_path):
    src = make_tiny_imagenet(tmp_path / "tin", wnids=WNIDS, per_class=8, val_per_class=2)
    out = tmp_path / "lt"
    got = build_longtail(f"tinyimagenet:{src}", 8.0, out, seed=3)
    assert got["reused"] is False and got["n_max"] == 8 and got["n_min"] == 1
    expected = longtail_counts(8, 5, 8.0)  # [8, 4, 2, 1, 1]
    assert [got["train_counts"][w] for w in got["class_order"]] == expected and got["n_train"] == sum(expected)
    assert sorted(got["class_order"]) == sorted(WNIDS)
    for w in WNIDS:
        files = sorted(os.listdir(out / "train" / w))
        assert len(files) == got["train_counts"][w]
        assert all(os.path.islink(out / "train" / w / f) for f in files)
        assert all((out / "train" / w / f).resolve().parent == (src / "train" / w / "images").resolve() for f in files)
        assert len(os.listdir(out / "test" / w)) == 2  # every val image: balanced
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["imbalance"] == 8.0 and manifest["seed"] == 3 and "Cui et al. 2019" in manifest["rule"]
    again = build_longtail(f"tinyimagenet:{src}", 8.0, out, seed=3)
    assert again["reused"] is True and again["class_order"] == got["class_order"]  # deterministic
    other = build_longtail(f"tinyimagenet:{src}", 8.0, tmp_path / "lt2", seed=4)
    assert other["class_order"] != got["class_order"] or other["train_counts"] == got["train_counts"]
    with pytest.raises(HardpairsError, match="not empty and holds no identical build; pass a new --out"):
        build_longtail(f"tinyimagenet:{src}", 4.0, out, seed=3)
    with pytest.raises(HardpairsError, match="tinyimagenet or tinyimagenet:PATH"):
        build_longtail("cifar10", 8.0, tmp_path / "x")


def test_built_folder_loads_as_a_folder_dataset(tmp_path, capsys):
    from core.data.sources import load_dataset

    src = make_tiny_imagenet(tmp_path / "tin", wnids=WNIDS[:3], per_class=6, val_per_class=2)
    out = tmp_path / "lt"
    assert main(["longtail", "--dataset", f"tinyimagenet:{src}", "--imbalance", "6", "--out", str(out)]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["n_train"] == sum(longtail_counts(6, 3, 6.0)) == 6 + 2 + 1 and res["n_test"] == 6
    data = load_dataset(f"folder:{out}", cache_dir=str(tmp_path / "cache"))
    assert len(data.y_train) == res["n_train"] and len(data.y_test) == 6
