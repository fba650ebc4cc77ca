"""Invariants of issue 11 in a real browser: a tag made on Embeddings (lasso) is exported and pruned by; the
retrain's child opens analysed (no "Compute ... now" button); the report has every section and no
horizontal overflow at 1,200 px.

Run only this file: ``pytest -m e2e tests/e2e/test_invariants_jobs_tags_report.py``.
The parent run is trained by the CLI (``train --analyse``), not the UI (test_browser.py covers that).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_spec = importlib.util.spec_from_file_location("hardpairs_e2e_helpers", Path(__file__).with_name("conftest.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
page_problems, shot, wait_for_app, REPO = _helpers.page_problems, _helpers.shot, _helpers.wait_for_app, _helpers.REPO
draw_lasso = _helpers.draw_lasso

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(2400)]

#: Page URLs (one place to change them). Pages are reached by their navigation titles below.
SLUGS = {
    "runs": "/",
    "embeddings": "/embeddings",
    "hard_pairs": "/hard-pairs",
    "prune": "/prune",
    "compare": "/compare",
    "theory": "/theory",
}
TITLES = {
    "runs": "Runs",
    "embeddings": "Embeddings",
    "hard_pairs": "Hard pairs",
    "prune": "Prune & retrain",
    "theory": "Theory",
}
EPOCHS = os.environ.get("HARDPAIRS_E2E_EPOCHS", "2")
SECTIONS = ("provenance", "definitions", "map", "heatmap", "pairs", "pruning", "theory", "auroc")


def goto(page, name: str) -> None:
    _helpers.goto_nav(page, TITLES[name])


def assert_clean(page, where: str) -> None:
    problems = page_problems(page)
    assert not problems, f"{where}: " + "\n".join(problems)


@pytest.fixture(scope="module")
def parent(e2e_root) -> Path:
    run = e2e_root / "digits-parent"
    cmd = [sys.executable, "-m", "core", "train", "--dataset", "digits", "--preset", "quick", "--epochs", EPOCHS]
    subprocess.run([*cmd, "--analyse", "--run-dir", str(run)], cwd=REPO, check=True, timeout=1200)
    return run


def test_tag_export_prune_by_tag_and_the_child_opens_analysed(browser, app_url, e2e_root, parent, tmp_path):
    from core.audit import tags
    from tests.e2e.test_browser import wait_jobs_done

    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    page.set_default_timeout(60_000)
    page.goto(app_url + SLUGS["runs"])
    wait_for_app(page)
    # tag what a lasso selects on Embeddings (issue 11: "a tag made on Embeddings is exported and pruned by")
    goto(page, "embeddings")
    draw_lasso(page, [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75), (0.25, 0.27)])
    caption = page.get_by_text(re.compile(r"^[\d,]+ (points )?selected")).first.inner_text()
    selected = int(re.match(r"([\d,]+)", caption)[1].replace(",", ""))
    assert selected > 0
    page.get_by_label("Tag name", exact=True).first.fill("e2e")
    page.get_by_label("Tag name", exact=True).first.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name=f"Tag {selected} samples").first.click()
    wait_for_app(page)
    assert_clean(page, "Embeddings after tagging")
    tagged = tags.tag_ids(parent, "e2e")
    assert len(tagged) == selected
    shot(page, "50-embeddings-tagged")
    goto(page, "prune")
    # export it from the UI: the downloaded CSV holds exactly the tagged ids
    page.get_by_text("Tags, export and sample search").first.click()
    wait_for_app(page)
    with page.expect_download() as dl:
        page.get_by_role("button", name=re.compile(r"^Download \d+ ids as CSV$")).first.click()
    dest = tmp_path / "e2e.csv"
    dl.value.save_as(dest)
    assert pd.read_csv(dest)["id"].tolist() == tagged.tolist()
    shot(page, "50-prune-tagged")
    # prune by the tag: its retrain and the random control, each analysed as part of its job
    page.get_by_text("a tag", exact=True).first.click()
    wait_for_app(page)
    page.locator("[data-testid='stBaseButton-primary']", has_text="Launch").click()
    wait_for_app(page)
    from playwright.sync_api import expect

    expect(page.locator("[data-testid='stBaseButton-primary']", has_text="Launch")).to_be_disabled(timeout=60_000)
    assert_clean(page, "Prune after launch")
    wait_jobs_done(e2e_root, 2000, expect=2)
    from core.rundir.folder import list_runs

    children = {r["prune_score"]: Path(r["run_dir"]) for r in list_runs(e2e_root) if r["parent"]}
    assert set(children) == {"tag:e2e", "random"}
    child = children["tag:e2e"]
    kept = np.load(child / "keep.npy")
    assert not set(kept.tolist()) & set(tagged.tolist())
    for name in ("scores.csv", "pairs.csv", "umap_2d.csv", "theory.json"):
        assert (child / name).exists(), name
    # the newest run (a child) opens analysed: no "Compute ... now" button on any analysis page
    fresh = browser.new_page(viewport={"width": 1440, "height": 1400})
    fresh.goto(app_url + SLUGS["runs"])
    wait_for_app(fresh)
    for name in ("hard_pairs", "prune", "theory"):
        goto(fresh, name)
        assert fresh.get_by_role("button", name=re.compile(r"now$")).count() == 0, name
        assert_clean(fresh, name)
    shot(fresh, "51-child-analysed")
    fresh.close()
    page.close()


def test_report_has_every_section_and_fits_1200px(browser, e2e_root, parent, tmp_path):
    out = tmp_path / "report.html"
    cmd = [sys.executable, "-m", "core", "report", "--runs-root", str(e2e_root), "--out", str(out)]
    subprocess.run(cmd, cwd=REPO, check=True, timeout=600)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(out.resolve().as_uri())
    page.wait_for_load_state("load")
    for name in SECTIONS:
        assert page.locator(f"section.audit [data-section='{name}']").count() >= 1, name
    assert page.locator("section.audit div.figure svg.main-svg").count() >= 2  # the map and heatmap, drawn by plotly
    assert page.locator(".modebar").count() == 0  # no toolbar (it would be printed)
    overflow = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert overflow[0] <= overflow[1], overflow
    shot(page, "52-report")
    page.close()
