"""Real training on digits: repeatability, resume, pruning, NaN and cancel handling, run folders."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from core.io import read_json, read_jsonl
from core.models.checkpoints import load_checkpoint_file
from tests.helpers import run_cli

FAST = ["--dataset", "digits", "--epochs", "2", "--checkpoint-every", "1", "--no-probe"]


def _weights(run_dir):
    return load_checkpoint_file(run_dir / "checkpoints" / "last.pt")["model"]


def test_run_folder_contract(tiny_run):
    cfg = read_json(tiny_run / "config.json")
    man = read_json(tiny_run / "manifest.json")
    status = read_json(tiny_run / "status.json")
    metrics = read_json(tiny_run / "metrics.json")
    assert cfg["dataset"] == "digits" and cfg["epochs"] == 3 and cfg["preset"] == "quick"
    assert man["n_train"] == 1438 and man["n_test"] == 359 and len(man["fingerprint"]) == 40
    assert man["versions"]["torch"].startswith("2.14.1") and man["git_commit"]
    assert man["device"].startswith("cpu") and man["wall_time_s"] > 0 and man["keep_sha1"] is None
    assert status["state"] == "done" and status["epoch"] == 3
    progress = read_jsonl(tiny_run / "progress.jsonl")
    assert [p["epoch"] for p in progress] == [1, 2, 3]
    assert all(0.03 < p["flagged_share"] < 0.11 for p in progress)  # posLow - posHigh = 0.07 of each row
    assert set(progress[0]["monitor"]) == {"ucl", "hard_ucl", "scl", "hard_scl"}
    with np.load(tiny_run / "features.npz") as f:
        assert f["train"].shape == (1438, 128) and f["test"].shape == (359, 128)
        assert f["train"].dtype == np.float32
    assert 0.5 < metrics["linear_acc"] <= 1 and 0.5 < metrics["knn_acc"] <= 1
    ckpt = load_checkpoint_file(tiny_run / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == 3 and ckpt["config"]["arch"] == "small_cnn"


@pytest.mark.slow
def test_same_seed_same_weights_and_resume_is_exact(runs_root, capsys):
    a, b, c = runs_root / "a", runs_root / "b", runs_root / "c"
    assert run_cli(["train", *FAST, "--epochs", "3", "--run-dir", a], capsys)[0] == 0
    assert run_cli(["train", *FAST, "--epochs", "3", "--run-dir", b], capsys)[0] == 0
    wa, wb = _weights(a), _weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # a 3-epoch run stopped after epoch 2 (as SIGTERM would), then resumed: identical to run a
    from core.data.sources import load_dataset
    from core.training.config import make_config
    from core.training.loop import TrainingStopped, train

    cfg = make_config("digits", epochs=3, checkpoint_every=1)
    c.mkdir()
    (c / "config.json").write_text(cfg.to_json())
    with pytest.raises(TrainingStopped):
        train(cfg, load_dataset("digits"), c, should_stop=lambda: len(read_jsonl(c / "progress.jsonl")) >= 2)
    assert load_checkpoint_file(c / "checkpoints" / "last.pt")["epoch"] == 2
    code, out = run_cli(["train", "--resume", "--run-dir", c, "--no-probe"], capsys)
    assert code == 0 and out["epochs"] == 3
    wc = _weights(c)
    assert all(torch.equal(wa[k], wc[k]) for k in wa)
    assert [p["epoch"] for p in read_jsonl(c / "progress.jsonl")] == [1, 2, 3]


@pytest.mark.slow
def test_other_seed_differs(runs_root, capsys):
    run_cli(["train", *FAST, "--epochs", "1", "--run-dir", runs_root / "s0"], capsys)
    run_cli(["train", *FAST, "--epochs", "1", "--seed", "1", "--run-dir", runs_root / "s1"], capsys)
    w0, w1 = _weights(runs_root / "s0"), _weights(runs_root / "s1")
    assert not torch.equal(w0["backbone.features.0.weight"], w1["backbone.features.0.weight"])


@pytest.mark.slow
def test_existing_run_is_never_overwritten(runs_root, capsys):
    run_dir = runs_root / "taken"
    assert run_cli(["train", *FAST, "--epochs", "1", "--run-dir", run_dir], capsys)[0] == 0
    before = (run_dir / "checkpoints" / "last.pt").read_bytes()
    code, out = run_cli(["train", *FAST, "--run-dir", run_dir], capsys)
    assert code == 2 and "already exists" in out["error"] and "--resume" in out["error"]
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == before


def test_pruned_retrain_uses_kept_indices(runs_root, capsys, tmp_path):
    keep = np.arange(0, 1438, 2)
    np.save(tmp_path / "keep.npy", keep)
    code, out = run_cli(
        [
            "train",
            *FAST,
            "--epochs",
            "1",
            "--keep",
            tmp_path / "keep.npy",
            "--parent",
            "p",
            "--prune-score",
            "band",
            "--prune-ratio",
            "0.5",
            "--run-dir",
            runs_root / "pr",
        ],
        capsys,
    )
    assert code == 0
    man = read_json(runs_root / "pr" / "manifest.json")
    assert man["n_kept"] == 719 and man["prune"] == {"score": "band", "ratio": 0.5} and man["parent"] == "p"
    assert np.array_equal(np.load(runs_root / "pr" / "keep.npy"), keep)
    with np.load(runs_root / "pr" / "features.npz") as f:  # features still cover every sample
        assert f["train"].shape[0] == 1438


def test_bad_keep_file_leaves_no_run_folder(runs_root, capsys, tmp_path):
    np.save(tmp_path / "bad.npy", np.array([0, 5000]))
    code, out = run_cli(["train", *FAST, "--keep", tmp_path / "bad.npy", "--run-dir", runs_root / "x"], capsys)
    assert code == 2 and "outside [0, 1438)" in out["error"]
    assert not (runs_root / "x").exists()


@pytest.mark.slow
def test_nan_loss_fails_the_run_and_keeps_the_last_good_checkpoint(runs_root, capsys):
    run_dir = runs_root / "nan"
    assert run_cli(["train", *FAST, "--epochs", "1", "--run-dir", run_dir], capsys)[0] == 0
    good = (run_dir / "checkpoints" / "last.pt").read_bytes()
    cfg = read_json(run_dir / "config.json")
    cfg.update(optimizer="sgd", lr=1e30, epochs=2)  # diverges at once
    (run_dir / "config.json").write_text(json.dumps(cfg))
    code, out = run_cli(["train", "--resume", "--run-dir", run_dir, "--no-probe"], capsys)
    # changing lr is not a resumable difference: refused, nothing touched
    assert code == 2 and "different settings (lr, optimizer)" in out["error"]
    code, out = run_cli(["train", *FAST, "--optimizer", "sgd", "--lr", "1e30", "--run-dir", runs_root / "nan2"], capsys)
    assert code == 2 and "the loss became nan" in out["error"] and "last good checkpoint is kept" in out["error"]
    status = read_json(runs_root / "nan2" / "status.json")
    assert status["state"] == "failed" and "nan" in status["message"]
    assert not (runs_root / "nan2" / "checkpoints" / "last.pt").exists()  # no NaN weights were saved
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == good


@pytest.mark.slow
def test_sigterm_cancels_and_keeps_the_checkpoint(runs_root):
    run_dir = runs_root / "cancel"
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "train", *FAST, "--epochs", "200", "--run-dir", str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (run_dir / "checkpoints" / "last.pt").exists():
        time.sleep(0.2)
    assert (run_dir / "checkpoints" / "last.pt").exists()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and json.loads(out.strip().splitlines()[-1])["state"] == "cancelled"
    status = read_json(run_dir / "status.json")
    assert status["state"] == "cancelled" and "--resume" in status["message"]
    assert load_checkpoint_file(run_dir / "checkpoints" / "last.pt")["epoch"] >= 1


@pytest.mark.slow
def test_resume_records_changed_settings_cuts_progress_and_completes_the_manifest(runs_root, capsys):
    """A run that died after logging epoch 2 (checkpoint at 1) and before writing its manifest, resumed
    with --epochs 3 --device cpu: config.json says 3/cpu, progress lists each epoch once, the manifest has
    every key a new run's has."""
    from core.data.sources import load_dataset
    from core.io import append_jsonl
    from core.training.config import make_config
    from core.training.loop import TrainingStopped, train

    run = runs_root / "died"
    run.mkdir()
    cfg = make_config("digits", epochs=2, checkpoint_every=1, device="auto")
    (run / "config.json").write_text(cfg.to_json())
    with pytest.raises(TrainingStopped):
        train(cfg, load_dataset("digits"), run, should_stop=lambda: len(read_jsonl(run / "progress.jsonl")) >= 1)
    append_jsonl(run / "progress.jsonl", {"epoch": 2, "loss": 9.0})  # logged, never checkpointed
    with open(run / "progress.jsonl", "a") as fh:
        fh.write('{"epoch": 3, "lo')  # a torn last line
    code, out = run_cli(
        ["train", "--resume", "--run-dir", run, "--epochs", "3", "--device", "cpu", "--no-probe"], capsys
    )
    assert code == 0 and out["epochs"] == 3
    saved = read_json(run / "config.json")
    assert saved["epochs"] == 3 and saved["device"] == "cpu" and saved["created"] == cfg.created
    assert load_checkpoint_file(run / "checkpoints" / "last.pt")["config"]["device"] == "cpu"
    progress = read_jsonl(run / "progress.jsonl")
    assert [p["epoch"] for p in progress] == [1, 2, 3] and progress[1]["loss"] != 9.0
    man = read_json(run / "manifest.json")
    fresh_keys = {"run_id", "created", "dataset", "fingerprint", "n_train", "n_test", "classes", "n_mixed", "seed"}
    fresh_keys |= {"keep_sha1", "n_kept", "parent", "prune", "git_commit", "versions", "device", "hostname"}
    assert fresh_keys <= set(man) and man["n_train"] == 1438 and man["device"].startswith("cpu")
    assert man["wall_time_s"] > 0 and [r["epochs"] for r in man["resumes"]] == [3]
    assert read_json(run / "status.json")["state"] == "done"


def test_cut_progress_keeps_the_checkpoints_epochs(tmp_path):
    from core.io import append_jsonl
    from core.training.loop import cut_progress

    path = tmp_path / "progress.jsonl"
    for epoch in (1, 2, 3, 4, 3):
        append_jsonl(path, {"epoch": epoch, "loss": float(epoch)})
    cut_progress(path, 2)
    assert [r["epoch"] for r in read_jsonl(path)] == [1, 2]
    before = path.read_bytes()
    cut_progress(path, 2)  # already cut: the file is left as it is
    assert path.read_bytes() == before
    cut_progress(path, 0)
    assert path.read_text() == ""
