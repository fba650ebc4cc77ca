"""The run-level library functions of core.runs: the one cache rule, analyse_run, prune_run in-process."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.io import read_json, run_log, save_npz, write_json
from core.rundir.cache import cached, features_fingerprint
from core.runs.analysis import analyse_run, pairs_for_run, scores_for_run


def _features(seed: int = 0, n: int = 150, d: int = 8, c: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % c
    x = (rng.standard_normal((c, d)) * 3)[y] + rng.standard_normal((n, d))
    return x.astype(np.float32), y.astype(np.int64)


def _run(root: Path, seed: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "config.json", {"pos_high": 0.2, "pos_low": 0.35, "seed": 1, "dataset": "digits"})
    write_json(root / "manifest.json", {"classes": ["a", "b", "c"]})
    _write_features(root, seed)
    return root


def _write_features(run: Path, seed: int) -> None:
    x, y = _features(seed)
    save_npz(run / "features.npz", train=x, test=x[:30], y_train=y, y_test=y[:30])


def _age(paths: list[Path]) -> dict[Path, int]:
    """Set every file's mtime one minute into the past and return the new mtimes (ns)."""
    past = time.time() - 60
    for p in paths:
        os.utime(p, (past, past))
    return {p: p.stat().st_mtime_ns for p in paths}


def test_cached_reuses_on_equal_params_and_features_and_recomputes_otherwise(tmp_path):
    run = _run(tmp_path / "r")
    calls = []

    def compute():
        calls.append(1)
        (run / "out.txt").write_text(str(len(calls)))
        return {"value": len(calls)}

    first = cached(run, "thing.json", {"a": 1}, compute, outputs=["out.txt"])
    assert first == {"value": 1, "params": {"a": 1}, "features_sha1": features_fingerprint(run), "cached": False}
    assert read_json(run / "thing.json") == {k: v for k, v in first.items() if k != "cached"}
    assert cached(run, "thing.json", {"a": 1}, compute, outputs=["out.txt"])["cached"] is True
    assert len(calls) == 1
    assert cached(run, "thing.json", {"a": 2}, compute)["value"] == 2  # other parameters
    assert cached(run, "thing.json", {"a": 2}, compute, force=True)["value"] == 3  # forced
    (run / "out.txt").unlink()
    assert cached(run, "thing.json", {"a": 2}, compute, outputs=["out.txt"])["value"] == 4  # output gone
    old = features_fingerprint(run)
    _write_features(run, seed=5)
    assert features_fingerprint(run) != old
    res = cached(run, "thing.json", {"a": 2}, compute, outputs=["out.txt"])  # other features
    assert (res["value"], res["cached"]) == (5, False)


def test_analyse_run_reuses_cached_outputs_and_recomputes_on_changes(tmp_path):
    run = _run(tmp_path / "r")
    first = analyse_run(run)
    assert list(first) == ["score", "pairs", "umap", "theory"]
    assert not any(first[a]["cached"] for a in first)
    outputs = [run / f for f in ("scores.csv", "scores.json", "pairs.csv", "class_pairs.npz", "pairs.json")]
    outputs += [run / "umap_2d.csv", run / "umap_2d.json", run / "theory.json"]
    before = _age(outputs)
    contents = {p: p.read_bytes() for p in outputs}
    second = analyse_run(run)
    assert all(second[a]["cached"] for a in second)
    assert {p: p.stat().st_mtime_ns for p in outputs} == before
    assert {p: p.read_bytes() for p in outputs} == contents
    assert second["score"]["t_hi"] == first["score"]["t_hi"] and second["theory"]["alpha"] == first["theory"]["alpha"]
    assert "analysis: theory" == read_json(run / "status.json")["message"]
    assert (run / "log.txt").read_text().count("score: done in") == 2

    # other parameters: only that analysis is recomputed
    res = scores_for_run(run, k=7)
    assert res["cached"] is False and read_json(run / "scores.json")["params"]["k"] == 7
    assert (run / "scores.csv").stat().st_mtime_ns != before[run / "scores.csv"]
    assert pairs_for_run(run)["cached"] is True
    assert pairs_for_run(run, top=10)["n_pairs"] == 10 and len(pd.read_csv(run / "pairs.csv")) == 10

    # other features: everything is recomputed, with the new values
    _write_features(run, seed=9)
    third = analyse_run(run)
    assert not any(third[a]["cached"] for a in third)
    assert third["score"]["t_hi"] != first["score"]["t_hi"]
    assert read_json(run / "theory.json")["features_sha1"] == features_fingerprint(run)


def test_pairs_for_run_uses_scores_thresholds_only_for_the_same_features(tmp_path):
    run = _run(tmp_path / "r")
    scores = scores_for_run(run)
    pairs = pairs_for_run(run)
    assert (pairs["t_hi"], pairs["t_lo"]) == pytest.approx((scores["t_hi"], scores["t_lo"]), abs=1e-7)
    write_json(run / "scores.json", read_json(run / "scores.json") | {"t_hi": 0.5, "t_lo": 0.25})
    assert pairs_for_run(run, force=True)["t_hi"] == 0.5  # same features: the stored thresholds are used
    _write_features(run, seed=1)
    assert pairs_for_run(run)["t_hi"] != 0.5  # new features: computed afresh


def test_run_log_appends_timestamped_lines(tmp_path, capsys):
    (tmp_path / "new").mkdir()  # run_log never creates the run folder (issue 24)
    run_log(tmp_path / "new", "first")
    run_log(tmp_path / "new", "second", echo=False)
    lines = (tmp_path / "new" / "log.txt").read_text().splitlines()
    assert [line[9:] for line in lines] == ["first", "second"]
    assert all(len(line[:8].split(":")) == 3 for line in lines)
    assert capsys.readouterr().err == "first\n"


@pytest.mark.slow
def test_prune_run_retrains_in_process(tiny_run, tmp_path, monkeypatch):
    """prune_run(train=True) trains the child run in this process: no subprocess is started."""
    import shutil

    from core.runs.pruning import prune_run

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    monkeypatch.setattr(subprocess, "run", no_subprocess)
    monkeypatch.setattr("core.runs.manifest.git_commit", lambda *a: "test")
    parent = tmp_path / "runs" / "parent"
    shutil.copytree(tiny_run, parent)
    res = prune_run(parent, "random", 0.25, seed=4, train=True, retrain={"epochs": 1, "sigma": 0.07})
    child = Path(res["train"]["run_dir"])
    assert child.parent == parent.parent and child != parent
    cfg = read_json(child / "config.json")
    assert (cfg["parent"], cfg["prune_score"], cfg["prune_ratio"]) == (str(parent), "random", 0.25)
    assert (cfg["seed"], cfg["epochs"], cfg["sigma"]) == (4, 1, 0.07)
    keep = np.load(parent / "prune" / "random_0.25_seed4" / "keep.npy")
    assert np.array_equal(np.load(child / "keep.npy"), keep) and cfg["keep"] == str(child / "keep.npy")
    assert read_json(child / "manifest.json")["prune"] == {"score": "random", "ratio": 0.25}
    assert read_json(child / "status.json")["state"] == "done"
    assert 0 < res["train"]["linear_acc"] <= 1 and res["n_kept"] == len(keep)


def test_import_run_failing_after_its_folder_was_made_removes_only_that_folder(tiny_run, tmp_path, monkeypatch):
    """import_run itself (not only the CLI) cleans up: the new folder goes, its sibling stays."""
    import pytest

    from core.errors import HardpairsError
    from core.runs import importing

    def broken(*args, **kwargs):
        raise HardpairsError("disk full while writing the import")

    monkeypatch.setattr(importing, "_write_import", broken)
    root = tmp_path / "runs"
    (root / "keep-me").mkdir(parents=True)
    (root / "keep-me" / "notes.txt").write_text("mine")
    with pytest.raises(HardpairsError, match="disk full"):
        importing.import_run(tiny_run / "checkpoints" / "last.pt", run_dir=str(root / "imported"))
    assert not (root / "imported").exists()
    assert (root / "keep-me" / "notes.txt").read_text() == "mine"


def test_update_status_never_recreates_a_moved_run_folder(tmp_path):
    """A process stopping after its run folder was moved away must not leave a stray status.json."""
    from core.rundir.folder import update_status

    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    update_status(run, state="running")
    run.rename(tmp_path / "runs" / "moved")
    status = update_status(run, state="cancelled")
    assert status["state"] == "cancelled"
    assert not run.exists()
    assert (tmp_path / "runs" / "moved" / "status.json").exists()


def test_status_progress_follows_a_running_runs_extraction_and_leaves_a_finished_run_alone(tmp_path):
    import torch

    from core.models.features import extract_features
    from core.rundir.folder import status_progress, update_status

    run = tmp_path / "r"
    run.mkdir()
    update_status(run, state="running", message="extracting features and probing")
    calls = []
    report = status_progress(run, "train features", every_s=3600.0)
    x = np.random.default_rng(0).integers(0, 255, (10, 3, 4, 4), dtype=np.uint8)
    backbone = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
    feats = extract_features(
        backbone, x, 4, np.zeros(3), np.ones(3), torch.device("cpu"), batch_size=4,
        progress=lambda done, total: (calls.append((done, total)), report(done, total)),
    )  # fmt: skip
    assert feats.shape == (10, 3) and calls == [(4, 10), (8, 10), (10, 10)]
    # the first step writes, the second is within every_s, the last always writes
    assert read_json(run / "status.json")["message"] == "train features: 10 / 10"
    update_status(run, state="done", message="finished")
    status_progress(run, "test features")(5, 5)
    assert read_json(run / "status.json")["message"] == "finished"  # a finished run's status is not touched
