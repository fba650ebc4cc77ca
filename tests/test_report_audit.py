"""The reviewer report's per-run audit (core.reports.report_audit, report_svg) and --pdf."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import HardpairsError
from core.reports import report
from core.reports.report_svg import heatmap_svg, scatter_svg
from tests.helpers import run_cli

SECTIONS = ("provenance", "definitions", "map", "heatmap", "pairs", "pruning", "theory", "auroc")


def test_scatter_svg_draws_one_dot_per_sample_in_its_class_colour():
    svg = scatter_svg(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.5]), np.array([0, 1, 1]), ["a", "b"])
    dots = re.findall(r"<circle cx='[^']+' cy='[^']+' r='2.2' fill='([^']+)'", svg)
    assert sorted(dots) == sorted(["#4e79a7", "#f28e2b", "#f28e2b"])
    assert ">a</text>" in svg and ">b</text>" in svg and "viewBox='0 0 640 460'" in svg


def test_heatmap_svg_labels_every_cell_with_its_count():
    mat = np.array([[0, 7, 1], [7, 0, 3], [1, 3, 0]])
    svg = heatmap_svg(mat, ["x", "y", "z"])
    values = [int(v) for v in re.findall(r"text-anchor='middle' fill='#[0-9a-f]+'>(\d+)</text>", svg)]
    assert values == mat.ravel().tolist()


@pytest.fixture(scope="module")
def analysed(tiny_run, tmp_path_factory) -> Path:
    """A copy of the tiny digits run with scores, pairs, map and theory."""
    from core.runs.analysis import analyse_run

    root = tmp_path_factory.mktemp("audit_runs")
    run = root / "digits-audit"
    shutil.copytree(tiny_run, run)
    analyse_run(run)
    return run


@pytest.mark.slow
def test_report_has_every_audit_section_with_the_runs_numbers(analysed):
    records = report.collect(analysed.parent)
    text = report.html_report(records)
    section = text[text.index("<section class='audit' data-run='digits-audit'>") :]
    for name in SECTIONS:
        assert f"data-section='{name}'" in section, name
    assert "No map yet" not in section and "No pairs yet" not in section and "No theory" not in section
    # the map: one dot per training sample
    n = int(np.load(analysed / "features.npz")["y_train"].shape[0])
    assert section.count("r='2.2'") == n
    # the heatmap: the counts of class_pairs.npz
    counts = np.load(analysed / "class_pairs.npz")["difficult_counts"]
    heat = section[section.index("data-section='heatmap'") : section.index("data-section='pairs'")]
    cells = [float(v) for v in re.findall(r"text-anchor='middle' fill='#[0-9a-f]+'>([0-9.e+-]+)</text>", heat)]
    assert cells == counts.astype(float).ravel().tolist()
    # the hardest pairs with their images
    pairs = section[section.index("data-section='pairs'") : section.index("data-section='pruning'")]
    assert pairs.count("src='data:image/png;base64,") == 2 * 8
    # theory: alpha as stored
    import json

    th = json.loads((analysed / "theory.json").read_text())
    assert f"<th>alpha</th><td>{th['alpha']:.6g}</td>" in section
    assert "Not a Mixed-ω dataset" in section  # digits has no ground truth
    from core.glossary import GLOSSARY

    assert html.escape(GLOSSARY["band"][1]) in section


def test_missing_artefacts_name_the_command(tmp_path):
    from tests.helpers import fake_run

    run = fake_run(tmp_path, "bare")
    text = report.html_report(report.collect(tmp_path))
    assert f"python -m core umap --run-dir {run}" in text
    assert f"python -m core pairs --run-dir {run}" in text
    assert f"python -m core theory --run-dir {run}" in text


def test_pdf_without_chromium_is_a_clear_error(tmp_path, monkeypatch):
    from core.reports import report_pdf

    monkeypatch.setattr(report_pdf, "find_chromium", lambda: None)
    page = tmp_path / "r.html"
    page.write_text("<html></html>")
    with pytest.raises(HardpairsError, match="--pdf needs Chromium"):
        report_pdf.print_pdf(page, tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


@pytest.mark.slow
def test_report_cli_prints_a_pdf_with_chromium(tmp_path, capsys):
    from core.reports.report_pdf import find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium on this machine")
    from tests.helpers import fake_run

    fake_run(tmp_path / "runs", "a", linear=0.9, knn=0.8)
    out = tmp_path / "rep.html"
    code, res = run_cli(["report", "--runs-root", tmp_path / "runs", "--out", out, "--pdf"], capsys)
    assert code == 0, res
    assert res["pdf"] == str(tmp_path / "rep.pdf")
    assert (tmp_path / "rep.pdf").read_bytes()[:5] == b"%PDF-"
