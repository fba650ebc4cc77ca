"""Jobs and the runs they concern: duplicate refusal, a run's jobs (retrains and their children), titles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import HardpairsError
from core.io import write_json
from core.jobs import describe, records
from core.jobs import queue as jobs
from tests.helpers import fake_run


def _finish(job: records.Job, log: str, code: int = 0) -> records.Job:
    job_dir = Path(job.job_dir)
    write_json(job_dir / "launch.json", {"pid": 1, "ticks": -1, "launched": 10.0})
    write_json(job_dir / "exit.json", {"exit_code": code, "signal": None, "ended": 20.0})
    (job_dir / "log.txt").write_text(log)
    return records.get_job(job.job_id)


def test_flag_value_reads_both_spellings():
    assert describe.flag_value(["prune", "--run-dir", "/a", "--ratio=0.1"], "--run-dir") == "/a"
    assert describe.flag_value(["prune", "--run-dir", "/a", "--ratio=0.1"], "--ratio") == "0.1"
    assert describe.flag_value(["prune", "--run-dir"], "--run-dir") is None


def test_duplicate_job_for_a_run_is_refused_until_it_ends(runs_root, no_launch):
    run = fake_run(runs_root, "digits-a")
    first = jobs.submit(["umap", "--run-dir", str(run)], "umap")
    with pytest.raises(HardpairsError, match=rf"same umap job for digits-a is already queued \(job {first.job_id}\)"):
        jobs.submit(["umap", "--run-dir", str(run)], "umap")
    # other arguments, another kind or another run are not duplicates
    jobs.submit(["umap", "--run-dir", str(run), "--dim", "3"], "umap")
    jobs.submit(["umap", "--run-dir", str(run)], "analyse")
    other = fake_run(runs_root, "digits-b")
    jobs.submit(["umap", "--run-dir", str(other)], "umap")
    assert len(records.list_jobs()) == 4
    jobs.cancel(first.job_id)  # no longer active: the same job may be queued again
    again = jobs.submit(["umap", "--run-dir", str(run)], "umap")
    assert again.state == "queued" and len(records.list_jobs()) == 5


def test_duplicate_refused_by_run_dir_even_without_the_flag(runs_root, no_launch):
    run = fake_run(runs_root, "digits-a")
    jobs.submit(["train", "--resume"], "train", run_dir=run)
    with pytest.raises(HardpairsError, match="already queued"):
        jobs.submit(["train", "--resume"], "train", run_dir=run)


def test_jobs_without_a_run_are_never_refused(runs_root, no_launch):
    a = jobs.submit(["runs"], "pairs")
    b = jobs.submit(["runs"], "pairs")
    assert a.job_id != b.job_id


def _retrain_argv(parent: Path, score: str = "band", ratio: str = "0.1", seed: str = "0") -> list[str]:
    return ["prune", "--run-dir", str(parent), "--score", score, "--ratio", ratio, "--seed", seed, "--train"]


def test_jobs_for_run_holds_its_jobs_its_retrains_and_the_retrain_that_made_a_child(runs_root, no_launch):
    parent = fake_run(runs_root, "digits-p")
    other = fake_run(runs_root, "digits-o")
    umap_p = jobs.submit(["umap", "--run-dir", str(parent)], "umap")
    umap_o = jobs.submit(["umap", "--run-dir", str(other)], "umap")
    band = jobs.submit(_retrain_argv(parent), "retrain")
    rand = jobs.submit(_retrain_argv(parent, "random"), "retrain")
    child = fake_run(runs_root, "digits-p-band", parent=str(parent), score="band", ratio=0.1)
    write_json(child / "config.json", {"parent": str(parent), "prune_score": "band", "prune_ratio": 0.1, "seed": 0})
    listed = records.list_jobs()
    assert {j.job_id for j in describe.jobs_for_run(listed, parent)} == {umap_p.job_id, band.job_id, rand.job_id}
    assert [j.job_id for j in describe.jobs_for_run(listed, child)] == [band.job_id]
    assert [j.job_id for j in describe.jobs_for_run(listed, other)] == [umap_o.job_id]
    assert describe.jobs_for_run(listed, None) == []
    assert [j.job_id for j in describe.active_for_run(listed, child)] == [band.job_id]
    assert describe.pending_text(band) == f"analysis pending (job {band.job_id}, queued)"


def test_a_done_retrain_names_its_child_from_its_result(runs_root, no_launch):
    parent = fake_run(runs_root, "digits-p")
    job = jobs.submit(_retrain_argv(parent, "margin", "0.25", "2"), "retrain")
    assert describe.job_title(job) == "retrain of digits-p · margin 25% · seed 2"
    child = runs_root / "digits-p-margin"
    result = {"score": "margin", "train": {"run_dir": str(child), "linear_acc": 0.9512, "knn_acc": 0.9}}
    done = _finish(job, json.dumps(result) + "\n")
    assert describe.job_title(done) == "retrain of digits-p · margin 25% · seed 2 -> digits-p-margin"
    assert describe.is_child_of(done, child) and not describe.is_child_of(done, parent)
    assert describe.job_title(jobs.submit(["umap", "--run-dir", str(parent)], "umap")) == "umap · digits-p"


def test_tag_retrain_params(runs_root, no_launch):
    parent = fake_run(runs_root, "digits-p")
    job = jobs.submit(["prune", "--run-dir", str(parent), "--tag", "odd", "--seed", "0", "--train"], "retrain")
    assert describe.retrain_params(job) == {
        "parent": str(parent),
        "score": "tag:odd",
        "ratio": None,
        "seed": 0,
        "tag": "odd",
    }
