"""Fault tests of run states: kill -9 during training then resume, SIGTERM during the analyses,
two trainers on one run, and the lock that tells a live trainer from a dead one.

The training tests start real ``python -m core train`` processes on digits (CPU, a few seconds).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.cli import main
from core.io import read_json, read_jsonl, write_json
from core.models.checkpoints import load_checkpoint_file
from core.rundir.folder import list_runs, run_summary
from core.rundir.lock import lock_is_held, run_lock
from core.runs.analysis import ANALYSES

REPO = Path(__file__).resolve().parents[2]
TRAIN = ["train", "--dataset", "digits", "--epochs", "6", "--checkpoint-every", "2", "--no-probe"]


def _start(argv: list[str], tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    err = open(tmp_path / f"{name}.stderr", "wb")  # noqa: SIM115 - the child owns it
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "core", *argv], cwd=REPO, stdout=subprocess.PIPE, stderr=err, env=env
    )


def _wait_for(check, proc: subprocess.Popen[bytes], what: str, timeout: float = 240.0) -> None:
    deadline = time.time() + timeout
    while not check():
        assert proc.poll() is None, f"the trainer exited ({proc.returncode}) before {what}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _epochs(run: Path) -> list[int]:
    return [r["epoch"] for r in read_jsonl(run / "progress.jsonl")]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint_file(run / "checkpoints" / "last.pt")["model"]


def _cli(argv: list[str], capsys) -> tuple[int, dict]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, json.loads(out.out.strip().splitlines()[-1])


@pytest.mark.slow
def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path, capsys):
    killed, clean = tmp_path / "runs" / "killed", tmp_path / "runs" / "clean"
    proc = _start([*TRAIN, "--run-dir", str(killed)], tmp_path, "killed")
    _wait_for(lambda: 3 in _epochs(killed), proc, "epoch 3 in progress.jsonl")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert read_json(killed / "status.json")["state"] == "running"  # what the dead trainer left behind
    row = run_summary(killed)
    assert row["state"] == "interrupted"
    assert row["message"] == f"interrupted — resumable: python -m core train --resume --run-dir {killed}"
    code, out = _cli(["runs", "--runs-root", killed.parent], capsys)
    assert code == 0 and [r["state"] for r in out["runs"]] == ["interrupted"]
    ckpt_epoch = load_checkpoint_file(killed / "checkpoints" / "last.pt")["epoch"]
    assert ckpt_epoch in (2, 4) and max(_epochs(killed)) > ckpt_epoch  # epochs after the checkpoint are redone

    code, out = _cli(["train", "--resume", "--run-dir", killed, "--no-probe"], capsys)
    assert code == 0 and out["epochs"] == 6
    assert _epochs(killed) == [1, 2, 3, 4, 5, 6]  # no epoch twice
    assert run_summary(killed)["state"] == "done"
    assert _cli([*TRAIN, "--run-dir", clean], capsys)[0] == 0
    wk, wc = _weights(killed), _weights(clean)
    assert wk.keys() == wc.keys() and all(torch.equal(wk[k], wc[k]) for k in wk)
    manifest = read_json(killed / "manifest.json")
    assert manifest["wall_time_s"] > 0 and len(manifest["resumes"]) == 1 and manifest["n_train"] == 1438


@pytest.mark.slow
def test_sigterm_during_analysis_records_cancelled(tmp_path):
    run = tmp_path / "runs" / "analysed"
    proc = _start(["train", "--dataset", "digits", "--epochs", "1", "--analyse", "--run-dir", str(run)], tmp_path, "a")
    status = run / "status.json"
    _wait_for(lambda: str((read_json(status, {}) or {}).get("message", "")).startswith("analysis:"), proc, "analysis")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=240)
    stderr = (tmp_path / "a.stderr").read_text()
    assert proc.returncode == 0 and "Traceback" not in stderr
    result = json.loads(out.decode().strip().splitlines()[-1])
    st = read_json(status)
    assert st["state"] == result["state"] == "cancelled"
    step = result["analysis"]["cancelled"]
    assert step in ANALYSES and st["message"].startswith(f"cancelled during analysis: {step}")
    later = list(ANALYSES)[list(ANALYSES).index(step) + 1 :]
    outputs = {"score": "scores.json", "pairs": "pairs.json", "umap": "umap_2d.json", "theory": "theory.json"}
    assert (run / outputs[step]).exists()  # the running step finished whole
    assert not any((run / outputs[s]).exists() for s in later)  # the later ones never started
    assert not list(run.glob(".*.tmp")) and not list(run.glob(".*.npz"))  # nothing half-written
    assert run_summary(run)["state"] == "cancelled"


@pytest.mark.slow
def test_second_trainer_on_a_running_run_is_refused(tmp_path, capsys):
    run = tmp_path / "runs" / "busy"
    proc = _start([*TRAIN, "--epochs", "30", "--run-dir", str(run)], tmp_path, "busy")
    try:
        _wait_for(lambda: bool(_epochs(run)), proc, "the first epoch")
        assert run_summary(run)["state"] == "running"  # the lock is held: not interrupted
        for argv in (["train", "--resume", "--run-dir", run], [*TRAIN, "--run-dir", run]):
            t0 = time.time()
            code, out = _cli(argv, capsys)
            assert code == 2 and time.time() - t0 < 5
            assert out["error"].startswith(f"run {run} is being trained by process {proc.pid} (since ")
            assert out["error"].count("wait for it or cancel it") == 1
        assert (run / "log.txt").read_text().count("run folder:") == 1  # the refused ones wrote nothing
        assert read_json(run / "config.json")["epochs"] == 30
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    assert run_summary(run)["state"] == "cancelled"
    assert not lock_is_held(run)


def test_lock_tells_a_live_trainer_from_a_dead_one(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    write_json(run / "config.json", {"dataset": "digits", "epochs": 3})
    write_json(run / "status.json", {"state": "running", "epoch": 1, "pid": 999999999, "command": "x"})
    assert not lock_is_held(run)
    assert run_summary(run)["state"] == "interrupted"
    assert run_summary(run)["message"] == "interrupted — rerun it: x"  # no checkpoint: nothing to resume
    with run_lock(run, command="python -m core train"):
        assert lock_is_held(run)
        assert run_summary(run)["state"] == "running"
        info = json.loads((run / ".lock").read_text())
        assert info["pid"] == os.getpid() and info["command"] == "python -m core train"
        with pytest.raises(Exception, match=f"being trained by process {os.getpid()}"):
            with run_lock(run):
                pass
    assert not lock_is_held(run) and (run / ".lock").exists()  # kept: the run exists
    write_json(run / "status.json", {"state": "queued", "pid": os.getpid()})
    assert run_summary(run)["state"] == "queued"  # queued by a live process
    write_json(run / "status.json", {"state": "queued", "pid": 999999999})
    assert run_summary(run)["state"] == "interrupted"
    write_json(run / "status.json", {"state": "done"})
    assert run_summary(run)["state"] == "done"


def test_lock_file_of_a_folder_that_never_became_a_run_is_removed(tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    with run_lock(new):
        assert (new / ".lock").exists()
    assert not (new / ".lock").exists()


def test_unreadable_run_is_listed_and_the_others_still_are(tmp_path, capsys):
    root = tmp_path / "runs"
    for name in ("a", "b"):
        write_json(root / name / "config.json", {"dataset": "digits", "loss_mode": "baseline", "seed": 0})
        write_json(root / name / "status.json", {"state": "done"})
        write_json(root / name / "metrics.json", {"linear_acc": 0.5, "knn_acc": 0.4})
    (root / "b" / "status.json").write_text('{"state": "run')
    rows = {r["run_id"]: r for r in list_runs(root)}
    assert rows["a"]["state"] == "done" and rows["a"]["unreadable"] is None
    assert rows["b"]["state"] == "unreadable" and rows["b"]["linear_acc"] == 0.5
    assert rows["b"]["message"].startswith("unreadable: status.json: Unterminated string")
    code, out = _cli(["runs", "--runs-root", root], capsys)
    assert code == 0 and {r["run_id"]: r["state"] for r in out["runs"]} == {"a": "done", "b": "unreadable"}
    code, out = _cli(["runs", "--show", root / "b"], capsys)
    assert code == 0 and out["state"] == "unreadable" and out["metrics"] == {"linear_acc": 0.5, "knn_acc": 0.4}
    csv = tmp_path / "runs.csv"
    code, out = _cli(["report", "--runs-root", root, "--out", tmp_path / "r.html", "--runs-csv", csv], capsys)
    assert code == 0 and out["runs"] == 2
    html = (tmp_path / "r.html").read_text()
    assert "Unreadable runs (1)" in html and "b: unreadable: status.json: Unterminated string" in html
    import pandas as pd

    table = pd.read_csv(csv).set_index("run_id")
    assert table.at["b", "state"] == "unreadable" and table.at["b", "note"].startswith("unreadable: status.json")
    assert pd.isna(table.at["a", "note"])


def test_failed_import_never_leaves_running_behind(tiny_run, tmp_path, capsys):
    ckpt = torch.load(tiny_run / "checkpoints" / "last.pt", weights_only=True)
    for v in ckpt["model"].values():
        if v.is_floating_point():
            v.fill_(float("nan"))
    torch.save(ckpt, tmp_path / "nan.pt")
    run = tmp_path / "runs" / "imported"
    code, out = _cli(["import", "--checkpoint", tmp_path / "nan.pt", "--run-dir", run], capsys)
    assert code == 2 and "NaN" in out["error"]
    if (run / "config.json").exists():  # refused after the folder was made: it says failed, not running
        row = run_summary(run)
        assert row["state"] == "failed" and "NaN" in row["message"]
    assert not lock_is_held(run)
