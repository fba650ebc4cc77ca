"""AppTest of the Prune page's audit parts: every pruned sample reachable, Launch disabled while its
jobs are in flight, pruning by a tag, "analysis pending" instead of a duplicate Compute button."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.audit import tags
from core.jobs import queue as jobs
from core.jobs import records
from tests.test_app_pages import _grid_captions, _no_errors, _page
from tests.test_app_pages import digits as digits  # noqa: F401 - fixture
from tests.test_app_pages import runs as runs_fixture

runs = runs_fixture  # the fixture, under its name

pytestmark = pytest.mark.timeout(300)


def _with_n_train(run, n):
    path = run / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"n_train": int(n)}))


def test_prune_grid_reaches_every_pruned_sample(runs):
    at = _page("prune", runs["parent"])
    at.slider(key="pr_ratio").set_value(20).run()
    _no_errors(at)
    n_pruned = round(0.2 * runs["y"].shape[0])
    assert n_pruned > 240  # the old grid stopped at 240
    pages = at.number_input(key="pr_grid_page")
    assert pages.max == -(-n_pruned // 60)
    head = f"The {n_pruned} highest-band samples of the {n_pruned} pruned (all of them, 60 per page)"
    assert any(c.value.startswith(head) for c in at.caption)
    pages.set_value(pages.max).run()
    assert len(_grid_captions(at)) == n_pruned - 60 * (pages.max - 1)


def test_launch_is_disabled_while_its_jobs_run(runs, no_launch):
    at = _page("prune", runs["parent"])
    at.slider(key="pr_ratio").set_value(20).run()
    assert not at.button(key="pr_launch").disabled
    at.button(key="pr_launch").click().run()
    _no_errors(at)
    queued = records.list_jobs()
    assert len(queued) == 2 and all("--analyse" in j.argv for j in queued)
    assert at.button(key="pr_launch").disabled
    assert any("2 of these retrains are queued or running" in c.value for c in at.caption)
    for j in queued:
        jobs.cancel(j.job_id)
    at.run()
    assert not at.button(key="pr_launch").disabled


def test_prune_by_tag_plans_the_tag_retrain_and_a_random_control(runs):
    parent = runs["parent"]
    n = runs["y"].shape[0]
    _with_n_train(parent, n)
    tags.add_tag(parent, "sus", [3, 5, 7, 11])
    at = _page("prune", parent)
    at.radio(key="pr_source").set_value("a tag").run()
    _no_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["pruned"], metrics["kept"]) == ("4", str(n - 4))
    plan = at.code[-1].value if "--tag" in at.code[-1].value else next(c.value for c in at.code if "--train" in c.value)
    lines = plan.split("\n")
    assert lines[0].startswith(f"python -m core prune --run-dir {parent} --tag sus --seed 0 --train")
    assert lines[0].endswith("--analyse")
    ratio = float(lines[1].split("--ratio ")[1].split()[0])
    assert "--score random" in lines[1] and round(ratio * n) == 4


def test_compute_button_becomes_pending_while_a_job_for_the_run_is_queued(runs, no_launch):
    empty = runs["empty"]
    at = _page("prune", empty)
    assert at.button(key="pr_score_job")
    job = jobs.submit(["score", "--run-dir", str(empty)], "score")
    at.run()
    _no_errors(at)
    assert not any(b.key == "pr_score_job" for b in at.button)
    assert any(f"analysis pending (job {job.job_id}, queued)" in i.value for i in at.info)
    # another run's job does not block this run's button, and its panel does not show it
    jobs.cancel(job.job_id)
    other = jobs.submit(["score", "--run-dir", str(runs["parent"])], "score")
    at.run()
    assert at.button(key="pr_score_job")
    assert not any(other.job_id in str(getattr(e, "value", "")) for e in at.markdown)


def test_tag_widget_on_the_prune_page_writes_tags_csv(runs):
    parent = runs["parent"]
    _with_n_train(parent, runs["y"].shape[0])
    at = _page("prune", parent)
    at.slider(key="pr_ratio").set_value(1).run()
    at.text_input(key="pr_pruned_tag_name").input("first").run()
    at.button(key="pr_pruned_tag_button").click().run()
    _no_errors(at)
    n_pruned = round(0.01 * runs["y"].shape[0])
    assert tags.list_tags(parent) == {"first": n_pruned}
    scores = np.loadtxt(parent / "scores.csv", delimiter=",", skiprows=1)
    order = np.argsort(-scores[:, 2], kind="stable")[:n_pruned]
    assert sorted(tags.tag_ids(parent, "first").tolist()) == sorted(scores[order, 0].astype(int).tolist())
