"""The CLI contract: last stdout line is JSON; import/probe/runs; clear errors."""

import json
import subprocess
import sys

import numpy as np
import torch

from core.io import read_json
from core.training.checkpoints import load_checkpoint_file
from core.training.models import build_backbone
from tests.helpers import run_cli


def test_imported_ssl_checkpoint_reproduces_the_run(tiny_run, runs_root, tmp_path, capsys):
    """A Lightning/solo-learn style file of the same weights gives the same features and accuracy."""
    own = load_checkpoint_file(tiny_run / "checkpoints" / "last.pt")["model"]
    foreign = {"state_dict": {k: v for k, v in own.items()}, "epoch": 3}  # keys keep 'backbone.'/'projector.'
    torch.save(foreign, tmp_path / "solo.ckpt")
    code, out = run_cli(
        [
            "import",
            "--checkpoint",
            tmp_path / "solo.ckpt",
            "--dataset",
            "digits",
            "--out-size",
            "16",
            "--name",
            "imported",
        ],
        capsys,
    )
    assert code == 0 and out["arch"] == "small_cnn"
    run_dir = runs_root / "imported"
    assert read_json(run_dir / "manifest.json")["imported_from"].endswith("solo.ckpt")
    with np.load(tiny_run / "features.npz") as a, np.load(run_dir / "features.npz") as b:
        np.testing.assert_allclose(a["train"], b["train"], rtol=1e-5, atol=1e-5)
    assert out["linear_acc"] == read_json(tiny_run / "metrics.json")["linear_acc"]


def test_import_channel_mismatch_and_bad_file(runs_root, tmp_path, capsys):
    # issue 13: 1-channel data into a 3-channel backbone now repeats the channel (tests/test_checkpoint_layouts.py);
    # a channel count that cannot be repeated is still refused
    torch.save(build_backbone("resnet18", 2).state_dict(), tmp_path / "r18.pt")
    code, out = run_cli(["import", "--checkpoint", tmp_path / "r18.pt", "--dataset", "digits"], capsys)
    assert code == 2 and "expects 2-channel images but digits has 1" in out["error"]
    assert list(runs_root.iterdir()) == []  # nothing half-made
    code, out = run_cli(["import", "--checkpoint", tmp_path / "missing.pt"], capsys)
    assert code == 2 and "does not exist" in out["error"]


def test_probe_and_runs_commands(tiny_run, capsys, monkeypatch):
    code, out = run_cli(["probe", "--run-dir", tiny_run], capsys)
    metrics = read_json(tiny_run / "metrics.json")
    assert code == 0 and out["linear_acc"] == metrics["linear_acc"] and out["knn_acc"] == metrics["knn_acc"]
    monkeypatch.setenv("HARDPAIRS_RUNS", str(tiny_run.parent))
    code, out = run_cli(["runs"], capsys)
    row = next(r for r in out["runs"] if r["run_id"] == tiny_run.name)
    assert row["state"] == "done" and row["linear_acc"] == metrics["linear_acc"] and row["dataset"] == "digits"
    code, out = run_cli(["runs", "--show", tiny_run], capsys)
    assert out["config"]["epochs"] == 3 and out["manifest"]["n_train"] == 1438


def test_user_errors_exit_2_with_json(runs_root, tmp_path, capsys):
    code, out = run_cli(["probe", "--run-dir", tmp_path], capsys)
    assert code == 2 and "is not a run folder" in out["error"] and "python -m core train" in out["error"]
    code, out = run_cli(["train", "--dataset", "imagenet22k", "--run-dir", runs_root / "x"], capsys)
    assert code == 2 and "imagenet22k" in out["error"]
    assert not (runs_root / "x").exists()
    code, out = run_cli(["train", "--loss-mode", "bogus"], capsys)
    assert code == 2 and "loss mode 'bogus' is unknown" in out["error"]
    code, out = run_cli(["train", "--resume"], capsys)
    assert code == 2 and "--resume needs --run-dir" in out["error"]


def test_module_entry_point_prints_json_last(tiny_run):
    proc = subprocess.run(
        [sys.executable, "-m", "core", "runs", "--show", str(tiny_run)], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout.strip().splitlines()[-1])["run_id"] == tiny_run.name
