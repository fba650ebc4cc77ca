"""The reviewer report's per-run audit (core.reports.report_audit), its figures, escaping, and --pdf."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from core.errors import HardpairsError
from core.reports import report
from core.reports.records import load_records
from tests.helpers import run_cli

SECTIONS = ("provenance", "definitions", "map", "heatmap", "pairs", "pruning", "theory", "auroc")
#: the fake test set of :func:`mixed_family` (digits' size) and each run's share of wrong predictions
N_TEST = 359


def figures(section: str) -> dict[str, dict]:
    """The figures of one report section by name, as plotly JSON (``data-figure`` script blocks)."""
    found = re.findall(r"<script type='application/json' data-figure='([a-z]+)'>(.*?)</script>", section, re.S)
    return {name: json.loads(body) for name, body in found}


def arr(value) -> np.ndarray:
    """A plotly JSON array: a plain list, or plotly's typed-array form {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape)
    return np.asarray(value)


@pytest.fixture(scope="module")
def analysed(analysed_run, tmp_path_factory) -> Path:
    """A copy of the session's analysed digits run (scores, pairs, map and theory), alone in its runs root."""
    run = tmp_path_factory.mktemp("audit_runs") / "digits-audit"
    shutil.copytree(analysed_run, run)
    return run


@pytest.mark.slow
def test_report_has_every_audit_section_with_the_runs_numbers(analysed):
    records = load_records(analysed.parent)
    text = report.html_report(records)
    section = text[text.index("<section class='audit' data-run='digits-audit'>") :]
    for name in SECTIONS:
        assert f"data-section='{name}'" in section, name
    assert "No map yet" not in section and "No pairs yet" not in section and "No theory" not in section
    figs = figures(section)
    # the map (the Embeddings page's map_figure, SVG traces for print): one point per training sample,
    # each at its umap_2d.csv coordinates, one trace per class
    labels = np.load(analysed / "features.npz")["y_train"]
    umap = pd.read_csv(analysed / "umap_2d.csv").set_index("index")
    points = [(int(i), float(x), float(y), t["name"]) for t in figs["map"]["data"] for i, x, y in
              zip(arr(t["customdata"]), arr(t["x"]), arr(t["y"]), strict=True)]  # fmt: skip
    assert sorted(p[0] for p in points) == list(range(len(labels)))
    assert {t["type"] for t in figs["map"]["data"]} == {"scatter"}
    for i, x, y, name in points[::50]:
        assert (x, y) == pytest.approx((umap.at[i, "x"], umap.at[i, "y"]), abs=1e-5) and name == str(labels[i])
    # the heatmap (the Hard pairs page's pair_heatmap): the top-K pairs of pairs.csv, the pairs listed below
    # it (topk_counts of class_pairs.npz), each unordered pair once (above the diagonal: they sum to K)
    counts = np.load(analysed / "class_pairs.npz")["topk_counts"]
    z = arr(figs["heatmap"]["data"][0]["z"])
    assert np.nansum(z) == len(pd.read_csv(analysed / "pairs.csv"))
    assert np.array_equal(np.nan_to_num(z), np.triu(counts, k=1))
    # the hardest pairs with their images
    pairs = section[section.index("data-section='pairs'") : section.index("data-section='pruning'")]
    assert pairs.count("src='data:image/png;base64,") == 2 * 8
    # theory: alpha as stored
    th = json.loads((analysed / "theory.json").read_text())
    assert f"<dt>alpha</dt><dd>{th['alpha']:.6g}</dd>" in section
    assert "Not a Mixed-ω dataset" in section  # digits has no ground truth
    from core.glossary import GLOSSARY

    assert str(escape(GLOSSARY["band"][1])) in section  # as the template escapes it


def test_missing_artefacts_name_the_command(tmp_path):
    from tests.helpers import fake_run

    run = fake_run(tmp_path, "bare")
    text = report.html_report(load_records(tmp_path))
    assert f"python -m core umap --run-dir {run}" in text
    assert f"python -m core pairs --run-dir {run}" in text
    assert f"python -m core theory --run-dir {run}" in text


EVIL = "<img src=x onerror=alert(1)>"
EVIL_CLASSES = ["cat", "<script>alert(1)</script>", EVIL]


def drawn_run(root: Path, name: str, classes: list[str], n: int = 60) -> Path:
    """A fake run with the artefacts the audit draws (map, class pairs, pairs) and ``classes`` as its class names."""
    from core.io import write_json
    from tests.helpers import fake_run

    run = fake_run(root, name, linear=0.9, knn=0.8)
    manifest = json.loads((run / "manifest.json").read_text())
    write_json(run / "manifest.json", {**manifest, "classes": classes})
    rng = np.random.default_rng(0)
    labels = np.arange(n) % len(classes)
    pd.DataFrame({"index": np.arange(n), "x": rng.normal(size=n) + 3 * labels, "y": rng.normal(size=n)}).to_csv(
        run / "umap_2d.csv", index=False
    )
    pd.DataFrame({"index": np.arange(n), "label": labels, "band": rng.random(n)}).to_csv(
        run / "scores.csv", index=False
    )
    counts = np.array([[0, 5, 1], [5, 0, 7], [1, 7, 0]])
    np.savez(run / "class_pairs.npz", difficult_counts=counts, classes=np.array(classes), t_hi=0.9, t_lo=0.8)
    pairs = {"i": [0, 1], "j": [1, 2], "label_i": [0, 1], "label_j": [1, 2], "similarity": [0.95, 0.93]}
    pd.DataFrame(pairs).to_csv(run / "pairs.csv", index=False)
    return run


def test_names_from_data_stay_text_in_sections_and_figures(tmp_path):
    """Class and folder names with markup are escaped in the HTML and carried as plain strings in the figures."""
    drawn_run(tmp_path, f"run{EVIL}", EVIL_CLASSES)
    text = report.html_report(load_records(tmp_path))
    assert "<script>alert(1)" not in text and "<img src=x" not in text
    assert f"<h2>R1 · Run <span class='id'>run{html.escape(EVIL, quote=False)}</span></h2>" in text
    section = text[text.index("<section class='audit'") :]
    figs = figures(section)
    assert [t["name"] for t in figs["map"]["data"]] == EVIL_CLASSES  # the legend: one trace per class
    ticks = figs["heatmap"]["layout"]["xaxis"]["ticktext"]  # plain strings (long names may be shortened with …)
    assert [c.startswith(t.removesuffix("…")) for t, c in zip(ticks, EVIL_CLASSES, strict=True)] == [True] * 3
    # the heatmap counts the top-K pairs of pairs.csv, the pairs listed below it: (0, 1) and (1, 2)
    # (each pair once: the cells above the diagonal, the rest blank)
    assert np.nan_to_num(arr(figs["heatmap"]["data"][0]["z"])).tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    pairs = section[section.index("data-section='pairs'") : section.index("data-section='pruning'")]
    assert "#1 · &lt;script&gt;alert(1)&lt;/script&gt;" in pairs


def _chromium_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after its scripts ran, as headless Chromium prints it."""
    import subprocess

    from core.reports.report_pdf import find_chromium

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium on this machine")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", "--dump-dom"]
    return subprocess.run([*cmd, page.resolve().as_uri()], capture_output=True, text=True, timeout=180).stdout


@pytest.mark.slow
def test_printed_report_draws_every_figure_without_a_toolbar(tmp_path):
    """In the browser that prints the PDF, every figure is drawn (SVG) and no plotly toolbar exists."""
    drawn_run(tmp_path / "runs", "a", ["x", "y", "z"])
    page = tmp_path / "rep.html"
    text = report.html_report(load_records(tmp_path / "runs"))
    page.write_text(text)
    dom = _chromium_dom(page, tmp_path / "profile")
    n_figures = text.count("data-figure=")
    assert n_figures == 3  # accuracy bars, map, heatmap
    assert dom.count('<svg class="main-svg"') >= n_figures  # drawn
    assert not re.search(r'class="modebar[ "]', dom) and 'class="modebar-btn' not in dom  # no toolbar, no button
    assert dom.count('<div class="modebar-container"') == n_figures
    assert re.findall(r'<div class="modebar-container"[^>]*>(.*?)</div>', dom) == [""] * n_figures  # empty


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


def _predicted(run: Path, wrong: float, seed: int) -> float:
    """Write ``predictions.npz`` with ``wrong`` of N_TEST fixed test labels mispredicted (linear and kNN)
    and a matching metrics.json; returns the accuracy."""
    from core.io import write_json

    y = np.random.default_rng(99).integers(0, 10, N_TEST)
    pred = y.copy()
    bad = np.random.default_rng(seed).choice(N_TEST, int(round(wrong * N_TEST)), replace=False)
    pred[bad] = (y[bad] + 1) % 10
    np.savez(run / "predictions.npz", y_true=y, linear_pred=pred, knn_pred=pred)
    acc = float((pred == y).mean())
    write_json(run / "metrics.json", {"linear_acc": acc, "knn_acc": acc})
    return acc


def mixed_family(root: Path, seeds=(0,), mix: float = 0.2) -> dict[str, Path]:
    """Fake runs with the files the report reads: per seed a Mixed-ω parent (no scores yet: its ground
    truth is pending), its band 20 % and random 20 % retrains, each probed (``predictions.npz``).
    Names: ``mix-s{seed}``, ``mix-band20-s{seed}``, ``mix-random20-s{seed}``."""
    from core.io import read_json, write_json
    from tests.helpers import fake_run

    runs = {}
    for seed in seeds:
        parent = fake_run(root, f"mix-s{seed}", seed=seed, linear=0.9)
        runs[parent.name] = parent
        for score, wrong in (("band", 0.04 + 0.01 * seed), ("random", 0.07)):
            child = fake_run(root, f"mix-{score}20-s{seed}", seed=seed, linear=0.9, parent=str(parent),
                             score=score, ratio=0.2, n_kept=1150)  # fmt: skip
            runs[child.name] = child
            _predicted(child, wrong, seed + 10)
        _predicted(parent, 0.05, seed)
    for run in runs.values():
        cfg = read_json(run / "config.json")
        write_json(run / "config.json", {**cfg, "mix": mix, "mix_lambda": 0.5, "lr": 0.003, "temperature": 0.2})
    return runs


def _section(text: str, run: str) -> str:
    """The HTML of one run's audit section."""
    start = text.index(f"<section class='audit' data-run='{run}'>")
    return text[start : text.index("</section>", start)]


def test_a_pending_mixed_run_says_its_ground_truth_is_pending(tmp_path):
    """A Mixed-ω run without scores never reads "Not a Mixed-ω dataset"; a clean run does."""
    from tests.helpers import fake_run

    mixed_family(tmp_path)
    fake_run(tmp_path, "clean", seed=1, linear=0.9, knn=0.9)
    text = report.html_report(load_records(tmp_path))
    for run in ("mix-s0", "mix-band20-s0", "mix-random20-s0"):
        auroc = _section(text, run).split("data-section='auroc'")[1]
        assert "Not a Mixed-ω dataset" not in auroc
        assert "ground truth (Mixed-ω share 0.2)" in auroc and "pending" in auroc
        assert f"python -m core score --run-dir {tmp_path / run}" in auroc
    assert "Not a Mixed-ω dataset" in _section(text, "clean").split("data-section='auroc'")[1]
    assert text.count("Not a Mixed-ω dataset") == 1


def test_pruned_children_show_their_own_comparison_in_points(tmp_path):
    """A pruned retrain's section holds its paired tests against its parent and its random twin; the
    parent's section those of its children; accuracies in percent, differences in points."""
    from tests.test_report import html_tables

    mixed_family(tmp_path)
    records = load_records(tmp_path)
    by_id = {r["run_id"]: r for r in records}
    text = report.html_report(records)
    ids = {row["run id"]: row["run"] for row in html_tables(text)[1].to_dict(orient="records")}  # the legend
    assert "No pruned retrain" not in text
    band = html_tables(_section(text, "mix-band20-s0").split("data-section='pruning'")[1])[0]
    assert band["vs"].tolist() == [f"parent {ids['mix-s0']}"] * 2 + [f"random {ids['mix-random20-s0']}"] * 2
    acc, parent_acc = by_id["mix-band20-s0"]["linear_acc"], by_id["mix-s0"]["linear_acc"]
    linear = band[band["probe"] == "linear"].iloc[0]
    assert (linear["run %"], linear["other %"]) == (f"{100 * acc:.2f}", f"{100 * parent_acc:.2f}")
    assert float(linear["Δ (pp)"].replace("\u2212", "-")) == pytest.approx(100 * (acc - parent_acc), abs=0.006)
    parent = html_tables(_section(text, "mix-s0").split("data-section='pruning'")[1])[0]
    assert sorted(set(parent["run"])) == sorted({ids["mix-band20-s0"], ids["mix-random20-s0"]})
    assert all(0 < float(v) <= 100 and "." in v for v in parent["run %"])  # percent, never a fraction


def test_theory_prints_small_p_values_means_and_vacuous_bounds(tmp_path):
    from core.io import write_json
    from tests.helpers import fake_run

    run = fake_run(tmp_path, "th", linear=0.9, knn=0.9)
    theory = {"alpha": 0.95, "t": -132.95, "p": 0.0, "n": 143.8, "n_d": 12.0, "bound_clean": 1.2000162,
              "bound_difficult": 1.2000575, "bound_removal": 1.2000176, "delta_note": "illustrative delta"}  # fmt: skip
    write_json(run / "theory.json", theory)
    part = _section(report.html_report(load_records(tmp_path)), "th").split("data-section='theory'")[1]
    assert "<dt>p</dt><dd>&lt; 0.001</dd>" in part
    assert "<dt>n</dt><dd>143.8 (mean per class)</dd>" in part and "<dt>n_d</dt><dd>12</dd>" in part
    assert "vacuous" in part
    write_json(run / "theory.json", {**theory, "p": 0.0123, "bound_clean": 0.4})
    part = _section(report.html_report(load_records(tmp_path)), "th").split("data-section='theory'")[1]
    assert "<dt>p</dt><dd>0.012</dd>" in part and "vacuous" not in part
