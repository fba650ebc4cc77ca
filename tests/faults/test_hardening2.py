"""Hardening, round two (issue 24): output paths, locks, text from data, containment, one seed per run,
validation of what is read, bounded reads, a full disk and the smaller items. ``docs/reliability.md``
("Hardening, round two") lists these cases. Every CLI case checks the exit status, the message and
that nothing was written; the special-file cases also check that the special file is unchanged.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.errors import HardpairsError
from core.jobs import records
from tests.helpers import fake_run, run_cli_process

REPO = Path(__file__).resolve().parents[2]


def _cli(argv: list, capsys) -> tuple[int, dict, str]:
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    lines = [line for line in cap.out.splitlines() if line.strip()]
    assert "Traceback" not in cap.err
    return code, json.loads(lines[-1]) if lines else {}, cap.err


@pytest.fixture
def root(tmp_path, monkeypatch, capsys) -> Path:
    """A runs root (HARDPAIRS_RUNS) holding one fake run ``r1`` with metrics; cwd is ``tmp_path/work``."""
    runs = tmp_path / "runs"
    fake_run(runs, "r1", linear=0.9, knn=0.8)
    (tmp_path / "work").mkdir()
    monkeypatch.setenv("HARDPAIRS_RUNS", str(runs))
    monkeypatch.chdir(tmp_path / "work")
    capsys.readouterr()
    return runs


def _mode(path: Path) -> int:
    return os.lstat(path).st_mode


# 1. one output-path rule -------------------------------------------------------------------------------


def _special(kind: str, where: Path) -> Path:
    path = where / kind
    if kind == "fifo":
        os.mkfifo(path)
    else:
        if os.geteuid() != 0:
            pytest.skip("mknod of a character device needs root")
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null
    return path


OUTPUT_COMMANDS = {
    "report-out": lambda p: ["report", "--out", p],
    "report-out-force": lambda p: ["report", "--out", p, "--force"],
    "report-csv": lambda p: ["report", "--out", "r.html", "--csv", p, "--force"],
    "report-runs-csv": lambda p: ["report", "--out", "r.html", "--runs-csv", p],
    "report-pdf": lambda p: ["report", "--out", "r.html", "--pdf", p, "--force"],
    "export-out-force": lambda p: ["export", "--run-dir", "RUN", "--what", "selected", "--ids", "1", "--out", p,
                                   "--force"],
}  # fmt: skip


@pytest.mark.parametrize("kind", ["chardev", "fifo"])
@pytest.mark.parametrize("command", sorted(OUTPUT_COMMANDS))
def test_a_device_or_fifo_given_as_output_is_never_replaced(root, tmp_path, capsys, kind, command):
    target = _special(kind, tmp_path / "work")
    before = _mode(target)
    argv = [str(root / "r1") if a == "RUN" else a for a in OUTPUT_COMMANDS[command](target)]
    code, out, _ = _cli(argv, capsys)
    assert code == 2 and "not a regular file" in out["error"], out
    assert _mode(target) == before and not stat.S_ISREG(_mode(target))
    assert not (tmp_path / "work" / "r.html").exists()  # refused before anything was written


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--out", "/proc/hp.html"],
        ["report", "--out", "/proc/self/status"],
        ["report", "--out", "r.html", "--pdf", "/proc/version"],
        ["report", "--out", "/sys/hp.html"],
        ["report", "--out", "/dev/null", "--force"],
        ["export", "--run-dir", "RUN", "--what", "selected", "--ids", "1", "--out", "/proc/self/comm", "--force"],
    ],
)
def test_system_folders_are_refused_as_outputs(root, capsys, argv):
    code, out, _ = _cli([str(root / "r1") if a == "RUN" else a for a in argv], capsys)
    assert code == 2 and "a system folder" in out["error"], out
    assert not Path("r.html").exists()


@pytest.mark.slow
def test_dev_null_is_unchanged_in_a_private_mount_namespace(root, tmp_path):
    """As root, /dev/null itself would be at risk: the command runs where /dev/null is a private bind mount."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a private mount namespace")
    fake = tmp_path / "null"
    os.mknod(fake, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    script = (
        f"mount --bind {fake} /dev/null || exit 99; "
        f"{sys.executable} -m core report --out /dev/null --force; echo rc=$?; "
        f"{sys.executable} -m core export --run-dir {root / 'r1'} --what selected --ids 1 --out /dev/null --force; "
        "echo rc=$?; stat -c %F /dev/null"
    )
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode == 99 or "unshare failed" in proc.stderr:
        pytest.skip(f"no private mount namespace here: {proc.stderr[-200:]}")
    assert proc.stdout.count("rc=2") == 2, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("character special file"), proc.stdout
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and stat.S_ISCHR(os.stat(fake).st_mode)


def test_existing_files_need_force_and_two_outputs_never_share_a_path(root, tmp_path, capsys):
    thesis = tmp_path / "work" / "thesis.txt"
    thesis.write_text("four years of work\n")
    for argv in (["report", "--out", thesis], ["report", "--out", "r.html", "--runs-csv", thesis]):
        code, out, _ = _cli(argv, capsys)
        assert code == 2 and "already exists; pass --force" in out["error"], out
    assert thesis.read_text() == "four years of work\n"
    for argv in (["report", "--out", "r.html", "--csv", "r.html"], ["report", "--out", "r.pdf", "--pdf"]):
        code, out, _ = _cli(argv, capsys)
        assert code == 2 and "are the same file" in out["error"], out
    assert sorted(os.listdir(tmp_path / "work")) == ["thesis.txt"]
    code, out, _ = _cli(["report", "--out", thesis, "--force"], capsys)
    assert code == 0 and "<html" in thesis.read_text().lower()[:200]


def test_outputs_inside_a_run_folder_and_through_links_are_refused(root, tmp_path, capsys):
    scores = root / "r1" / "scores.csv"
    scores.write_text("index,x\n0,1\n")
    argv = ["export", "--run-dir", root / "r1", "--what", "selected", "--ids", "1", "--out", scores, "--force"]
    code, out, _ = _cli(argv, capsys)
    assert code == 2 and "inside the run folder" in out["error"], out
    assert scores.read_text() == "index,x\n0,1\n"
    link = tmp_path / "work" / "link.html"
    link.symlink_to(tmp_path / "elsewhere.html")
    code, out, _ = _cli(["report", "--out", link, "--force"], capsys)
    assert code == 2 and "symbolic link" in out["error"] and not (tmp_path / "elsewhere.html").exists()


# 8. a full disk ------------------------------------------------------------------------------------------


def test_a_full_disk_is_a_clear_error_and_leaves_no_temp_file(tmp_path, monkeypatch):
    from core import io

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", full)
    with pytest.raises(HardpairsError, match=r"cannot write .*a\.json: the disk is full \(.* MB free in"):
        io.write_json(tmp_path / "a.json", {"x": 1})
    with pytest.raises(HardpairsError, match="the disk is full"):
        io.write_csv(tmp_path / "a.csv", pd.DataFrame({"x": [1]}))
    assert os.listdir(tmp_path) == []


def test_report_on_a_64k_tmpfs_ends_with_exit_2_and_leaves_no_file(root, tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount a private tmpfs")
    small = tmp_path / "small"
    small.mkdir()
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {small} || exit 99; "
        f"{sys.executable} -m core report --out {small}/r.html --runs-root {root}; echo rc=$?; ls -A {small}; echo end"
    )
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode == 99:
        pytest.skip(f"mount not permitted here: {proc.stderr[-200:]}")
    lines = proc.stdout.strip().splitlines()
    assert lines[-2:] == ["rc=2", "end"], proc.stdout + proc.stderr[-2000:]  # ls printed nothing: no file
    assert "the disk is full" in json.loads(lines[-3])["error"] and "Traceback" not in proc.stderr


# 2. read-modify-writes under a lock -------------------------------------------------------------------------


def test_concurrent_status_updates_keep_every_field(tmp_path):
    from core.rundir.folder import update_status

    run = fake_run(tmp_path, "r1")
    threads = [threading.Thread(target=lambda k=k: update_status(run, **{f"k{k}": k})) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = json.loads((run / "status.json").read_text())
    assert {f"k{k}": k for k in range(16)}.items() <= status.items()


def test_probe_respects_the_trainers_lock(root, capsys):
    from core.rundir.lock import run_lock

    run = root / "r1"
    before = (run / "metrics.json").read_bytes()
    with run_lock(run, "train"):
        code, out, _ = _cli(["probe", "--run-dir", run], capsys)
    assert code == 2 and "is being trained by process" in out["error"], out
    assert (run / "metrics.json").read_bytes() == before


# 3. text from data is text -----------------------------------------------------------------------------


def test_plain_escapes_markdown_and_truncates():
    from ui.feedback import plain

    shown = plain("![b](http://127.0.0.1:8777/x.png)")
    assert "](" not in shown and "![" not in shown and shown.replace("\\", "") == "![b](http://127.0.0.1:8777/x.png)"
    long = plain("c" * 300, limit=60)
    assert len(long) == 60 and long.endswith("…")
    assert plain("a\n# b") == "a \\# b"


def test_csv_outputs_neutralise_formulas(tmp_path):
    from core.io import write_csv

    classes = ['=HYPERLINK("http://x")', "+1+1", "@SUM(A1)", "-x", "cat"]
    write_csv(tmp_path / "a.csv", pd.DataFrame({"class": classes, "v": [-1, 2, 3, 4, 5]}))
    df = pd.read_csv(tmp_path / "a.csv")
    assert df["class"].tolist() == ["'" + c for c in classes[:4]] + ["cat"]
    assert df["v"].tolist() == [-1, 2, 3, 4, 5]
    write_csv(tmp_path / "b.csv", pd.DataFrame({"s": ["-0.5", "1e3"]}))
    assert pd.read_csv(tmp_path / "b.csv", dtype=str)["s"].tolist() == ["-0.5", "1e3"]  # numbers stay numbers


def test_long_class_names_do_not_squash_the_heatmap():
    from core.figures.pairs import pair_heatmap

    names = ["x" * 300, "short"]
    fig = pair_heatmap(np.array([[0, 3], [3, 0]]), names, title="pairs", value_name="pairs")
    ticks = list(fig.layout.xaxis.ticktext)
    assert ticks[1] == "short" and len(ticks[0]) == 24 and ticks[0].endswith("…")
    assert any(names[0] in str(t) for trace in fig.data for t in (trace.text or []))  # the full name on hover


# 4. containment ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["tag", "--run-dir", "OUT", "--add", "x", "--ids", "1"],
        ["prune", "--run-dir", "OUT", "--tag", "x"],
        ["export", "--run-dir", "OUT", "--what", "selected", "--ids", "1", "--out", "ids.csv"],
    ],
)
def test_run_commands_only_touch_runs_inside_the_runs_root(root, tmp_path, capsys, argv):
    outside = fake_run(tmp_path / "mine", "notarun", linear=0.5)
    before = sorted(p.name for p in outside.rglob("*"))
    code, out, _ = _cli([str(outside) if a == "OUT" else a for a in argv], capsys)
    assert code == 2 and "is not inside the runs root" in out["error"], out
    assert sorted(p.name for p in outside.rglob("*")) == before and not Path("ids.csv").exists()


def test_any_failure_before_the_config_leaves_no_stub_folder(root, monkeypatch, capsys):
    from core.runs import pipeline

    def boom(*args, **kwargs):
        raise RuntimeError("not a HardpairsError")

    monkeypatch.setattr(pipeline, "load_run_data", boom)
    with pytest.raises(RuntimeError):
        main(["train", "--dataset", "digits", "--name", "stub", "--epochs", "1"])
    assert not (root / "stub").exists()
    monkeypatch.undo()
    monkeypatch.setenv("HARDPAIRS_RUNS", str(root))
    capsys.readouterr()


def test_run_log_never_recreates_a_deleted_run_folder(tmp_path, capsys):
    from core.io import run_log

    gone = tmp_path / "gone"
    run_log(gone, "epoch 3")
    assert not gone.exists() and "epoch 3" in capsys.readouterr().err


# 5. a run is one seed --------------------------------------------------------------------------------------


def test_the_duplicate_job_check_compares_the_parsed_command(runs_root, no_launch):
    from core.jobs import queue

    run = fake_run(runs_root, "r1", linear=0.9)
    queue.submit(["prune", "--run-dir", str(run), "--tag", "odd", "--seed", "0", "--train"], "retrain")
    with pytest.raises(HardpairsError, match="the same retrain job for r1 is already queued"):
        queue.submit(["prune", "--train", "--seed=0", "--tag", "odd", "--run-dir", str(run)], "retrain")
    assert len(records.list_jobs(runs_root)) == 1


def test_imports_of_one_checkpoint_count_once(runs_root):
    from core.io import read_json, write_json
    from core.reports.compare import group_table
    from core.reports.records import load_records

    origin = fake_run(runs_root, "trained", linear=0.9, knn=0.8)
    for k in range(4):
        run = fake_run(runs_root, f"imp{k}", linear=0.9, knn=0.8)
        manifest = read_json(run / "manifest.json") | {"imported_from": f"/x/{k}.pt", "checkpoint_sha1": "ab" * 20}
        if k == 3:
            manifest["imported_from"] = str(origin.resolve() / "checkpoints" / "last.pt")
            manifest["checkpoint_sha1"] = "cd" * 20
        write_json(run / "manifest.json", manifest)
    groups = group_table(load_records(runs_root))
    assert groups["n"].tolist() == [2]  # trained + one of imp0..imp2 (imp3 is the trained run's own checkpoint)


# 6. validate what is read ------------------------------------------------------------------------------------


def _cases_before_any_folder(root: Path, tmp_path: Path) -> dict[str, tuple[list, str]]:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"dataset": 123, "epochs": 1}))
    config2 = tmp_path / "c2.json"
    config2.write_text(json.dumps({"dataset": "digits", "preset_from": ["x"], "epochs": 1}))
    run = str(root / "r1")
    return {
        "train-config-dataset-int": (["train", "--config", config, "--name", "n1"], "--dataset must be text"),
        "train-config-preset-from-list": (["train", "--config", config2, "--name", "n2"], "--preset-from"),
        "train-queue-size-huge": (["train", "--method", "moco", "--queue-size", "99999999999"], "--queue-size"),
        "train-quick-preset-from": (["train", "--preset", "quick", "--preset-from", "cifar10"], "--preset paper"),
        "probe-knn-t-tiny": (["probe", "--run-dir", run, "--knn-t", "1e-300"], "--knn-t"),
        "probe-knn-t-inf": (["probe", "--run-dir", run, "--knn-t", "inf"], "--knn-t"),
        "reproduce-seeds-negative": (["reproduce", "table1", "--seeds", "-3"], "--seeds must be >= 1"),
        "reproduce-seeds-zero": (["reproduce", "table1", "--seeds", "0"], "--seeds must be >= 1"),
        "jobs-lines-negative": (["jobs", "--log", "x", "--lines", "-5"], "--lines must be >= 0"),
        "prune-tag-seed-huge": (["prune", "--run-dir", run, "--tag", "all", "--seed", str(10**23)], "--seed must"),
        "prune-tag-every-sample": (["prune", "--run-dir", run, "--tag", "all"], "at least 2 must stay"),
    }  # fmt: skip


CASES_6 = [
    "train-config-dataset-int", "train-config-preset-from-list", "train-queue-size-huge", "train-quick-preset-from",
    "probe-knn-t-tiny", "probe-knn-t-inf", "reproduce-seeds-negative", "reproduce-seeds-zero",
    "jobs-lines-negative", "prune-tag-seed-huge", "prune-tag-every-sample",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES_6)
def test_flags_and_read_values_are_checked_before_any_folder(root, tmp_path, capsys, case):
    from core.audit import tags

    tags.add_tag(root / "r1", "all", range(1437))
    argv, word = _cases_before_any_folder(root, tmp_path)[case]
    before = sorted(str(p) for p in root.rglob("*"))
    code, out, _ = _cli(argv, capsys)
    assert code == 2 and word in out["error"], out
    assert sorted(str(p) for p in root.rglob("*")) == before  # no run folder, no prune folder, metrics untouched


@pytest.mark.slow
def test_a_checkpoint_config_with_a_number_for_a_name_is_refused(tiny_run, runs_root, tmp_path, capsys):
    import torch

    ckpt = torch.load(tiny_run / "checkpoints" / "last.pt", weights_only=True)
    for key, value in (("dataset", 123), ("preset_from", ["x"])):
        torch.save({**ckpt, "config": {**ckpt["config"], key: value}}, tmp_path / "bad.pt")
        code, out, _ = _cli(["import", "--checkpoint", tmp_path / "bad.pt", "--name", "imp"], capsys)
        assert code == 2 and f"its config has {key}" in out["error"], out
    assert os.listdir(runs_root) == []


# 7. bounded, non-blocking reads ------------------------------------------------------------------------------


def _ids_file_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    fifo = tmp_path / "ids.fifo"
    os.mkfifo(fifo)
    binary = tmp_path / "ids.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    return {
        "dev-zero": ("/dev/zero", "not a regular file"),
        "fifo": (str(fifo), "not a regular file"),
        "binary": (str(binary), "is a binary file"),
    }


@pytest.mark.parametrize("which", ["dev-zero", "fifo", "binary"])
@pytest.mark.parametrize("command", ["tag", "umap"])
def test_ids_files_are_read_bounded_without_blocking(root, tmp_path, which, command):
    """A subprocess with a timeout: a read that blocks (a FIFO) or never ends (/dev/zero) fails the test."""
    path, word = _ids_file_cases(tmp_path)[which]
    run = str(root / "r1")
    argv = (
        ["tag", "--run-dir", run, "--add", "x", "--ids-file", path]
        if command == "tag"
        else ["umap", "--run-dir", run, "--fit-include", path]
    )
    code, result, stderr = run_cli_process(argv)
    assert code == 2 and word in result["error"], stderr[-500:]
    assert not (root / "r1" / "tags.csv").exists()


def test_image_folders_skip_fifos_sockets_and_dangling_links(tmp_path):
    from PIL import Image

    from core.data.folder import _class_files, load_folder

    data = tmp_path / "imgs"
    for c in ("a", "b"):
        (data / c).mkdir(parents=True)
        for k in range(6):
            Image.fromarray(np.full((8, 8, 3), 40 * k, np.uint8)).save(data / c / f"{k}.png")
    os.mkfifo(data / "a" / "1x.png")
    (data / "b" / "gone.png").symlink_to(tmp_path / "missing.png")
    with pytest.warns(UserWarning, match="skipped 2 entries that are not regular files"):
        files = _class_files(data)
    assert [len(v) for v in files.values()] == [6, 6]
    with pytest.warns(UserWarning):
        x_train, _, x_test, _, classes = load_folder(data, None, tmp_path / "cache")
    assert len(x_train) + len(x_test) == 12 and classes == ["a", "b"]


# 9. smaller items --------------------------------------------------------------------------------------------


def test_cancelling_before_the_first_checkpoint_does_not_promise_one(tmp_path, monkeypatch):
    from core.runs.training import TrainOptions, fit_run
    from core.training import loop
    from core.training.config import make_config

    def stopped(*args, **kwargs):
        raise loop.TrainingStopped(0)

    monkeypatch.setattr(loop, "train", stopped)
    run = fake_run(tmp_path, "r1")
    assert fit_run(run, make_config("digits"), None, None, TrainOptions())["state"] == "cancelled"
    message = json.loads((run / "status.json").read_text())["message"]
    assert "no checkpoint was written yet" in message and "checkpoint is kept" not in message
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.pt").write_bytes(b"x")
    fit_run(run, make_config("digits"), None, None, TrainOptions())
    assert "the last checkpoint is kept" in json.loads((run / "status.json").read_text())["message"]
