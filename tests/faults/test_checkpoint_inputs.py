"""Checkpoint inputs (issue 24, point 10): complex and integer weights, pickle protocols 3-5, special files.

``docs/reliability.md`` ("Hardening, round two") lists these cases. Every refusal goes through
``python -m core import`` (in-process, or a subprocess with a timeout where a hang is the failure) and
checks the exit status, the message and that no run folder was written.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from core.cli import main
from core.errors import HardpairsError
from core.models.checkpoints import load_backbone_state
from core.models.models import build_backbone
from core.models.standins import pickled_objects
from tests.helpers import run_cli_process

REPO = Path(__file__).resolve().parents[2]
MARKER = "/tmp/hardpairs_issue24_pwned_marker"


def _cli(argv: list, capsys) -> tuple[int, dict]:
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    lines = [line for line in cap.out.splitlines() if line.strip()]
    assert "Traceback" not in cap.err
    return code, json.loads(lines[-1]) if lines else {}


def _import(checkpoint: Path, tmp_path: Path, capsys) -> tuple[int, dict]:
    """``import --checkpoint`` into ``tmp_path/runs`` (digits; refused before any data is read)."""
    argv = ["import", "--checkpoint", checkpoint, "--dataset", "digits", "--runs-root", tmp_path / "runs"]
    return _cli([*argv, "--name", "imp"], capsys)


def _state() -> dict[str, torch.Tensor]:
    """A small_cnn backbone state dict: float weights plus BatchNorm's int64 ``num_batches_tracked``."""
    torch.manual_seed(0)
    return build_backbone("small_cnn", 1).state_dict()


# 1. complex and integer weights ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "words"),
    [
        (torch.complex64, ("complex64", "imaginary part")),
        (torch.int64, ("int64", "cast it to float")),
        (torch.int8, ("int8", "cast it to float")),
    ],
)
def test_complex_and_integer_weights_are_refused(tmp_path, capsys, dtype, words):
    """Before: complex64 loaded with its imaginary part dropped, integers were cast to float silently."""
    state = _state()
    key = "features.3.weight"
    state[key] = (state[key] * 10).to(dtype)
    torch.save(state, tmp_path / "ck.pt")
    code, out = _import(tmp_path / "ck.pt", tmp_path, capsys)
    assert code == 2, out
    assert key in out["error"] and all(w in out["error"] for w in words), out
    assert "model.float().state_dict()" in out["error"]  # the fix
    assert not (tmp_path / "runs").exists() or os.listdir(tmp_path / "runs") == []


def test_batchnorm_counters_stay_int64(tmp_path):
    """The integer buffers a backbone legitimately has are loaded unchanged (not refused, not cast)."""
    state = _state()
    counters = [k for k in state if k.endswith("num_batches_tracked")]
    assert counters and all(state[k].dtype == torch.int64 for k in counters)
    torch.save(state, tmp_path / "ck.pt")
    _, _, loaded, _ = load_backbone_state(tmp_path / "ck.pt")
    assert all(loaded[k].dtype == torch.int64 and torch.equal(loaded[k], state[k]) for k in counters)
    with pytest.raises(HardpairsError, match=r"num_batches_tracked is complex64"):
        state[counters[0]] = torch.zeros((), dtype=torch.complex64)
        torch.save(state, tmp_path / "bad.pt")
        load_backbone_state(tmp_path / "bad.pt")


# 2. pickle protocols 3 to 5 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_clean_state_dict_of_any_pickle_protocol_loads(tmp_path, protocol):
    """Before: protocols 4 and 5 were refused as "contains pickled Python objects" (FRAME, opcode 149)."""
    state = _state()
    torch.save(state, tmp_path / "ck.pt", pickle_protocol=protocol)
    arch, in_ch, loaded, cfg = load_backbone_state(tmp_path / "ck.pt")
    assert (arch, in_ch, cfg) == ("small_cnn", 1, None)
    assert list(loaded) == list(state) and all(torch.equal(loaded[k], state[k]) for k in state)
    assert all(loaded[k].dtype == state[k].dtype for k in state)
    assert pickled_objects(tmp_path / "ck.pt") == []


class _Opens:
    def __reduce__(self):
        return (open, (MARKER, "w"))


class _System:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def test_protocol_4_stays_weights_only(tmp_path):
    """A protocol-4 pickle naming ``open`` (STACK_GLOBAL) is read with an inert stand-in and one naming
    ``os.system`` is refused, as with protocol 2: nothing from the file runs."""
    if os.path.exists(MARKER):
        os.remove(MARKER)
    state = _state()
    torch.save({"state_dict": state, "extra": _Opens()}, tmp_path / "mixed.pt", pickle_protocol=4)
    torch.save({"model": _Opens()}, tmp_path / "opens.pt", pickle_protocol=4)
    torch.save({"state_dict": state, "extra": _System()}, tmp_path / "system.pt", pickle_protocol=4)
    assert not os.path.exists(MARKER)
    _, _, loaded, _ = load_backbone_state(tmp_path / "mixed.pt")
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert pickled_objects(tmp_path / "mixed.pt") == ["io.open"]
    with pytest.raises(HardpairsError, match=r"pickles Python objects instead \(io\.open\)"):
        load_backbone_state(tmp_path / "opens.pt")
    with pytest.raises(HardpairsError, match=r"not a safe weights-only checkpoint.*(posix|nt)\.system"):
        load_backbone_state(tmp_path / "system.pt")
    assert not os.path.exists(MARKER)


def test_stack_global_without_two_pushed_strings_is_refused():
    """Only a STACK_GLOBAL of two literal strings is rewritten; anything computed is refused."""
    from core.models.standins import protocol2_pickle

    with pytest.raises(pickle.UnpicklingError, match="STACK_GLOBAL"):
        protocol2_pickle(b"\x80\x04K\x01K\x02\x93.")  # two ints, then STACK_GLOBAL
    data = pickle.dumps({"a": [1, "b", "b"]}, protocol=4)
    assert pickle.loads(protocol2_pickle(data)) == {"a": [1, "b", "b"]}


# 3. special files as the checkpoint ----------------------------------------------------------------------------


def _special(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.pt"
    if kind == "dev-zero":
        return Path("/dev/zero")
    if kind == "folder":
        path.mkdir()
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    return path


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("dev-zero", "is a character device, not a regular file"),
        ("socket", "is a socket, not a regular file"),
        ("folder", "is a folder"),
        ("missing", "does not exist"),
    ],
)
def test_special_files_are_named_as_such(tmp_path, capsys, kind, words):
    """Before: /dev/zero and a socket were reported as files that "do not exist"."""
    code, out = _import(_special(kind, tmp_path), tmp_path, capsys)
    assert code == 2 and words in out["error"], out
    assert not (tmp_path / "runs" / "imp").exists()


def test_a_fifo_checkpoint_is_refused_without_blocking(tmp_path):
    """A subprocess with a timeout: opening the FIFO would block until a writer comes."""
    fifo = tmp_path / "ck.pt"
    os.mkfifo(fifo)
    argv = ["import", "--checkpoint", str(fifo), "--dataset", "digits", "--runs-root", str(tmp_path / "runs")]
    code, result, stderr = run_cli_process(argv)
    assert code == 2 and "is a FIFO, not a regular file" in result["error"], stderr[-500:]
    assert not (tmp_path / "runs").exists() or os.listdir(tmp_path / "runs") == []


def test_a_protocol_4_checkpoint_imports_end_to_end(tmp_path, capsys):
    """``import`` of a protocol-4 state dict writes a probed run whose own checkpoint holds the same weights."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16 * 255).astype(np.uint8)
    np.savez(tmp_path / "tiny.npz", x_train=x[:48], y_train=d.target[:48], x_test=x[48:72], y_test=d.target[48:72])
    state = _state()
    torch.save(state, tmp_path / "ck.pt", pickle_protocol=4)
    argv = ["import", "--checkpoint", tmp_path / "ck.pt", "--dataset", f"npz:{tmp_path / 'tiny.npz'}"]
    code, out = _cli([*argv, "--out-size", 8, "--runs-root", tmp_path / "runs", "--name", "p4"], capsys)
    assert code == 0 and out["arch"] == "small_cnn" and 0.0 <= out["linear_acc"] <= 1.0, out
    saved = torch.load(tmp_path / "runs" / "p4" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(saved[f"backbone.{k}"], v) for k, v in state.items())
