"""Tags (run/tags.csv), id exports and pruning by a tag: core.audit.tags, core.audit.tagprune and their CLI twins."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.audit import tags
from core.errors import HardpairsError
from core.io import save_npy, save_npz, write_json
from tests.helpers import run_cli

N = 10
LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], np.int64)


@pytest.fixture
def run(tmp_path, monkeypatch) -> Path:
    """A run folder with config, manifest (n_train = 10) and features (labels above), inside the runs root."""
    monkeypatch.setenv("HARDPAIRS_RUNS", str(tmp_path / "runs"))
    d = tmp_path / "runs" / "r1"
    write_json(d / "config.json", {"dataset": "digits", "seed": 0})
    write_json(d / "manifest.json", {"n_train": N, "classes": ["a", "b", "c"]})
    rng = np.random.default_rng(0)
    save_npz(
        d / "features.npz",
        train=rng.normal(size=(N, 4)).astype(np.float32),
        test=rng.normal(size=(3, 4)).astype(np.float32),
        y_train=LABELS,
        y_test=np.array([0, 1, 2], np.int64),
    )
    return d


def test_add_list_remove_round_trip_in_tags_csv(run):
    assert tags.add_tag(run, "odd", [3, 1, 1, 5]) == {"run_dir": str(run), "tag": "odd", "added": 3, "n_tagged": 3}
    assert tags.add_tag(run, "odd", [5, 7])["added"] == 1  # 5 was tagged already
    tags.add_tag(run, "zero", [0])
    assert tags.list_tags(run) == {"odd": 4, "zero": 1}
    assert (run / "tags.csv").read_text().splitlines() == ["id,tag", "1,odd", "3,odd", "5,odd", "7,odd", "0,zero"]
    assert tags.tag_ids(run, "odd").tolist() == [1, 3, 5, 7]
    assert tags.tags_of(run, 0) == ["zero"] and tags.tags_of(run, 2) == []
    assert tags.remove_tag(run, "odd", [3])["n_tagged"] == 3
    assert tags.remove_tag(run, "zero")["removed"] == 1
    assert tags.list_tags(run) == {"odd": 3}


@pytest.mark.parametrize(
    "ids, match",
    [
        ([10], "sample id 10 is not a training sample id of this run; ids run from 0 to 9"),
        ([-1], "-1"),
        ([], "no sample"),
    ],
)
def test_bad_ids_are_refused_and_nothing_written(run, ids, match):
    with pytest.raises(HardpairsError, match=match):
        tags.add_tag(run, "x", ids)
    assert not (run / "tags.csv").exists()


@pytest.mark.parametrize("name", ["", "a b", "../x", "-lead", "x" * 65, "tag,comma"])
def test_bad_tag_names_are_refused(run, name):
    with pytest.raises(HardpairsError, match="is not allowed"):
        tags.add_tag(run, name, [1])


def test_unknown_tag_lists_the_known_ones(run):
    tags.add_tag(run, "odd", [1])
    with pytest.raises(HardpairsError, match="no samples tagged 'even'; its tags: odd"):
        tags.tag_ids(run, "even")


def test_corrupt_tags_csv_is_named(run):
    (run / "tags.csv").write_text("foo\n1\n")
    with pytest.raises(HardpairsError, match="tags.csv is unreadable"):
        tags.list_tags(run)


def test_parse_ids_accepts_commas_spaces_newlines_and_a_header():
    assert tags.parse_ids("id\n1, 2\n3 4,") == [1, 2, 3, 4]
    with pytest.raises(HardpairsError, match="'x' is not a sample id"):
        tags.parse_ids("1,x")


def test_export_tagged_kept_pruned_and_never_overwrites(run, tmp_path):
    tags.add_tag(run, "odd", [1, 3])
    out = tmp_path / "odd.csv"
    res = tags.export_ids(run, "tagged:odd", out)
    assert res["n"] == 2
    frame = pd.read_csv(out)
    assert frame["id"].tolist() == [1, 3] and frame["label"].tolist() == [1, 0]
    with pytest.raises(HardpairsError, match="already exists; pass --force"):
        tags.export_ids(run, "tagged:odd", out)
    tags.add_tag(run, "odd", [5])
    tags.export_ids(run, "tagged:odd", out, force=True)
    assert pd.read_csv(out)["id"].tolist() == [1, 3, 5]
    with pytest.raises(HardpairsError, match="not a pruned run"):
        tags.export_ids(run, "kept", tmp_path / "k.csv")
    save_npy(run / "keep.npy", np.array([0, 2, 4, 6, 8], np.int64))
    tags.export_ids(run, "pruned", tmp_path / "p.csv")
    assert pd.read_csv(tmp_path / "p.csv")["id"].tolist() == [1, 3, 5, 7, 9]
    tags.export_ids(run, "selected", tmp_path / "s.csv", ids=[9, 2])
    assert pd.read_csv(tmp_path / "s.csv")["id"].tolist() == [2, 9]
    with pytest.raises(HardpairsError, match="folder .* does not exist"):
        tags.export_ids(run, "selected", tmp_path / "nope" / "s.csv", ids=[1])


def test_cli_tag_export_and_errors(run, tmp_path, capsys):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("id\n4\n6\n")
    code, out = run_cli(["tag", "--run-dir", run, "--add", "sus", "--ids", "2", "--ids-file", ids_file], capsys)
    assert code == 0 and out["n_tagged"] == 3
    code, out = run_cli(["tag", "--run-dir", run], capsys)
    assert out == {"run_dir": str(run), "tags": {"sus": 3}}
    dest = tmp_path / "sus.csv"
    code, out = run_cli(["export", "--run-dir", run, "--what", "tagged:sus", "--out", dest], capsys)
    assert code == 0 and pd.read_csv(dest)["id"].tolist() == [2, 4, 6]
    code, out = run_cli(["export", "--run-dir", run, "--what", "tagged:sus", "--out", dest], capsys)
    assert code == 2 and "already exists; pass --force" in out["error"]
    code, out = run_cli(["tag", "--run-dir", run, "--add", "sus"], capsys)
    assert code == 2 and "--ids" in out["error"]
    code, out = run_cli(["prune", "--run-dir", run, "--tag", "sus", "--ratio", "0.1"], capsys)
    assert code == 2 and "drop --ratio" in out["error"]
    code, out = run_cli(["prune", "--run-dir", run], capsys)
    assert code == 2 and "--tag NAME" in out["error"]


def test_prune_by_tag_keeps_every_untagged_sample(run, capsys):
    tags.add_tag(run, "sus", [0, 3, 9])
    code, out = run_cli(["prune", "--run-dir", run, "--tag", "sus"], capsys)
    assert code == 0
    assert (out["score"], out["n_pruned"], out["n_kept"]) == ("tag:sus", 3, 7)
    assert out["ratio"] == pytest.approx(0.3)
    folder = Path(out["out"])
    assert folder == run / "prune" / "tag_sus_seed0"
    assert np.load(folder / "keep.npy").tolist() == [1, 2, 4, 5, 6, 7, 8]
    assert np.load(folder / "pruned.npy").tolist() == [0, 3, 9]
    assert pd.read_csv(folder / "per_class.csv")["pruned"].tolist() == [3, 0, 0]
    # the random control removes exactly as many samples
    assert out["random_baseline"] == f"python -m core prune --run-dir {run} --score random --ratio 0.3 --seed 0"
    from core.analysis.prune import select_keep

    assert len(select_keep(np.zeros(N), float("0.3"))[1]) == 3


def test_ratio_text_round_trips_counts():
    from core.audit.tagprune import ratio_text

    for n in (1437, 50000, 99991):
        for m in (1, 7, n // 3, n - 1):
            assert int(round(float(ratio_text(m / n)) * n)) == m


@pytest.mark.slow
def test_prune_by_tag_retrains_a_child_on_the_kept_samples(tiny_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HARDPAIRS_RUNS", str(tmp_path / "runs"))
    parent = tmp_path / "runs" / "parent"
    shutil.copytree(tiny_run, parent)
    tags.add_tag(parent, "sus", [0, 1, 2, 3, 4])
    code, out = run_cli(["prune", "--run-dir", parent, "--tag", "sus", "--train", "--epochs", "1"], capsys)
    assert code == 0, out
    child = Path(out["train"]["run_dir"])
    assert child.parent == parent.parent
    from core.io import read_json

    cfg = read_json(child / "config.json")
    assert cfg["prune_score"] == "tag:sus" and cfg["parent"] == str(parent)
    kept = np.load(child / "keep.npy")
    assert 0 not in kept and 4 not in kept and len(kept) == tags.n_samples(parent) - 5


def test_pruning_text_never_shows_nan():
    from core.reports.labels import pruning_text
    from ui.views.runtable import runs_frame

    assert pruning_text(float("nan"), float("nan")) == ""
    assert pruning_text(None, None) == ""
    assert pruning_text("band", float("nan")) == "band"
    assert pruning_text("band", None) == "band"
    assert pruning_text("tag:sus", 0.3) == "tag:sus 30%"
    rows = [
        {"run_id": "p", "dataset": "d", "loss_mode": "baseline", "seed": 0, "epochs": 1, "state": "done"},
        {"run_id": "c", "dataset": "d", "loss_mode": "baseline", "seed": 0, "epochs": 1, "state": "done"}
        | {"prune_score": "band", "prune_ratio": 0.1},
    ]
    for r in rows:
        r.setdefault("linear_acc", None)
        r.setdefault("knn_acc", None)
        r.setdefault("n_kept", None)
        r.setdefault("wall_time_s", None)
    rows[0] |= {"prune_score": float("nan"), "prune_ratio": float("nan")}
    assert runs_frame(rows)["pruning"].tolist() == ["", "band 10%"]
