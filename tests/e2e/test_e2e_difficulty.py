"""Difficulty over training and Thm 4.3's margin on the Theory page, in a real browser at 1,280 x 800.

The run is a digits run folder (``tests.helpers.fake_run``) whose progress.jsonl holds the first epochs that a
``train --dataset digits --preset quick --loss-mode margin`` run logged (values copied from one), and whose
theory.json holds alpha/beta/gamma; the page must show the last epoch's values as text and the series in its
figure. Screenshots: ``tests/artifacts/difficulty_over_training.png`` and ``theory_margin.png`` (the viewport;
copied to assets/).

Run: ``python -m pytest tests/e2e/test_e2e_difficulty.py -q -p no:cacheprovider`` (needs Debian's chromium).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("hardpairs_e2e_helpers", Path(__file__).with_name("conftest.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
page_problems, wait_for_app = _helpers.page_problems, _helpers.wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]
RUN = "digits-margin-s0"
#: (epoch, flagged_cross_class, flagged_share, flagged_similarity) of a real digits margin run
EPOCHS = [
    (1, 0.8294813632965088, 0.07058823529411765, 0.42638713121414185),
    (2, 0.7734917402267456, 0.07058823529411765, 0.436063289642334),
    (3, 0.7976997494697571, 0.07059206495098039, 0.3643217980861664),
]


def write_digits_run(root: Path) -> Path:
    from core.io import write_json
    from tests.helpers import fake_run

    run = fake_run(root, RUN, loss_mode="margin", linear=0.98, knn=0.97)
    config = {"dataset": "digits", "preset": "quick", "loss_mode": "margin", "sigma": 0.03, "seed": 0, "epochs": 3}
    write_json(run / "config.json", config)
    rows = [
        {"epoch": e, "flagged_cross_class": c, "flagged_share": s, "flagged_similarity": m, "loss": 5.0}
        for e, c, s, m in EPOCHS
    ]
    (run / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    theory = {"alpha": 0.472, "beta": 0.191, "gamma": 0.209, "gamma_minus_beta": 0.018, "t": -5.0, "p": 1e-6}
    write_json(run / "theory.json", theory | {"n": 143, "n_d": 11, "r": 9, "delta": 0.1})
    return run


@pytest.fixture(scope="module")
def digits_url(e2e_root, app_url):
    write_digits_run(e2e_root)
    return app_url


def _figure_traces(page) -> list[dict]:
    """name, meta and y of every trace of the difficulty figure (the plotly chart whose traces carry a meta)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(el => (el.data || [])
             .filter(t => t.meta).map(t => ({name: t.name, meta: t.meta, y: Array.from(t.y)})))"""
    )


def test_theory_page_shows_the_digits_runs_difficulty_series_and_margin(digits_url, small_page):
    from playwright.sync_api import expect

    small_page.goto(digits_url + "/")
    wait_for_app(small_page)
    small_page.goto(f"{digits_url}/theory?run={RUN}")
    expect(small_page.locator("h1").first).to_have_text("Theory", timeout=120_000)
    wait_for_app(small_page)
    assert page_problems(small_page) == []
    heading = small_page.get_by_role("heading", name="Difficult pairs over training (Fig. 4c)")
    heading.evaluate("e => e.scrollIntoView()")
    wait_for_app(small_page)
    values = [t.strip() for t in small_page.get_by_test_id("stMetricValue").all_inner_texts()]
    last = EPOCHS[-1]
    assert f"{last[1]:.4f}" in values and f"{last[3]:.4f}" in values  # the last epoch, as text
    traces = _figure_traces(small_page)
    cross = [t for t in traces if t["meta"] == "flagged_cross_class"]
    assert len(cross) == 1 and cross[0]["name"] == "digits · margin"
    assert cross[0]["y"] == pytest.approx([c for _, c, _, _ in EPOCHS])
    small_page.locator(".st-key-th_difficulty").evaluate("e => e.scrollIntoView()")
    wait_for_app(small_page)
    small_page.screenshot(path=str(_helpers.ARTIFACTS / "difficulty_over_training.png"))
    margin = small_page.get_by_role("heading", name="Thm 4.3: the optimal margin beside σ")
    margin.evaluate("e => e.scrollIntoView()")
    wait_for_app(small_page)
    assert small_page.get_by_text("this run used σ = 0.03").count() >= 1
    small_page.screenshot(path=str(_helpers.ARTIFACTS / "theory_margin.png"))
