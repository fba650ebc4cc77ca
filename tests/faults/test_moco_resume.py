"""Fault test of MoCo: kill -9 during ``train --method moco``, then ``train --resume`` ends with the weights, key
encoder and queue of an uninterrupted run (they and the shuffle generator are in the checkpoint).

Starts a real ``python -m core train`` process on digits (CPU, a few seconds), as ``test_states.py`` does for SimCLR.
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
from core.io import read_jsonl
from core.models.checkpoints import load_checkpoint_file

REPO = Path(__file__).resolve().parents[2]
TRAIN = ["train", "--dataset", "digits", "--method", "moco", "--epochs", "6", "--checkpoint-every", "1", "--no-probe"]


def _epochs(run: Path) -> list[int]:
    return [r["epoch"] for r in read_jsonl(run / "progress.jsonl")]


def _cli(argv: list[str], capsys) -> tuple[int, dict]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, json.loads(out.out.strip().splitlines()[-1])


def _kill_after_first_checkpoint(run: Path, tmp_path: Path) -> None:
    err = open(tmp_path / "killed.stderr", "wb")  # noqa: SIM115 - the child owns it
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", *TRAIN, "--run-dir", str(run)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=err,
        env=env,
    )
    deadline = time.time() + 240
    while not (2 in _epochs(run) and (run / "checkpoints" / "last.pt").exists()):
        assert proc.poll() is None, f"the trainer exited ({proc.returncode}) before its second epoch"
        assert time.time() < deadline, "timed out waiting for epoch 2 in progress.jsonl"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_moco_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path, capsys):
    killed, clean = tmp_path / "runs" / "killed", tmp_path / "runs" / "clean"
    _kill_after_first_checkpoint(killed, tmp_path)
    ckpt = load_checkpoint_file(killed / "checkpoints" / "last.pt")  # weights_only=True
    assert 1 <= ckpt["epoch"] < 6 and set(ckpt["moco"]) >= {"key_model", "queue_z", "queue_h", "ptr", "generator"}

    code, out = _cli(["train", "--resume", "--run-dir", killed, "--no-probe"], capsys)
    assert code == 0 and out["epochs"] == 6 and _epochs(killed) == [1, 2, 3, 4, 5, 6]
    assert _cli([*TRAIN, "--run-dir", clean], capsys)[0] == 0
    k = load_checkpoint_file(killed / "checkpoints" / "last.pt")
    c = load_checkpoint_file(clean / "checkpoints" / "last.pt")
    for a, b in ((k["model"], c["model"]), (k["moco"]["key_model"], c["moco"]["key_model"])):
        assert a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)
    assert torch.equal(k["moco"]["queue_z"], c["moco"]["queue_z"]) and torch.equal(
        k["moco"]["queue_h"], c["moco"]["queue_h"]
    )
    assert k["moco"]["ptr"] == c["moco"]["ptr"] and k["moco"]["queue_size"] == 1024  # digits: 4 of 5 batches of 256
    log = (killed / "log.txt").read_text()  # the start and the resume each say which values are MoCo v2's
    assert log.count("MoCo v2 defaults: lr 0.03 (0.03 x 256/256), tau 0.2, queue 65536 -> 1024") == 2
