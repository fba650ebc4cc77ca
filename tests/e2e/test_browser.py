"""The newcomer's path in a real browser: train from the Runs page, visit every page, lasso on the
map, prune and retrain, see the retrain in Compare. Fails on any exception or error box.

Run: ``pytest -m e2e tests/e2e`` (needs Debian's chromium; see tests/e2e/conftest.py).
``HARDPAIRS_E2E_EPOCHS`` (default 2) sets the epochs typed into the train form, so the test
stays a few minutes on a shared CPU; the default quick preset is what a user gets otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from pathlib import Path

import pytest

from core.jobs import records
from ui.thumbs import GRID_CLASS

# the helpers live in this folder's conftest.py; load it by path ("conftest" is ambiguous)
_spec = importlib.util.spec_from_file_location("hardpairs_e2e_helpers", Path(__file__).with_name("conftest.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
page_problems, shot, wait_for_app = _helpers.page_problems, _helpers.shot, _helpers.wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

EPOCHS = os.environ.get("HARDPAIRS_E2E_EPOCHS", "2")
PAGES = ["Runs", "Embeddings", "Hard pairs", "Prune & retrain", "Compare", "Theory"]


def wait_jobs_done(root: Path, timeout_s: float, expect: int | None = None) -> list:
    """Wait until every job under ``root`` has ended; fail with the log tail of a failed one."""
    from core.jobs import queue as jobs

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = jobs.poll(root)
        if listed and not any(j.active for j in listed) and (expect is None or len(listed) >= expect):
            bad = [j for j in listed if j.state != "done"]
            assert not bad, "\n\n".join(f"{j.job_id} {j.state}: {j.message}\n{records.log_tail(j, 40)}" for j in bad)
            return listed
        time.sleep(2)
    listed = records.list_jobs(root)
    raise AssertionError(
        "jobs still running after the timeout:\n"
        + "\n".join(f"{j.job_id} {j.state}\n{records.log_tail(j, 10)}" for j in listed)
    )


def goto_page(page, title: str) -> None:
    """Click a page in the navigation (keeps the session, like a user); wait until it has rendered."""
    _helpers.goto_nav(page, title)


def assert_clean(page, where: str) -> None:
    problems = page_problems(page)
    assert not problems, f"{where}: " + "\n".join(problems)


def sidebar_run_text(page) -> str:
    """The label of the run chosen in the sidebar selector (the combobox input's value)."""
    return page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").input_value()


def test_first_request_deep_link_gets_the_app_frame(page, app_url):
    """Right after the server starts, a deep link must not run a page file without app.py's frame
    (Streamlit's legacy `pages/` mode); later deep links open their page."""
    page.goto(app_url + "/embeddings")
    page.get_by_test_id("stSidebarNav").locator("a").first.wait_for()  # the navigation, of either mode, is drawn
    wait_for_app(page)
    nav = page.get_by_test_id("stSidebarNav").inner_text()
    assert "Prune & retrain" in nav and "app" not in nav.split()
    assert "Hardpairs" in page.get_by_test_id("stSidebar").inner_text()
    assert_clean(page, "first deep link")
    for path, title in (("/compare", "Compare"), ("/embeddings", "Embeddings"), ("/theory", "Theory")):
        page.goto(app_url + path)
        wait_for_app(page)
        assert page.locator("h1").first.inner_text().strip() == title
        assert_clean(page, path)


@pytest.fixture(scope="module")
def trained(browser, app_url, e2e_root):
    """Train the quick digits model with one click on Runs; return the run folder."""
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    page.set_default_timeout(60_000)
    page.goto(app_url)
    wait_for_app(page)
    assert page.get_by_text("No runs yet — click Train").first.is_visible()
    assert_clean(page, "Runs (empty)")
    shot(page, "01-runs-empty")
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill(EPOCHS)
    epochs.press("Enter")
    wait_for_app(page)
    page.locator("[data-testid='stBaseButton-primary']", has_text="Train").click()
    wait_for_app(page)
    page.get_by_text("train · ").first.wait_for(timeout=30_000)
    # the job card shows the job started (the fragment polls it); a quick run may already be done
    page.get_by_text(re.compile(r"\b(running|done) · train · ")).first.wait_for(timeout=120_000)
    shot(page, "02-runs-training")
    (job,) = wait_jobs_done(e2e_root, 900, expect=1)
    run_dir = Path(job.run_dir)
    assert (run_dir / "metrics.json").exists() and (run_dir / "umap_2d.csv").exists()
    # the page notices by itself (fragment poll -> one full rerun): the run is in the selector
    page.wait_for_function(
        "name => [...document.querySelectorAll(\"[data-testid='stSidebar'] input[aria-label='Run']\")]"
        ".some(e => e.value.includes(name))",
        arg=run_dir.name,
        timeout=30_000,
    )
    wait_for_app(page)
    assert_clean(page, "Runs (trained)")
    shot(page, "03-runs-done")
    yield page, run_dir
    page.close()


def test_every_page_renders_without_errors(trained):
    page, run_dir = trained
    for i, title in enumerate(PAGES):
        goto_page(page, title)
        assert_clean(page, title)
        assert run_dir.name in sidebar_run_text(page), f"{title}: the sidebar lost the selected run"
        shot(page, f"1{i}-page-{title.split()[0].lower()}")


def test_lasso_on_the_map_shows_the_image_grid(trained):
    page, _ = trained
    goto_page(page, "Embeddings")
    _helpers.draw_lasso(page, [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8), (0.2, 0.22)])
    page.locator(f".{GRID_CLASS} img").first.wait_for(timeout=60_000)
    wait_for_app(page)
    assert page.locator(f".{GRID_CLASS} img").count() > 0, "no image grid after the lasso"
    assert page.get_by_text(re.compile(r"\d+ selected")).count() >= 1
    assert_clean(page, "Embeddings after lasso")
    shot(page, "20-embeddings-lasso-grid")


def test_prune_retrain_then_compare(trained, e2e_root):
    page, run_dir = trained
    goto_page(page, "Prune & retrain")
    slider = page.get_by_test_id("stSlider").filter(has_text="Pruning ratio")
    thumb = slider.get_by_role("slider")
    thumb.focus()
    for _ in range(10):  # 10 % -> 20 %
        thumb.press("ArrowRight")
    from playwright.sync_api import expect

    expect(thumb).to_have_value("20")
    wait_for_app(page)
    assert slider.get_by_test_id("stSliderThumbValue").inner_text().strip() == "20"
    assert thumb.input_value() == "20"
    assert_clean(page, "Prune after the slider")
    shot(page, "30-prune-slider")
    page.locator("[data-testid='stBaseButton-primary']", has_text="Launch").click()
    wait_for_app(page)
    assert_clean(page, "Prune after launch")
    listed = wait_jobs_done(e2e_root, 1200, expect=3)  # the first training + retrain + random baseline
    retrains = [j for j in listed if j.job_id != listed[-1].job_id]
    assert len(retrains) >= 2
    from core.rundir.folder import list_runs

    children = [r for r in list_runs(e2e_root) if r["parent"]]
    assert {r["prune_score"] for r in children} >= {"random"} and len(children) >= 2
    assert all(r["prune_ratio"] == pytest.approx(0.2) for r in children)
    goto_page(page, "Compare")
    assert page.get_by_text("Accuracy vs pruning ratio").first.is_visible()
    assert page.get_by_text("Change vs the unpruned parent").first.is_visible()
    assert page.get_by_test_id("stPlotlyChart").count() >= 1
    assert_clean(page, "Compare with retrains")
    shot(page, "40-compare-retrains")
