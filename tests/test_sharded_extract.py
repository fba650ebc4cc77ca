"""Sharded feature extraction: one shard per torchrun rank, read back as one memory-mapped array."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data.shards import ShardedArray, open_sharded, shard_rows
from core.errors import HardpairsError
from core.models.models import build_backbone
from core.rundir.featurefile import feature_source, open_features
from core.runs.extraction import extract_run_sharded
from core.runs.importing import import_run

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("n,world", [(10, 3), (2, 4), (1797, 2), (0, 2)])
def test_shard_rows_cover_every_row_once_in_order(n, world):
    parts = [shard_rows(n, world, r) for r in range(world)]
    got = np.concatenate([np.arange(n)[p] for p in parts]) if n else np.zeros(0)
    assert np.array_equal(got, np.arange(n))
    sizes = [p.stop - p.start for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_sharded_array_indexes_like_the_concatenation(tmp_path):
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(n, 3)).astype(np.float32) for n in (4, 0, 5, 2)]
    for i, p in enumerate(parts):
        np.save(tmp_path / f"p{i}.npy", p)
    arr = ShardedArray([np.load(tmp_path / f"p{i}.npy", mmap_mode="r") for i in range(4)])
    full = np.concatenate(parts)
    assert arr.shape == (11, 3) and len(arr) == 11 and arr.dtype == np.float32
    assert np.array_equal(np.asarray(arr), full)
    assert np.array_equal(arr[4], full[4]) and np.array_equal(arr[-1], full[-1])
    assert np.array_equal(arr[2:9:3], full[2:9:3])
    idx = np.array([10, 0, 5, 4, 4, -2])
    assert np.array_equal(arr[idx], full[idx])
    mask = rng.random(11) < 0.5
    assert np.array_equal(arr[mask], full[mask])
    blocks = list(arr.chunks(rows=3))
    assert np.array_equal(np.concatenate([b for _, b in blocks]), full)
    assert [s for s, _ in blocks] == [0, 3, 4, 7, 9]
    with pytest.raises(IndexError):
        arr[11]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """An imported small-CNN run on digits (single-process features.npz as the reference)."""
    root = tmp_path_factory.mktemp("runs")
    torch.manual_seed(0)
    torch.save(build_backbone("small_cnn", 1).state_dict(), root / "cnn.pt")
    res = import_run(root / "cnn.pt", dataset="digits", runs_root=str(root), name="r")
    ref = np.load(Path(res["run_dir"]) / "features.npz")
    return Path(res["run_dir"]), {k: ref[k] for k in ref.files}


def test_one_process_writes_one_shard_equal_to_features_npz(digits_run):
    run, ref = digits_run
    res = extract_run_sharded(run, device="cpu", npz=False)
    assert (res["world_size"], res["rows"], res["dim"], res["features_npz"]) == (1, len(ref["train"]), 128, False)
    index = json.loads((run / "features" / "index.json").read_text())
    assert [s["file"] for s in index["splits"]["train"]["shards"]] == ["train_rank0.npy"]
    np.testing.assert_allclose(np.asarray(open_sharded(run / "features")), ref["train"], rtol=1e-5, atol=1e-5)
    assert np.array_equal(np.load(run / "features" / "y_test.npy"), ref["y_test"])
    # the shards are newer than the run's features.npz, so the one reader reads them now
    feats = open_features(run)
    assert feature_source(run) == run / "features" and isinstance(feats["train"], np.memmap)
    np.testing.assert_allclose(feats["train"], ref["train"], rtol=1e-5, atol=1e-5)
    assert np.array_equal(feats["y_train"], ref["y_train"])


@pytest.mark.slow
def test_torchrun_two_gloo_ranks_write_two_shards_read_as_one_array(digits_run):
    run, ref = digits_run
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "core", "extract", "--run-dir", str(run), "--device", "cpu", "--npz", "yes"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert sum(r["rows"] for r in results) == len(ref["train"])
    folder = run / "features"
    index = json.loads((folder / "index.json").read_text())
    assert index["world_size"] == 2
    assert [s["file"] for s in index["splits"]["train"]["shards"]] == ["train_rank0.npy", "train_rank1.npy"]
    assert not (folder / "train_rank2.npy").exists()
    for split in ("train", "test"):
        arr = open_sharded(folder, split)
        assert isinstance(arr.parts[0], np.memmap) and len(arr.parts) == 2
        np.testing.assert_allclose(np.asarray(arr), ref[split], rtol=1e-5, atol=1e-5)
    again = np.load(run / "features.npz")  # rank 0 assembled the usual file from the shards
    np.testing.assert_allclose(again["train"], ref["train"], rtol=1e-5, atol=1e-5)
    assert "extracted features in 2 shard(s)" in (run / "log.txt").read_text()


def test_missing_or_truncated_shards_are_explained(tmp_path, digits_run):
    with pytest.raises(HardpairsError, match="no complete shard index"):
        open_sharded(tmp_path)
    run, _ = digits_run
    extract_run_sharded(run, device="cpu", npz=False)
    folder = tmp_path / "features"
    folder.mkdir()
    for f in (run / "features").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    np.save(folder / "train_rank0.npy", np.zeros((3, 128), np.float32))
    with pytest.raises(HardpairsError, match="train_rank0.npy has shape .*index says"):
        open_sharded(folder)
    (folder / "test_rank0.npy").unlink()
    with pytest.raises(HardpairsError, match="test_rank0.npy is missing or unreadable"):
        open_sharded(folder, "test")
    with pytest.raises(HardpairsError, match="not a run folder"):
        extract_run_sharded(tmp_path, device="cpu")
