"""Kept/pruned selection, per-class counts and the prune CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.analysis.prune import per_class_counts, select_keep
from core.errors import HardpairsError
from core.io import save_npz, write_json
from tests.helpers import run_cli


def test_select_keep_removes_highest_scores():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4, 0.0])
    kept, pruned = select_keep(scores, 0.3)
    np.testing.assert_array_equal(pruned, [1, 3, 5])  # 0.9, 0.8, 0.7
    np.testing.assert_array_equal(kept, [0, 2, 4, 6, 7, 8, 9])
    assert kept.dtype == np.int64 and pruned.dtype == np.int64
    kept, pruned = select_keep(scores, 0.0)
    assert len(pruned) == 0 and len(kept) == 10
    assert len(select_keep(np.arange(7.0), 0.5)[1]) == round(0.5 * 7)  # banker's rounding: 4


def test_ties_are_broken_by_seed_and_repeatable():
    scores = np.r_[np.full(50, 1.0), np.zeros(50)]
    picks = {tuple(select_keep(scores, 0.2, seed=s)[1]) for s in range(5)}
    assert len(picks) == 5  # different seeds pick different tied samples
    for p in picks:
        assert all(i < 50 for i in p) and len(p) == 20  # always from the tied top group
    np.testing.assert_array_equal(select_keep(scores, 0.2, seed=3)[1], select_keep(scores, 0.2, seed=3)[1])


@pytest.mark.parametrize("ratio", [1.0, -0.1, 1.5])
def test_ratio_outside_range(ratio):
    with pytest.raises(HardpairsError, match=r"outside \[0, 1\)"):
        select_keep(np.arange(5.0), ratio)


def test_per_class_counts():
    labels = np.array([0, 0, 0, 1, 1, 2, -1])
    df = per_class_counts(labels, np.array([0, 1, 3, 6]), ["zero", "one", "two"])
    assert df.to_dict(orient="list") == {
        "class": ["unlabelled", "zero", "one", "two"],
        "total": [1, 3, 2, 1],
        "pruned": [1, 2, 1, 0],
        "kept": [0, 1, 1, 1],
        "pruned_share": [1.0, 2 / 3, 0.5, 0.0],
    }


def make_run(root, labels):
    rng = np.random.default_rng(0)
    n = len(labels)
    x = rng.standard_normal((4, 8))[np.maximum(labels, 0)] + rng.standard_normal((n, 8))
    root.mkdir()
    write_json(root / "config.json", {"seed": 2, "pos_high": 0.2, "pos_low": 0.4})
    save_npz(
        root / "features.npz",
        train=x.astype(np.float32),
        test=x[:4].astype(np.float32),
        y_train=labels,
        y_test=labels[:4],
    )
    return root


def test_prune_cli_writes_indices(tmp_path, capsys):
    labels = np.random.default_rng(1).integers(0, 4, 100)
    run = make_run(tmp_path / "r", labels)
    code, res = run_cli(["prune", "--run-dir", run, "--score", "cross_class", "--ratio", "0.25"], capsys)
    assert code == 0 and res["n_kept"] == 75 and res["n_pruned"] == 25 and res["seed"] == 2
    out = run / "prune" / "cross_class_0.25_seed2"
    assert res["out"] == str(out)
    kept, pruned = np.load(out / "keep.npy"), np.load(out / "pruned.npy")
    scores = pd.read_csv(run / "scores.csv")  # computed on demand
    exp_kept, exp_pruned = select_keep(scores["cross_class"].to_numpy(), 0.25, seed=2)
    np.testing.assert_array_equal(kept, exp_kept)
    np.testing.assert_array_equal(pruned, exp_pruned)
    per = pd.read_csv(out / "per_class.csv")
    assert per["pruned"].sum() == 25 and per["total"].sum() == 100
    code, res = run_cli(["prune", "--run-dir", run, "--score", "band", "--ratio", "1"], capsys)
    assert code == 2 and "outside [0, 1)" in res["error"]
    code, res = run_cli(["prune", "--run-dir", run, "--score", "nope", "--ratio", "0.1"], capsys)
    assert code == 2 and "unknown score 'nope'" in res["error"] and "band" in res["error"]


def test_prune_label_score_on_unlabelled_data(tmp_path, capsys):
    run = make_run(tmp_path / "u", np.full(60, -1))
    code, res = run_cli(["prune", "--run-dir", run, "--score", "margin", "--ratio", "0.1"], capsys)
    assert code == 2 and "needs labels" in res["error"] and "band" in res["error"]
    code, res = run_cli(
        ["prune", "--run-dir", run, "--score", "band", "--ratio", "0.1", "--out", tmp_path / "o"], capsys
    )
    assert code == 0 and len(np.load(tmp_path / "o" / "keep.npy")) == 54


@pytest.mark.slow
def test_prune_train_retrains_a_real_child_run(tiny_run, tmp_path, capsys):
    """`prune --train` with loss flags: a real 1-epoch retrain on the kept samples, beside its parent."""
    import shutil

    parent = tmp_path / "runs" / "parent"
    shutil.copytree(tiny_run, parent)
    code, res = run_cli(
        [
            "prune",
            "--run-dir",
            parent,
            "--score",
            "band",
            "--ratio",
            "0.2",
            "--seed",
            "3",
            "--train",
            "--epochs",
            "1",
            "--loss-mode",
            "removal",
            "--pos-low",
            "0.3",
        ],
        capsys,
    )
    assert code == 0, res
    child = Path(res["train"]["run_dir"])
    assert child.parent == parent.parent
    keep = np.load(parent / "prune" / "band_0.2_seed3" / "keep.npy")
    assert len(keep) == 1438 - round(0.2 * 1438) and np.array_equal(np.load(child / "keep.npy"), keep)
    cfg = json.loads((child / "config.json").read_text())
    assert (cfg["loss_mode"], cfg["pos_low"], cfg["seed"], cfg["epochs"]) == ("removal", 0.3, 3, 1)
    man = json.loads((child / "manifest.json").read_text())
    assert man["parent"] == str(parent) and man["prune"] == {"score": "band", "ratio": 0.2}
    assert man["n_kept"] == len(keep)
    assert 0 < res["train"]["linear_acc"] <= 1


@pytest.mark.slow
def test_prune_train_match_steps_gives_the_child_the_parents_optimiser_steps(tiny_run, tmp_path, capsys):
    """`prune --train --match-steps`: the child trains the fewest epochs whose steps reach the parent's, and its
    manifest records both step counts (issue 22.5)."""
    import shutil

    parent = tmp_path / "runs" / "parent"
    shutil.copytree(tiny_run, parent)
    cfg = json.loads((parent / "config.json").read_text())
    batch, n = cfg["batch_size"], json.loads((parent / "manifest.json").read_text())["n_train"]
    flags = ["prune", "--run-dir", parent, "--score", "random", "--ratio", "0.5", "--train", "--match-steps"]
    code, res = run_cli([*flags, "--epochs", "2"], capsys)
    assert code == 2 and "--epochs and --match-steps" in res["error"]
    code, res = run_cli(flags, capsys)
    assert code == 0, res
    parent_steps = (n // batch) * cfg["epochs"]
    kept = n - round(0.5 * n)
    epochs = -(-parent_steps // (kept // batch))  # by hand: ceil(parent steps / child steps per epoch)
    child = Path(res["train"]["run_dir"])
    assert json.loads((child / "config.json").read_text())["epochs"] == epochs > cfg["epochs"]
    steps = json.loads((child / "manifest.json").read_text())["optimiser_steps"]
    assert steps == {"epochs": epochs, "total": epochs * (kept // batch), "parent_total": parent_steps, "matched": True}
    assert steps["total"] >= parent_steps > steps["total"] - kept // batch
