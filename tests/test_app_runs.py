"""AppTest of the frame (app.py) and the Runs page against fake run folders (HARDPAIRS_RUNS)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.io import read_json, write_json
from core.jobs import queue as jobs
from core.jobs import records
from tests.helpers import fake_run

APP = str(Path(__file__).resolve().parents[1] / "app.py")
EMPTY = "No runs yet — click Train to train and analyse the quick digits model (about two minutes on 2 CPU cores)"


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def codes(at) -> list[str]:
    return [c.value for c in at.code]


def test_empty_state_says_what_to_do(runs_root):
    at = app()
    assert [i.value for i in at.info][0] == EMPTY
    assert any("No runs yet" in c.value for c in at.sidebar.caption)
    assert any(f"Runs folder: `{runs_root}`" == c.value for c in at.sidebar.caption)
    assert "python -m core train --dataset digits --preset quick --loss-mode baseline --seed 0 --analyse" in codes(at)
    assert at.button(key="train_button").label == "Train"
    assert at.selectbox(key="train_dataset").value == "digits"
    assert at.checkbox(key="train_analyse").value is True


def test_runs_table_and_selected_run_show_the_files(runs_root):
    a = fake_run(runs_root, "a-run", seed=0, linear=0.9012, knn=0.8123, created=1)
    b = fake_run(runs_root, "b-run", loss_mode="combined", seed=1, linear=0.9345, knn=None, created=2, n_kept=1150)
    at = app()
    table = at.dataframe[0].value
    assert table["run"].tolist() == ["b-run", "a-run"]  # newest first
    assert table["linear probe %"].tolist() == pytest.approx([93.45, 90.12])
    assert table["kNN %"].iloc[1] == pytest.approx(81.23)
    assert table["kept"].tolist() == [1150, 1437]
    selector = at.sidebar.selectbox[0]
    assert selector.options[0].startswith("digits · combined · s1 · done · 93.5% — b-run")
    assert selector.value == str(b)
    assert [m.value for m in at.metric][:3] == ["93.5%", "–", "1150"]
    assert f"python -m core runs --show {b}" in codes(at)
    selector.set_value(str(a)).run()
    assert [m.value for m in at.metric][:2] == ["90.1%", "81.2%"]
    assert f"python -m core runs --show {a}" in codes(at)


def test_run_choice_survives_page_switches(runs_root):
    a = fake_run(runs_root, "a-run", linear=0.8, knn=0.8, created=1)
    fake_run(runs_root, "b-run", linear=0.9, knn=0.8, created=2)
    at = app()
    at.sidebar.selectbox[0].set_value(str(a)).run()
    at.switch_page("pages/compare_runs.py").run()
    assert not at.exception
    assert at.sidebar.selectbox[0].value == str(a)  # the frame's selector kept its value
    at.switch_page("pages/runs.py").run()
    assert at.sidebar.selectbox[0].value == str(a)
    assert at.session_state["hp_run"] == str(a)
    assert any(m.value.startswith("**Selected run** `a-run`") for m in at.markdown)
    assert [m.value for m in at.metric][0] == "80.0%"


def test_train_click_queues_the_cli_command(runs_root, no_launch):
    at = app()
    at.selectbox(key="train_loss_mode").set_value("combined").run()
    sigma_key = "train_sigma_quick_digits"
    assert at.number_input(key=sigma_key).value == pytest.approx(0.1)  # quick preset default
    assert at.number_input(key="train_pos_low_quick_digits").value == pytest.approx(0.17)
    at.number_input(key=sigma_key).set_value(0.25)
    at.number_input(key="train_epochs_quick_digits").set_value(5)
    at.run()
    expected = (
        "python -m core train --dataset digits --preset quick --epochs 5 --loss-mode combined --sigma 0.25"
        " --seed 0 --analyse"
    )
    assert expected in codes(at)
    at.button(key="train_button").click().run()
    assert not at.exception
    (job,) = records.list_jobs(runs_root)
    assert job.kind == "train" and job.state == "queued"
    assert job.argv[:3] == (sys.executable, "-m", "core")
    run_dir = Path(job.run_dir)
    assert run_dir.parent == runs_root and run_dir.name.startswith("digits-combined-s0-")
    assert list(job.argv[3:]) == expected.split()[3:] + ["--run-dir", str(run_dir)]
    assert at.session_state["hp_run"] == str(run_dir)
    assert at.success[0].value.startswith(f"Training job `{job.job_id}` is queued")
    assert any("1 queued" in c.value for c in at.sidebar.caption)  # the page was redrawn with the job
    # the job table shows it, with a cancel button that works
    assert any("queued" in m.value and run_dir.name in m.value for m in at.markdown)
    at.button(key=f"runs_jobs_cancel_{job.job_id}").click().run()
    assert records.get_job(job.job_id, runs_root).state == "cancelled"
    assert not any(b.key == f"runs_jobs_cancel_{job.job_id}" for b in at.button)


def test_running_job_shows_progress_from_status_json(runs_root, no_launch):
    run = fake_run(runs_root, "training", state="running")
    write_json(
        run / "status.json",
        {"state": "running", "epoch": 12, "epochs": 40, "loss": 3.21, "images_per_s": 850.0, "eta_s": 75},
    )
    job = jobs.submit(["train", "--run-dir", str(run)], "train", run_dir=run)
    write_json(Path(job.job_dir) / "launch.json", {"pid": __import__("os").getpid(), "ticks": None})
    at = app()
    assert records.get_job(job.job_id, runs_root).state == "running"
    (bar,) = at.get("progress")
    assert bar.value == pytest.approx(12 / 40 * 100, abs=1)
    assert bar.proto.text == "epoch 12/40 · loss 3.2100 · 850 images/s · ETA 1:15"
    assert any("1 running, 0 queued" in c.value for c in at.sidebar.caption)


def test_failed_training_offers_resume(runs_root, no_launch):
    run = fake_run(runs_root, "crashed", state="failed")
    job = jobs.submit(["train", "--run-dir", str(run)], "train", run_dir=run)
    job_dir = Path(job.job_dir)
    write_json(job_dir / "launch.json", {"pid": 1, "ticks": -1})
    write_json(job_dir / "exit.json", {"exit_code": 2, "signal": None, "ended": 1.0})
    (job_dir / "log.txt").write_text('epoch 3/40 loss 4.0\n{"error": "CUDA out of memory; pass --batch-size 128"}\n')
    at = app()
    assert any("CUDA out of memory; pass --batch-size 128" in m.value for m in at.markdown)
    assert f"python -m core train --resume --run-dir {run}" in codes(at)
    at.button(key=f"runs_jobs_resume_{job.job_id}").click().run()
    resumed = [j for j in records.list_jobs(runs_root) if j.job_id != job.job_id]
    assert len(resumed) == 1
    assert list(resumed[0].argv[3:]) == ["train", "--resume", "--run-dir", str(run)]


def test_import_of_a_missing_checkpoint_explains(runs_root, no_launch, tmp_path):
    at = app()
    at.text_input(key="import_path").input(str(tmp_path / "nope.pt"))
    at.form_submit_button[0].click().run()
    assert any("is not a file" in e.value for e in at.error)
    assert records.list_jobs(runs_root) == []
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"x")
    at.text_input(key="import_path").input(str(ckpt))
    at.form_submit_button[0].click().run()
    (job,) = records.list_jobs(runs_root)
    assert job.kind == "import"
    assert list(job.argv[3:7]) == ["import", "--checkpoint", str(ckpt), "--dataset"]
    assert read_json(Path(job.job_dir) / "job.json")["run_dir"].startswith(str(runs_root / "import-model-"))


def test_cli_jobs_lists_the_same_records(runs_root, no_launch, capsys):
    from core.cli import main

    job = jobs.submit(["runs"], "pairs", root=runs_root)
    assert main(["jobs", "--runs-root", str(runs_root)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [(j["job_id"], j["state"]) for j in out["jobs"]] == [(job.job_id, "queued")]
    assert out["queued"] == 1


def test_finished_job_shows_its_result_line(runs_root, no_launch):
    run = fake_run(runs_root, "finished", linear=0.9, knn=0.8)
    job = jobs.submit(["train", "--run-dir", str(run)], "train", run_dir=run)
    job_dir = Path(job.job_dir)
    write_json(job_dir / "launch.json", {"pid": 1, "ticks": -1, "launched": 10.0})
    write_json(job_dir / "exit.json", {"exit_code": 0, "signal": None, "ended": 61.0})
    (job_dir / "log.txt").write_text(
        '{"linear_acc": 0.9666, "knn_acc": 0.912, "epochs": 2, "wall_time_s": 50.9}\n[job] exit status 0\n'
    )
    at = app()
    assert "linear probe 96.7% · kNN 91.2% · 2 epochs · 0:51 in total" in [c.value for c in at.caption]
    assert any(m.value.endswith("`finished` · 0:51") and "**done**" in m.value for m in at.markdown)


def test_a_run_whose_trainer_died_is_shown_interrupted_with_the_resume_command(runs_root):
    dead = fake_run(runs_root, "dead-run", state="running", created=2)  # status says running; no lock is held
    (dead / "checkpoints").mkdir()
    (dead / "checkpoints" / "last.pt").write_bytes(b"x")
    fake_run(runs_root, "ok-run", linear=0.9, knn=0.8, created=1)
    at = app()
    table = at.dataframe[0].value.set_index("run")
    resume = f"python -m core train --resume --run-dir {dead}"
    assert table.at["dead-run", "state"] == "interrupted" and table.at["ok-run", "state"] == "done"
    assert table.at["dead-run", "note"] == f"interrupted — resumable: {resume}"
    assert table.at["ok-run", "note"] == ""
    assert at.sidebar.selectbox[0].options[0].endswith("· interrupted · – — dead-run")
    assert any(c.value == f"interrupted — resumable: {resume}" for c in at.caption)
