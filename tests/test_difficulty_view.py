"""Difficulty over training (issue 22, point 6), Thm 4.3's margin (point 7) and Table 10's eigenvalue: the one
progress reader against hand-written progress.jsonl, its CLI twin, the figure, the Theory page, and reference
numbers computed by hand."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.analysis import bounds
from core.cli import main
from core.figures.training import PANELS, difficulty_figure
from core.io import write_json
from core.reports.difficulty import display_table, figure_input, labelled_series, missing_notes
from core.runs.progress import difficulty_series
from core.training.loss import pair_stats
from tests.helpers import fake_run
from ui.frame import RUN_KEY
from ui.views.theorymargin import eigen_view, margin_verdict, margin_view

REPO = Path(__file__).resolve().parents[1]
#: progress.jsonl as the trainer writes it, out of order, epoch 2 logged twice (a resume: the last counts),
#: a NaN, a null and a torn last line
PROGRESS = [
    {"epoch": 2, "flagged_share": 0.5, "flagged_cross_class": 0.1, "flagged_similarity": 0.9, "loss": 5.0},
    {"epoch": 1, "flagged_share": 0.0705, "flagged_cross_class": 0.8125, "flagged_similarity": 0.25, "loss": 6.0},
    {"epoch": 2, "flagged_share": 0.0706, "flagged_cross_class": 0.84375, "flagged_similarity": None, "loss": 5.5},
    {"epoch": 3, "flagged_share": 0.0707, "flagged_cross_class": float("nan"), "flagged_similarity": 0.3125},
    {"loss": 1.0},
]


def _write_progress(run: Path, rows: list[dict], torn: bool = True) -> None:
    text = "".join(json.dumps(r) + "\n" for r in rows) + ('{"epoch": 4, "flagged_sh' if torn else "")
    (run / "progress.jsonl").write_text(text)


@pytest.fixture
def runs(tmp_path):
    a = fake_run(tmp_path, "digits-margin-s0", loss_mode="margin")
    _write_progress(a, PROGRESS)
    old = fake_run(tmp_path, "digits-baseline-s0")  # trained before flagged_similarity was logged
    _write_progress(old, [{"epoch": 1, "flagged_share": 0.07, "flagged_cross_class": 0.8}], torn=False)
    unlabelled = fake_run(tmp_path, "stl-s0")
    _write_progress(unlabelled, [{"epoch": 1, "flagged_share": 0.07, "flagged_cross_class": None}], torn=False)
    return a, old, unlabelled


def test_reader_gives_the_exact_series_of_a_hand_written_progress_file(runs):
    s = difficulty_series(runs[0])
    assert s.epochs == (1, 2, 3)
    assert s.values["flagged_share"] == (0.0705, 0.0706, 0.0707)
    assert s.values["flagged_cross_class"] == (0.8125, 0.84375, None)  # NaN -> None
    assert s.values["flagged_similarity"] == (0.25, None, 0.3125)
    assert s.missing == {} and s.last("flagged_cross_class") == 0.84375 and s.last("flagged_similarity") == 0.3125


def test_reader_says_why_a_field_is_missing(runs, tmp_path):
    old, unlabelled = difficulty_series(runs[1]), difficulty_series(runs[2])
    assert set(old.missing) == {"flagged_similarity"} and "trained before" in old.missing["flagged_similarity"]
    assert "no labels" in unlabelled.missing["flagged_cross_class"]
    empty = difficulty_series(fake_run(tmp_path, "new-s0"))
    assert empty.epochs == () and all("no epoch logged yet" in why for why in empty.missing.values())
    notes = missing_notes(labelled_series([runs[1], tmp_path / "new-s0"]))
    assert len(notes) == 2 and notes[1].endswith("no epoch logged yet (progress.jsonl is missing or empty)")


def _cli(*args: str) -> tuple[list[str], dict]:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["difficulty", *args]) == 0
    lines = out.getvalue().splitlines()
    return lines[:-1], json.loads(lines[-1])


def test_cli_prints_the_readers_numbers(runs):
    args = [a for r in runs[:2] for a in ("--run-dir", str(r))]
    text, result = _cli(*args)
    labelled = labelled_series(runs[:2])
    assert [r["label"] for r in result["runs"]] == [label for label, _ in labelled]
    for got, (label, s) in zip(result["runs"], labelled, strict=True):
        assert got == {"label": label} | s.as_dict()
    assert result["runs"][0]["flagged_cross_class"] == [0.8125, 0.84375, None]
    table = display_table(labelled).to_string(index=False).splitlines()
    assert text == table + missing_notes(labelled)
    assert "0.8438" in text[2] and "0.3125" in text[3]  # 4 decimals, as the page shows them
    quiet, same = _cli(*args, "--json")
    assert quiet == [] and same == result


def test_cli_refuses_a_folder_that_is_no_run(tmp_path):
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["difficulty", "--run-dir", str(tmp_path)]) == 2
    assert "is not a run folder" in json.loads(out.getvalue().splitlines()[-1])["error"]


def test_figure_overlays_runs_with_one_legend_entry_each(runs):
    labelled = labelled_series(runs[:2])
    fig = difficulty_figure(figure_input(labelled))
    by_panel = {(t.name, t.meta): t for t in fig.data}
    first, second = (label for label, _ in labelled)
    assert list(by_panel[(first, "flagged_cross_class")].y) == [0.8125, 0.84375, None]
    assert list(by_panel[(first, "flagged_similarity")].x) == [1, 2, 3]
    assert (second, "flagged_similarity") not in by_panel  # not logged: nothing drawn
    assert [t.name for t in fig.data if t.showlegend] == [first, second]
    assert len(PANELS) == 3 and "Fig. 4c" in fig.layout.annotations[0].text


def test_pair_stats_flagged_similarity_is_the_mean_cosine_of_the_flagged_pairs():
    z = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [1.0, 1.0]])  # views [x1, x2, x1', x2']
    pairs = torch.zeros(4, 4, dtype=torch.bool)
    pairs[0, 1] = pairs[1, 0] = pairs[0, 3] = True  # two cross pairs, one flagged twice; (0, 2) is a positive
    pairs[0, 2] = True  # positives are never counted
    st = pair_stats(pairs, torch.tensor([0, 1, 0, 1]), z)
    expected = (0.6 + 0.6 + 1 / math.sqrt(2)) / 3
    assert st["flagged_similarity"] == pytest.approx(expected, abs=1e-6)
    assert st["flagged_share"] == 3 / 8 and st["flagged_cross_class"] == 1.0
    assert math.isnan(pair_stats(torch.zeros(4, 4, dtype=torch.bool), None, z)["flagged_similarity"])


# Thm 4.3 at CIFAR-10's Table 10 values (0 % mixed): alpha .472, beta .191, gamma .209, n 5000, n_d 8 % = 400, r 9.
# By hand: c2 = .528 + 2360 + 8595 = 10955.528; c1 = c2 + 400*9*.018 = 11020.328; c0 = .528 + 2360 + 4600*9*.191
# = 10267.928; c0 (g-b) / c2 = 184.822704 / 10955.528 = 0.0168703; m = that / c1^2 = 0.0168703 / 121447629.2.
def test_thm43_margin_matches_hand_computed_numbers():
    m = bounds.optimal_margin(0.472, 0.191, 0.209, 5000, 400, 9)
    assert m["c2"] == pytest.approx(10955.528) and m["c1"] == pytest.approx(11020.328)
    assert m["c0"] == pytest.approx(10267.928)
    assert m["margin_similarity"] == pytest.approx(0.0168703, abs=1e-7)
    assert m["margin"] == pytest.approx(1.389098e-10, rel=1e-6)
    assert 0.209 - m["margin_similarity"] == pytest.approx(0.191 * m["c1"] / m["c2"], rel=1e-12)
    res = bounds.evaluate_bounds(0.472, 0.191, 0.209, 5000, 400, 9)
    assert res["margin_thm43"] == m["margin"] and res["margin_similarity_thm43"] == m["margin_similarity"]


def test_thm43_margin_turns_a_difficult_pair_into_an_easy_one_in_the_block_model():
    a, b, g, n, n_d, r = 0.6, 0.1, 0.3, 6, 2, 2
    sim = bounds.block_similarity_matrix(a, b, g, n, n_d, r)  # full gamma block: degrees as Eq. 34
    deg = sim.sum(1)
    m = bounds.optimal_margin(a, b, g, n, n_d, r)
    assert deg[n - 1] == pytest.approx(m["c1"]) and deg[0] == pytest.approx(m["c2"])
    norm = sim / np.sqrt(np.outer(deg, deg))
    hard, other_hard, easy, other_easy = n - 1, 2 * n - 1, 0, n
    shifted = norm[hard, other_hard] - np.sqrt(deg[hard] * deg[other_hard]) * m["margin"]  # (A - M) entry
    assert shifted == pytest.approx(norm[easy, other_easy])  # = beta / c2


def test_table10_eigenvalue_is_thm34_lambda_and_the_paper_used_a_larger_n():
    """The paper's four values follow lambda_difficult at their alpha, beta, gamma within 0.3 %, at n = 10,685."""
    rows = [(0.472, 0.191, 0.209, 2.93), (0.44, 0.195, 0.221, 3.36), (0.412, 0.201, 0.231, 3.58)]
    rows.append((0.387, 0.208, 0.241, 3.72))
    for a, b, g, paper in rows:
        assert 1e5 * bounds.lambda_difficult(a, b, g, 10685, 0.08 * 10685, 9) == pytest.approx(paper, rel=3e-3)
    assert 1e5 * bounds.lambda_difficult(0.472, 0.191, 0.209, 5000, 400, 9) == pytest.approx(6.26, abs=0.01)


def test_margin_view_sets_the_theorem_beside_sigma(tmp_path):
    th = {"alpha": 0.472, "beta": 0.191, "gamma": 0.209, "n": 5000, "n_d": 400, "r": 9}
    view = margin_view(th, {"loss_mode": "margin", "sigma": 0.03})
    assert view.error is None and view.verdict == margin_verdict(view.table["value"][1], 0.03, "margin")
    assert "this run used σ = 0.03, 1.78× the theorem's value" in view.verdict
    assert dict(zip(view.table["quantity"], view.table["value"], strict=True))["σ (Eq. 14)"] == 0.03
    assert "added no margin" in margin_view(th, {"loss_mode": "baseline", "sigma": 0.03}).verdict
    assert "no finite gamma" in str(margin_view({k: v for k, v in th.items() if k != "gamma"}, {}).error)
    assert "does not apply" in str(margin_view(th | {"alpha": 0.1}, {}).error)
    ours, paper = eigen_view(th | {"lambda_difficult": 6.26e-5}, fake_run(tmp_path, "r-s0"))
    assert ours == pytest.approx(6.26) and list(paper["paper"]) == [2.93, 3.36, 3.58, 3.72]


def test_theory_page_shows_the_difficulty_series_and_the_margin(runs):
    run = runs[0]
    write_json(run / "config.json", {"dataset": "digits", "loss_mode": "margin", "sigma": 0.03, "seed": 0})
    theory = {"alpha": 0.472, "beta": 0.191, "gamma": 0.209, "gamma_minus_beta": 0.018, "t": -5.0, "p": 1e-6}
    write_json(run / "theory.json", theory | {"n": 5000, "n_d": 400, "r": 9, "delta": 0.1})
    at = AppTest.from_file(str(REPO / "pages" / "theory_bounds.py"), default_timeout=60)
    at.session_state[RUN_KEY] = str(run)
    at.run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["cross-class share of flagged pairs"] == "0.8438"
    assert metrics["mean similarity of flagged pairs"] == "0.3125"
    assert metrics["(K+1)-th eigenvalue ×10⁻⁵ (Table 10: Thm 3.4's λₖ₊₁)"] == "6.261"
    assert any("1.78× the theorem's value" in md.value for md in at.markdown)
    assert any(f"difficulty --run-dir {run}" in c.value for c in at.code)


def test_report_has_the_difficulty_section_with_the_readers_series(runs):
    from core.reports.records import load_records
    from core.reports.report import difficulty_section, html_report

    recs = load_records(runs[0].parent)
    section = difficulty_section(recs)
    fig = json.loads(section["difficulty"]["json"])
    (trace,) = [t for t in fig["data"] if t["meta"] == "flagged_cross_class" and t["name"].endswith("margin")]
    assert trace["y"] == [0.8125, 0.84375, None]
    assert any("trained before" in n for n in section["difficulty_notes"])  # the old run says so
    html = html_report(recs)
    assert "data-section='difficulty'" in html and "Difficult pairs over training" in html
