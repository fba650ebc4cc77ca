"""``python -m core report --pdf`` read back with poppler's pdftotext: complete (every settings key of every
run, the Mixed-ω runs named as such, one sentence per comparison), readable (A4 pages, no table cell wrapped
into lines of one to three characters), true (a pending Mixed-ω run never says "Not a Mixed-ω dataset",
pruning tables in points) and written with the user's umask.

The root: a fake Mixed-ω 0.2 family (``tests.test_report_audit.mixed_family``: a parent whose scores are
pending, its band 20 % and random 20 % retrains, all probed) and a real, analysed clean digits run.
Needs Chromium and poppler-utils (``tests/install_browser.sh`` installs both on CI).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.io import read_json
from core.reports.compare import group_table, pair_table
from core.reports.records import load_records
from core.reports.report_audit import MANIFEST_KEYS
from core.reports.report_pdf import find_chromium, print_pdf
from core.reports.summary import comparison_sentence, comparisons
from tests.test_report_audit import mixed_family

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
MIXED = ("mix-s0", "mix-band20-s0", "mix-random20-s0")


def _tools() -> None:
    if find_chromium() is None or shutil.which("pdftotext") is None:
        pytest.skip("needs Chromium and pdftotext (poppler-utils): tests/install_browser.sh")


def _text(pdf: Path, *flags: str) -> str:
    return subprocess.run(["pdftotext", *flags, str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def printed(analysed_run, tmp_path_factory) -> dict:
    """The report of the root (module docstring) printed under umask 0o022: paths, texts and stderr."""
    _tools()
    base = tmp_path_factory.mktemp("pdf_report")
    root = base / "runs"
    mixed_family(root)
    shutil.copytree(analysed_run, root / "digits-clean")
    out = base / "report.html"
    cmd = [sys.executable, "-m", "core", "report", "--runs-root", str(root), "--out", str(out), "--pdf"]
    old = os.umask(0o022)
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    pdf = out.with_suffix(".pdf")
    return {"root": root, "html": out, "pdf": pdf, "stderr": proc.stderr,
            "layout": _text(pdf, "-layout"), "plain": _text(pdf)}  # fmt: skip


def sections(layout: str) -> dict[str, str]:
    """The PDF text of each run's section (from its heading ``R<i> · Run <id>`` to the next one)."""
    heads = list(re.finditer(r"^\s*R\d+ · Run (\S+)\s*$", layout, re.M))
    ends = [h.start() for h in heads[1:]] + [layout.index("Glossary", heads[-1].end())]
    return {h.group(1): layout[h.end() : end] for h, end in zip(heads, ends, strict=True)}


def test_every_settings_key_of_every_run_is_in_the_pdf(printed):
    found = sections(printed["layout"])
    assert sorted(found) == sorted(["digits-clean", *MIXED])
    for run, text in found.items():
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
        config = read_json(printed["root"] / run / "config.json")
        manifest = read_json(printed["root"] / run / "manifest.json")
        expected = set(config) | {k for k in MANIFEST_KEYS if manifest.get(k) is not None}
        assert expected <= words, (run, sorted(expected - words))
    assert "digits · mix 0.2 · baseline" in printed["layout"]  # the Mixed-ω runs say so in their label


def test_the_summary_has_one_sentence_per_comparison(printed):
    records = load_records(printed["root"])
    found = comparisons(pair_table(records), group_table(records))
    assert len(found) == 3  # band vs unpruned, band vs random, random vs unpruned
    plain = " ".join(printed["plain"].split())
    first_page = " ".join(printed["plain"].split("\f")[0].split())
    for row in found.to_dict(orient="records"):
        sentence = " ".join(comparison_sentence(row).split())
        assert sentence in first_page, sentence
    assert "What was run" in first_page and "4 runs: 4 done." in plain


def test_no_table_cell_wraps_into_a_line_of_one_to_three_characters(printed):
    """Every table of the HTML is found in the PDF text by its header line; the lines of its body (up to a
    blank line or a page break) are never 1-3 characters long (a cell wrapped into slivers)."""
    text = printed["html"].read_text()
    headers = [[html.unescape(c) for c in re.findall(r"<th>(.*?)</th>", head)]
               for head in re.findall(r"<table class='grid'>.*?<thead><tr>(.*?)</tr></thead>", text)]  # fmt: skip
    lines = printed["layout"].split("\n")
    seen = 0
    for cols in {tuple(c) for c in headers}:
        pattern = re.compile(r"\s+".join(re.escape(c) for c in cols))
        starts = [i for i, line in enumerate(lines) if pattern.search(line)]
        assert starts, cols
        seen += len(starts)
        for i in starts:
            for line in lines[i + 1 :]:
                if not line.strip() or "\f" in line:
                    break
                assert not 1 <= len(line.strip()) <= 3, (cols, line)
    assert seen >= len(headers)


def test_a_pending_mixed_run_never_says_not_a_mixed_dataset(printed):
    found = sections(printed["layout"])
    for run in MIXED:
        flat = " ".join(found[run].split())
        assert "Not a Mixed-ω dataset" not in flat and "AUROCs are pending" in flat, run
    assert "Not a Mixed-ω dataset" in " ".join(found["digits-clean"].split())


def test_pruning_tables_are_in_points(printed):
    parent = sections(printed["layout"])["mix-s0"]
    child = read_json(printed["root"] / "mix-band20-s0" / "metrics.json")["linear_acc"]
    assert f"{100 * child:.2f}" in parent and f"{child:.6g}" not in parent


def test_pages_progress_and_modes(printed):
    info = subprocess.run(["pdfinfo", str(printed["pdf"])], capture_output=True, text=True).stdout
    assert "(A4)" in info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages <= 2 + 3 * 4  # summary, tables, at most 3 pages per run (glossary included)
    stages = [line.removeprefix("report: ").split(" ")[0] for line in printed["stderr"].splitlines()]
    assert stages == ["collecting", "tables", "per-run", "figures", "writing", "printing", "done"]
    modes = [stat.S_IMODE(p.stat().st_mode) for p in (printed["html"], printed["pdf"])]
    assert modes == [0o644, 0o644]


def test_the_pdf_follows_a_private_umask(tmp_path):
    _tools()
    page = tmp_path / "r.html"
    page.write_text("<!DOCTYPE html><html><body><p>hello</p></body></html>")
    old = os.umask(0o077)
    try:
        print_pdf(page, tmp_path / "r.pdf")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.pdf").stat().st_mode) == 0o600
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"
