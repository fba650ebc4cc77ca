"""Fault tests of containment and the job queue: run names, folder cleanup after a failure, a killed
job wrapper under a real training, planted job records, and the app's Import "Run name" field."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import HardpairsError
from core.io import read_json
from core.jobs import queue as jobs
from core.jobs import records
from core.rundir.names import check_name, check_run_name, child_path, is_inside
from core.runs import pipeline
from core.training.config import make_config
from ui.views import runforms

APP = str(Path(__file__).resolve().parents[2] / "app.py")

pytestmark = pytest.mark.timeout(300)

GOOD = ["a", "run-1", "digits_s0.v2", "..a", "a..", ".hidden", "x" * 200]
BAD = ["", ".", "..", "../x", "a/b", "/abs", "a\\b", "a\x00b", "a\nb", "a\n", "my run", "~", "é", "x" * 201]


@pytest.mark.parametrize("name", GOOD)
def test_check_run_name_accepts_one_safe_component(name):
    assert check_run_name(name) == name


@pytest.mark.parametrize("name", BAD)
def test_check_run_name_refuses_anything_else(name):
    with pytest.raises(HardpairsError) as err:
        check_run_name(name)
    assert str(err.value).startswith(f"run name {name!r} is not allowed: use one path component")
    with pytest.raises(HardpairsError, match="^job id"):
        check_name(name, "job id")


def test_child_path_refuses_a_symlink_out_of_the_folder(tmp_path):
    base, outside = tmp_path / "runs", tmp_path / "thesis"
    base.mkdir()
    outside.mkdir()
    os.symlink(outside, base / "link")
    assert child_path(base, "run") == base / "run"
    with pytest.raises(HardpairsError, match="outside"):
        child_path(base, "link")
    assert is_inside(base / "a" / "b", base) and not is_inside(base / ".." / "thesis", base)


def test_new_run_dir_reports_and_discards_only_what_it_created(tmp_path):
    cfg = make_config("digits", None)
    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.txt").write_text("four years")
    with pytest.raises(HardpairsError, match="exists and is not a run folder"):
        pipeline.new_run_dir(cfg, str(user))
    assert not pipeline.created_here(user)
    assert not pipeline.discard_new_run_dir(user)  # never removes a folder it did not make
    assert (user / "thesis.txt").read_text() == "four years"

    nested = tmp_path / "new" / "a" / "run"
    made = pipeline.new_run_dir(cfg, str(nested))
    assert made == nested and nested.is_dir() and pipeline.created_here(nested)
    (nested / "log.txt").write_text("x")
    assert pipeline.discard_new_run_dir(nested)
    assert not (tmp_path / "new").exists()  # the empty parents it made went with it
    assert not pipeline.discard_new_run_dir(nested)  # only once

    keep = tmp_path / "shared" / "run"
    pipeline.new_run_dir(cfg, str(keep))
    (tmp_path / "shared" / "other.txt").write_text("someone else's")  # appeared meanwhile
    assert pipeline.discard_new_run_dir(keep)
    assert not keep.exists() and (tmp_path / "shared" / "other.txt").exists()


def test_failed_train_removes_only_its_own_new_folder(tmp_path, monkeypatch, capsys):
    from core.cli import main

    root = tmp_path / "runs"
    (root / "old").mkdir(parents=True)
    (root / "old" / "config.json").write_text("{}")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("HARDPAIRS_RUNS", str(root))
    assert main(["train", "--dataset", f"folder:{empty}", "--name", "fresh"]) == 2
    assert sorted(p.name for p in root.iterdir()) == ["old"]
    assert main(["train", "--dataset", f"folder:{empty}", "--name", "."]) == 2
    assert "run name '.' is not allowed" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert (root / "old" / "config.json").exists()


@pytest.mark.slow
def test_kill_of_the_wrapper_of_a_real_training_job(tmp_path):
    """`kill -9` of the wrapper pid in launch.json while `python -m core train` runs: the run and the job
    both end "done" and the next queued job starts without a poll."""
    root = tmp_path / "runs"
    first, second = root / "first", root / "second"
    a = jobs.submit(["train", "--dataset", "digits", "--epochs", "2", "--run-dir", str(first)], "train", root=root)
    b = jobs.submit(["train", "--dataset", "digits", "--epochs", "1", "--run-dir", str(second)], "train", root=root)
    deadline = time.monotonic() + 60
    while not (Path(a.job_dir) / "child.json").exists():
        assert time.monotonic() < deadline, "the first job never started its command"
        time.sleep(0.1)
    wrapper = read_json(Path(a.job_dir) / "launch.json")["pid"]
    os.kill(wrapper, signal.SIGKILL)
    deadline = time.monotonic() + 240
    while records.get_job(b.job_id, root).state != "done":
        assert time.monotonic() < deadline, records.log_tail(records.get_job(b.job_id, root))
        time.sleep(0.2)
    ja, jb = records.get_job(a.job_id, root), records.get_job(b.job_id, root)
    assert (ja.state, ja.exit_code, ja.message) == ("done", 0, "")
    assert read_json(first / "status.json")["state"] == "done"
    assert read_json(second / "status.json")["state"] == "done"
    assert jb.started >= ja.ended


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("name", ["../../../tmp/X", "..", "a/b", "/tmp/abs"])
def test_app_import_run_name_is_checked_and_nothing_is_queued(name, runs_root, tmp_path, no_launch):
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"x")
    at = _app()
    at.text_input(key="import_path").input(str(ckpt))
    at.text_input(key="import_name").input(name)
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert any(f"run name {name!r} is not allowed" in e.value for e in at.error), [e.value for e in at.error]
    assert records.list_jobs(runs_root) == [] and no_launch == []
    assert not (runs_root / ".jobs").exists()


def test_import_run_name_of_an_odd_checkpoint_name_is_safe():
    assert runforms.import_run_name("/m/my model (v2).pt").startswith("import-my-model-v2-")
    with pytest.raises(HardpairsError, match="run name"):
        runforms.import_run_name("/m/a.pt", "../x")


def test_app_pages_never_start_a_planted_job(runs_root, tmp_path, no_launch):
    marker = tmp_path / "planted-ran"
    planted = runs_root / ".jobs" / "20990101-000000-train-planted"
    planted.mkdir(parents=True)
    argv = ["python", "-c", f"open({str(marker)!r}, 'w').write('ran')"]
    (planted / "job.json").write_text(
        json.dumps({"job_id": planted.name, "kind": "train", "argv": argv, "created": time.time(), "heavy": True})
    )
    at = _app()
    at.switch_page("pages/runs.py").run()
    assert not at.exception and no_launch == []  # listing jobs starts nothing
    at.button(key="train_button").click().run()  # a real submit kicks the queue ...
    assert not at.exception
    (job,) = records.list_jobs(runs_root)
    # ... which starts the submitted job only: the planted one (older, heavy) would have come first
    assert no_launch == [Path(job.job_dir)]
    assert not marker.exists() and not (planted / "launch.json").exists()
