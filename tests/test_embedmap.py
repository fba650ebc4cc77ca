"""UMAP maps: kNN hand-off to umap-learn, repeatability, the run-folder cache (the one cache rule),
Procrustes alignment, the parent/child view and the ``umap`` CLI."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from core.analysis import embedmap as em
from core.analysis.neighbors import knn, l2_normalise
from core.errors import HardpairsError
from core.io import save_npz, write_json
from core.rundir.cache import features_fingerprint
from core.runs import maps
from tests.helpers import run_cli

FAST = dict(n_epochs=60)


def _clustered(n=300, d=32, c=5, seed=0, spread=0.3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    x = rng.normal(size=(c, d))[labels] + spread * rng.normal(size=(n, d))
    return x.astype(np.float32), labels


def _make_run(path, x, parent=None, keep=None):
    path.mkdir(parents=True)
    write_json(path / "config.json", {"seed": 0})
    write_json(path / "manifest.json", {"parent": parent})
    y = np.zeros(len(x), np.int64)
    save_npz(path / "features.npz", train=x, test=x[:10], y_train=y, y_test=y[:10])
    if keep is not None:
        np.save(path / "keep.npy", np.asarray(keep, np.int64))
    return path


def test_umap_knn_prepends_self_and_converts_to_distances():
    sims = np.array([[0.9, 0.5, 0.1], [0.8, 0.7, 0.2]], np.float32)
    idx = np.array([[1, 2, 3], [0, 3, 2]])
    i, d = em.umap_knn(sims, idx, 3)
    assert i.tolist() == [[0, 1, 2], [1, 0, 3]]
    assert np.allclose(d, [[0.0, 0.1, 0.5], [0.0, 0.2, 0.3]])
    # a graph that already starts with self is only truncated
    i2, d2 = em.umap_knn(np.array([[1.0, 0.4], [1.0, 0.3]]), np.array([[0, 1], [1, 0]]), 2)
    assert i2.tolist() == [[0, 1], [1, 0]] and np.allclose(d2, [[0, 0.6], [0, 0.7]])
    with pytest.raises(HardpairsError, match="needs 5"):
        em.umap_knn(sims, idx, 5)


def test_umap_embedding_is_repeatable_and_keeps_clusters():
    x, labels = _clustered()
    cfg = em.MapConfig(**FAST)
    a = em.umap_embedding(x, cfg)  # kNN computed inside with core.analysis.neighbors.knn
    b = em.umap_embedding(x, cfg, knn(l2_normalise(x), cfg.n_neighbors - 1))  # the same graph, passed in
    assert a.shape == (300, 2) and a.dtype == np.float32
    assert np.array_equal(a, b)
    # each point's 10 nearest neighbours on the map share its cluster
    nn = np.argsort(((a[:, None] - a[None]) ** 2).sum(-1), axis=1)[:, 1:11]
    assert (labels[nn] == labels[:, None]).mean() > 0.95
    c = em.umap_embedding(x, em.MapConfig(seed=1, **FAST))
    assert not np.array_equal(a, c)


def test_too_few_samples_and_bad_config():
    x, _ = _clustered(n=10)
    with pytest.raises(HardpairsError, match="too few"):
        em.umap_embedding(x, em.MapConfig())
    with pytest.raises(HardpairsError, match="2 or 3"):
        em.umap_embedding(x, em.MapConfig(n_components=4, n_neighbors=3))
    with pytest.raises(HardpairsError, match="constant"):
        em.umap_embedding(np.ones((50, 4), np.float32), em.MapConfig(n_neighbors=5))


def test_subset_indices_seeded_sorted_unique():
    cfg = em.MapConfig(subset=50, seed=3)
    a = em.subset_indices(1000, cfg)
    assert a.size == 50 and np.array_equal(a, np.unique(a)) and np.array_equal(a, em.subset_indices(1000, cfg))
    assert not np.array_equal(a, em.subset_indices(1000, em.MapConfig(subset=50, seed=4)))
    assert np.array_equal(em.subset_indices(30, cfg), np.arange(30))
    assert em.effective_epochs(50_000, em.MapConfig()) == em.LARGE_EPOCHS
    assert em.effective_epochs(5_000, em.MapConfig()) == em.SMALL_EPOCHS == 200
    assert em.effective_epochs(5_000, em.MapConfig(n_epochs=7)) == 7


def test_run_map_caches_and_invalidates(tmp_path):
    x, _ = _clustered()
    run = _make_run(tmp_path / "r", x)
    cfg = em.MapConfig(subset=200, **FAST)
    first = maps.run_map(run, cfg)
    assert not first.cached and first.path.name == "umap_2d.csv"
    on_disk = pd.read_csv(run / "umap_2d.csv")
    assert list(on_disk.columns) == ["index", "x", "y"] and len(on_disk) == 200
    assert np.array_equal(on_disk["index"].to_numpy(), em.subset_indices(300, cfg))
    meta = json.loads((run / "umap_2d.json").read_text())
    assert meta["params"]["subset"] == 200 and meta["features_sha1"] == features_fingerprint(run)
    second = maps.run_map(run, cfg)  # unchanged features and parameters: a hit
    assert second.cached
    pd.testing.assert_frame_equal(first.frame, second.frame)
    # the stored layout is the one umap_embedding gives for the same rows
    expect = em.umap_embedding(x[em.subset_indices(300, cfg)], cfg)
    assert np.allclose(second.frame[["x", "y"]].to_numpy(), expect, atol=1e-6)
    # another parameter, a damaged CSV, or new features: recomputed
    other = em.MapConfig(subset=200, min_dist=0.5, **FAST)
    assert not maps.run_map(run, other).cached and maps.run_map(run, other).cached
    (run / "umap_2d.csv").write_text("index,x,y\n0,1,2\n")
    assert not maps.run_map(run, other).cached
    save_npz(
        run / "features.npz",
        train=x * 2 + 1,
        test=x[:10],
        y_train=np.zeros(300, np.int64),
        y_test=np.zeros(10, np.int64),
    )
    assert not maps.run_map(run, other).cached
    assert json.loads((run / "umap_2d.json").read_text())["features_sha1"] == features_fingerprint(run)


def test_a_sidecar_of_the_old_key_meaning_is_recomputed(tmp_path):
    """A map cached before the one cache rule (``features_sha1`` = the train array's sha1) is a miss, not an error."""
    from core.store import array_sha1

    x, _ = _clustered(n=120)
    run = _make_run(tmp_path / "r", x)
    cfg = em.MapConfig(**FAST)
    (run / "umap_2d.csv").write_bytes(b"index,x,y\n0,1,2\n")
    csv_sha1 = hashlib.sha1(b"index,x,y\n0,1,2\n").hexdigest()  # a valid CSV: only the key's meaning differs
    params = asdict(cfg) | {"include_sha1": None}
    old = {"params": params, "features_sha1": array_sha1(x), "csv_sha1": csv_sha1, "created": 1.0}
    write_json(run / "umap_2d.json", old)
    res = maps.run_map(run, cfg)
    assert not res.cached and len(res.frame) == 120 and maps.run_map(run, cfg).cached
    write_json(run / "umap_2d.json", ["not", "a", "record"])  # a foreign sidecar: recomputed as well
    assert not maps.run_map(run, cfg).cached


def test_every_analysis_records_the_same_features_key(tmp_path):
    """scores.json, theory.json and the map's sidecar all store the one fingerprint of the run's features."""
    from core.runs.analysis import scores_for_run
    from core.runs.theory import theory_for_run

    x, labels = _clustered(n=200)
    run = _make_run(tmp_path / "r", x)
    save_npz(run / "features.npz", train=x, test=x[:50], y_train=labels, y_test=labels[:50])
    key = features_fingerprint(run)
    maps.run_map(run, em.MapConfig(**FAST))
    scores_for_run(run)
    theory_for_run(run, max_pairs=10_000)
    for name in ("umap_2d.json", "scores.json", "theory.json"):
        assert json.loads((run / name).read_text())["features_sha1"] == key, name


def test_three_d_map_file(tmp_path):
    x, _ = _clustered(n=120)
    run = _make_run(tmp_path / "r", x)
    frame = maps.run_map(run, em.MapConfig(n_components=3, **FAST)).frame
    assert list(frame.columns) == ["index", "x", "y", "z"] and (run / "umap_3d.csv").exists()
    assert np.array_equal(frame["index"].to_numpy(), np.arange(120))


def test_align_to_parent_recovers_a_similarity_transform():
    rng = np.random.default_rng(0)
    parent = rng.normal(size=(50, 2))
    theta = 0.7
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    flip = np.array([[1.0, 0.0], [0.0, -1.0]])
    child = 3.0 * parent @ rot @ flip + np.array([5.0, -2.0])
    assert np.allclose(em.align_to_parent(child, parent), parent, atol=1e-5)
    with pytest.raises(HardpairsError, match="same"):
        em.align_to_parent(child[:10], parent)


def test_parent_child_maps(tmp_path):
    x, _ = _clustered(n=150)
    parent = _make_run(tmp_path / "parent", x)
    keep = np.arange(0, 150, 3)
    child = _make_run(tmp_path / "child", x * 1.5 + 0.01, parent="parent", keep=keep)
    cfg = em.MapConfig(**FAST)
    pmap, raw = maps.run_map(parent, cfg).frame, maps.run_map(child, cfg).frame
    both = em.merge_parent_child(pmap, raw, np.load(child / "keep.npy"))
    assert list(both.columns) == ["index", "x_parent", "y_parent", "x_child", "y_child", "kept"]
    assert len(both) == 150 and both["kept"].sum() == len(keep)
    assert set(both.loc[both["kept"], "index"]) == set(keep.tolist())
    assert np.allclose(both[["x_parent", "y_parent"]].to_numpy(), pmap[["x", "y"]].to_numpy())
    aligned = both[["x_child", "y_child"]].to_numpy()
    expect = em.align_to_parent(raw[["x", "y"]].to_numpy(), pmap[["x", "y"]].to_numpy())
    assert np.allclose(aligned, expect, atol=1e-5)
    unaligned = em.merge_parent_child(pmap, raw, keep, align=False)
    assert np.allclose(unaligned[["x_child", "y_child"]].to_numpy(), raw[["x", "y"]].to_numpy())


def test_umap_cli(tmp_path, capsys):
    x, _ = _clustered(n=120)
    run = _make_run(tmp_path / "r", x)
    code, out = run_cli(["umap", "--run-dir", run, "--dim", "2", "--epochs", "60"], capsys)
    assert code == 0 and out["n"] == 120 and out["cached"] is False
    assert out["path"].endswith("umap_2d.csv") and len(pd.read_csv(out["path"])) == 120
    code, out = run_cli(["umap", "--run-dir", run, "--dim", "2", "--epochs", "60"], capsys)
    assert code == 0 and out["cached"] is True
    code, out = run_cli(["umap", "--run-dir", tmp_path / "nothing"], capsys)
    assert code == 2 and "not a run folder" in out["error"]
    code, out = run_cli(["umap", "--run-dir", run, "--neighbors", "200"], capsys)
    assert code == 2 and "too few" in out["error"]


def _colours_by_class(fig) -> dict[str, str]:
    """{legend entry: marker colour} of a map_figure (one WebGL trace per category)."""
    return {t.name: t.marker.color for t in fig.data if t.type == "scattergl"}


def test_parent_child_and_report_maps_share_one_class_palette():
    """The pruned child's map colours every class as the Embeddings map and the report do: discrete legend
    entries in the class palette, no colour bar; legends say what they show; no forced background."""
    from core.figures.layout import PALETTE
    from core.figures.maps import map_figure, parent_child_figures

    rng = np.random.default_rng(1)
    n, names = 400, [str(c) for c in range(10)]
    labels = rng.integers(0, 10, n)
    frame = pd.DataFrame(
        {
            "index": np.arange(n),
            "x_parent": rng.normal(size=n),
            "y_parent": rng.normal(size=n),
            "x_child": rng.normal(size=n),
            "y_child": rng.normal(size=n),
            "kept": rng.random(n) < 0.7,
        }
    )
    parent_map = map_figure(np.arange(n), frame["x_parent"], frame["y_parent"], labels, categories=names)
    _, child = parent_child_figures(frame, labels, names)
    expected = {name: PALETTE[c] for c, name in enumerate(names)}
    assert _colours_by_class(parent_map) == expected == _colours_by_class(child)
    assert all(not t.marker.showscale for t in child.data)  # no continuous colour bar
    assert child.layout.legend.title.text == "class (click to hide)"
    mixed = map_figure(np.arange(n), frame["x_parent"], frame["y_parent"], labels % 2, categories=["clean", "mixed"],
                       color_title="mixed")  # fmt: skip
    assert mixed.layout.legend.title.text == "mixed (click to hide)"
    assert child.layout.plot_bgcolor is None  # the theme (light or dark) decides
    assert child.layout.title.yanchor == "bottom" and child.layout.margin.t > 40  # the title sits under the toolbar
