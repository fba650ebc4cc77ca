"""core.reports.report: seed grouping, parent deltas, curves, the offline HTML report and the CSVs."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.io import write_json
from core.reports import report, report_tables
from core.reports.compare import group_table
from core.reports.compare_tables import group_display
from core.reports.records import load_records


class _Tables(HTMLParser):
    """Collects every <table> as a DataFrame (header row = columns); stdlib only."""

    def __init__(self):
        super().__init__()
        self.tables, self._rows, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append(self._cell.strip())
            self._cell = None
        elif tag == "table" and self._rows:
            self.tables.append(pd.DataFrame(self._rows[1:], columns=self._rows[0]))
            self._rows = None


def html_tables(text: str) -> list[pd.DataFrame]:
    parser = _Tables()
    parser.feed(text)
    return parser.tables


def fake_run(
    root: Path,
    run_id: str,
    *,
    dataset="digits",
    loss_mode="baseline",
    seed=0,
    linear=None,
    knn=None,
    parent=None,
    score=None,
    ratio=None,
    created=0.0,
    state="done",
) -> Path:
    """A run folder with just the files the comparison reads."""
    d = root / run_id
    write_json(
        d / "config.json",
        {
            "dataset": dataset,
            "preset": "quick",
            "loss_mode": loss_mode,
            "seed": seed,
            "epochs": 3,
            "lr": 0.003,
            "temperature": 0.2,
            "arch": "small_cnn",
        },
    )
    write_json(
        d / "manifest.json",
        {
            "created": created,
            "parent": parent,
            "git_commit": "abcdef1234567",
            "prune": {"score": score, "ratio": ratio} if score else None,
            "device": "cpu",
            "wall_time_s": 12.5,
        },
    )
    write_json(d / "status.json", {"state": state, "epoch": 3, "epochs": 3})
    if linear is not None:
        write_json(d / "metrics.json", {"linear_acc": linear, "knn_acc": knn})
    return d


@pytest.fixture
def records(tmp_path):
    root = tmp_path / "runs"
    p0 = fake_run(root, "base-s0", seed=0, linear=0.90, knn=0.80, created=1)
    p1 = fake_run(root, "base-s1", seed=1, linear=0.94, knn=0.84, created=2)
    fake_run(root, "comb-s0", loss_mode="combined", seed=0, linear=0.95, knn=0.85, created=3)
    fake_run(root, "band20-s0", seed=0, linear=0.93, knn=0.82, parent=str(p0), score="band", ratio=0.2, created=4)
    fake_run(root, "band20-s1", seed=1, linear=0.95, knn=0.86, parent=str(p1), score="band", ratio=0.2, created=5)
    fake_run(root, "rand20-s0", seed=0, linear=0.88, knn=0.79, parent=str(p0), score="random", ratio=0.2, created=6)
    fake_run(root, "running", seed=2, created=7, state="running")
    return load_records(root)


def test_load_records_reads_every_run_with_config_and_manifest(records):
    assert len(records) == 7
    by_id = {r["run_id"]: r for r in records}
    assert by_id["band20-s0"]["config"]["lr"] == 0.003
    assert by_id["band20-s0"]["manifest"]["prune"] == {"score": "band", "ratio": 0.2}


def test_group_table_means_and_sample_std_over_seeds(records):
    g = group_table(records).set_index(["loss_mode", "prune_score", "prune_ratio"])
    base = g.loc[("baseline", "none", 0.0)]
    assert base["n"] == 2 and base["seeds"] == [0, 1]
    assert base["linear_mean"] == pytest.approx(0.92)
    assert base["linear_std"] == pytest.approx(np.std([0.90, 0.94], ddof=1))
    assert base["knn_mean"] == pytest.approx(0.82)
    band = g.loc[("baseline", "band", 0.2)]
    assert band["linear_mean"] == pytest.approx(0.94) and band["n"] == 2
    single = g.loc[("combined", "none", 0.0)]
    assert single["n"] == 1 and pd.isna(single["linear_std"])
    assert len(g) == 4  # the run without metrics is left out


def test_parent_deltas_subtract_the_parents_accuracy(records):
    d = report_tables.parent_deltas(report_tables.runs_table(records)).set_index("run_id")
    assert set(d.index) == {"band20-s0", "band20-s1", "rand20-s0"}
    assert d.at["band20-s0", "parent"] == "base-s0"
    assert d.at["band20-s0", "delta_linear"] == pytest.approx(0.93 - 0.90)
    assert d.at["band20-s1", "delta_knn"] == pytest.approx(0.86 - 0.84)
    assert d.at["rand20-s0", "delta_linear"] == pytest.approx(-0.02)


def test_ratio_curves_start_every_score_at_the_unpruned_group(records):
    from core.figures.accuracy import ratio_figure
    from core.reports.compare import BASELINE_SCORE, UNPRUNED

    grouped = group_table(records)
    assert report_tables.curve_panels(grouped) == [("digits", "baseline")]
    fig = ratio_figure(grouped, "digits", "baseline", unpruned=UNPRUNED, baseline=BASELINE_SCORE)
    names = [t.name for t in fig.data]
    assert names == ["band", "random (baseline)"]
    assert [list(t.x) for t in fig.data] == [[0.0, 20.0], [0.0, 20.0]]
    assert list(fig.data[0].y) == pytest.approx([92.0, 94.0])
    assert list(fig.data[1].y) == pytest.approx([92.0, 88.0])
    assert fig.data[1].line.dash == "dash"


def test_summary_display_formats_mean_std_in_percent(records):
    grouped = group_table(records)
    shown = group_display(grouped)
    row = shown[(shown["loss mode"] == "baseline") & (shown["prune score"] == "none")].iloc[0]
    assert row["linear probe %"] == "92.00 ± 2.83 (n=2)"
    one = shown[shown["loss mode"] == "combined"].iloc[0]
    assert one["kNN %"] == "85.00 (n=1)"


def test_html_report_is_self_contained(records):
    text = report.html_report(records, title="Audit <digits>", generated=0)
    assert "<title>Audit &lt;digits&gt;</title>" in text
    # plotly.js inlined exactly once (two figures), and no script loaded from elsewhere
    assert text.count("* plotly.js v") == 1
    assert text.count("<script type='application/json' data-figure=") == 2
    assert not re.search(r"<script[^>]+src=", text)
    tables = html_tables(text)
    summary = tables[0]
    assert "92.00 ± 2.83 (n=2)" in summary["linear probe %"].tolist()
    delta = next(t for t in tables if "linear Δ (pp)" in t.columns)
    assert sorted(float(v.replace("\u2212", "-")) for v in delta["linear Δ (pp)"]) == pytest.approx([-2.0, 1.0, 3.0])
    # the legend: one row per run, a short name each, the run id in full
    legend = next(t for t in tables if "run id" in t.columns)
    assert sorted(legend["run id"]) == sorted(r["run_id"] for r in records)
    assert sorted(legend["run"], key=lambda r: int(r[1:])) == [f"R{i}" for i in range(1, 8)]
    # settings and provenance per run, as key/value lists (not a wide table)
    assert not any("git_commit" in t.columns for t in tables)
    assert text.count("<dt>git_commit</dt><dd>abcdef123456</dd>") == 7
    assert text.count("<dt>lr</dt><dd>0.003</dd>") == 7


def test_csv_exports_round_trip(records):
    summary = pd.read_csv(io.StringIO(report_tables.summary_csv(records)))
    assert len(summary) == 4
    base = summary[(summary.loss_mode == "baseline") & (summary.prune_score == "none")].iloc[0]
    assert base.linear_mean == pytest.approx(0.92)
    runs = pd.read_csv(io.StringIO(report_tables.runs_csv(records))).set_index("run_id")
    assert len(runs) == 7
    assert runs.at["band20-s1", "delta_linear"] == pytest.approx(0.01)
    assert np.isnan(runs.at["base-s0", "delta_linear"])


def test_report_cli_writes_files(records, tmp_path, capsys):
    from core.cli import main

    root = Path(records[0]["run_dir"]).parent
    code = main(
        ["report", "--runs-root", str(root), "--out", str(tmp_path / "r.html"), "--csv", str(tmp_path / "s.csv")]
    )
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["runs"] == 7
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert pd.read_csv(tmp_path / "s.csv").shape[0] == 4


def test_empty_records_give_an_explaining_report():
    text = report.html_report([])
    assert "No run has probe metrics yet." in text
    assert group_table([]).empty


def test_an_unreadable_run_is_reported_as_such_and_left_out_of_the_groups(tmp_path):
    root = tmp_path / "runs"
    fake_run(root, "base-s0", seed=0, linear=0.90, knn=0.80, created=1)
    bad = fake_run(root, "base-s1", seed=1, linear=0.50, knn=0.40, created=2)
    (bad / "manifest.json").write_text('{"created": 2, "git_co')  # half-written
    records = load_records(root)
    by_id = {r["run_id"]: r for r in records}
    assert by_id["base-s1"]["state"] == "unreadable" and by_id["base-s1"]["manifest"] == {}
    assert by_id["base-s1"]["message"].startswith("unreadable: manifest.json: ")
    grouped = group_table(records)
    assert grouped["n"].tolist() == [1] and grouped["linear_mean"].tolist() == pytest.approx([0.90])
    runs = pd.read_csv(io.StringIO(report_tables.runs_csv(records))).set_index("run_id")
    assert runs.at["base-s1", "state"] == "unreadable" and runs.at["base-s1", "note"].startswith("unreadable: manifest")
    tables = html_tables(report.html_report(records))
    per_run = next(t for t in tables if "state" in t.columns).set_index("run id")
    assert per_run.at["base-s1", "state"] == "unreadable"
    assert per_run.at["base-s1", "note"].startswith("unreadable: manifest.json: ")


def test_report_puts_recipe_runs_beside_the_papers_numbers(tmp_path):
    """Issue 12: the report sets runs named like a recipe row beside the paper's number, with the delta."""
    for seed, acc in enumerate((0.87, 0.89)):
        run = fake_run(tmp_path, f"table1-cifar10-baseline-s{seed}", dataset="cifar10", seed=seed, linear=acc, knn=acc)
        write_json(run / "metrics.json", {"linear_acc": acc, "knn_acc": acc, "protocol": "paper"})  # the paper's probe
    text = report.html_report(load_records(tmp_path))
    assert "<h2>Beside the paper</h2>" in text
    table = html_tables(text[text.index("Beside the paper") :])[0]
    row = table[table["row"] == "cifar10/baseline"].iloc[0]
    assert float(row["paper"]) == pytest.approx(88.26)
    assert float(row["mean"]) == pytest.approx(88.0)
    assert float(row["delta"]) == pytest.approx(88.0 - 88.26, abs=0.01)
    fake_run(tmp_path / "other", "plain-run", linear=0.9, knn=0.9)
    assert "Beside the paper" not in report.html_report(load_records(tmp_path / "other"))


def _figures(text: str) -> dict[str, list[str]]:
    """The report's figure JSON by name (``<script type='application/json' data-figure=NAME>``)."""
    found: dict[str, list[str]] = {}
    for name, body in re.findall(r"<script type='application/json' data-figure='([a-z]+)'>(.*?)</script>", text, re.S):
        found.setdefault(name, []).append(body)
    return found


def test_report_charts_are_the_compare_pages_figures(records):
    """The report draws the Compare page's charts: core.figures.accuracy over the same group table."""
    from core.figures.accuracy import bars_figure, ratio_figure, wrapped
    from core.reports.compare import BASELINE_SCORE, UNPRUNED

    groups = group_table(records)
    figures = _figures(report.html_report(records))
    bars = bars_figure(groups, "linear", unpruned=UNPRUNED)
    curve = ratio_figure(groups, "digits", "baseline", "linear", unpruned=UNPRUNED, baseline=BASELINE_SCORE)
    assert figures["accuracy"] == [bars.to_json()]
    assert figures["ratio"] == [curve.to_json()]
    drawn = json.loads(figures["accuracy"][0])
    unpruned = groups[groups["prune_score"] == UNPRUNED]
    assert drawn["data"][0]["x"] == [wrapped(t) for t in unpruned["label"]]  # one bar per seed group
    assert drawn["layout"]["yaxis"]["range"] == [0, 100.5]  # from 0 %, as on the page


def test_report_figures_have_no_toolbar(records):
    """Every figure is drawn with plotly's toolbar (modebar) off, so none is printed in the PDF."""
    text = report.html_report(records)
    config = json.loads(re.search(r"const FIGURE_CONFIG = (\{.*?\});", text).group(1))
    assert config["displayModeBar"] is False
    assert text.count("Plotly.newPlot(node.previousElementSibling, fig.data, fig.layout, FIGURE_CONFIG)") == 1


def test_comparisons_over_seeds_are_one_sentence_each(tmp_path):
    """core.reports.summary folds the paired tests over seeds: the t-interval of the per-seed differences,
    its verdict, one sentence per (pruned configuration, other) with the delta in points."""
    from core.analysis.stats import seed_summary, verdict
    from core.reports.compare import pair_table
    from core.reports.summary import comparison_sentence, comparisons
    from tests.test_report_audit import mixed_family

    mixed_family(tmp_path, seeds=(0, 1, 2))
    records = load_records(tmp_path)
    acc = {r["run_id"]: r["linear_acc"] for r in records}
    found = comparisons(pair_table(records, n_boot=200), group_table(records)).set_index(["label", "against"])
    assert len(found) == 3  # band vs parent, band vs random, random vs parent
    row = found.loc[("digits · mix 0.2 · baseline · band 20%", "parent")]
    diffs = [acc[f"mix-band20-s{s}"] - acc[f"mix-s{s}"] for s in (0, 1, 2)]
    expect = seed_summary(diffs)
    assert row["n"] == 3 and row["seeds"] == [0, 1, 2] and row["interval"] == "seeds"
    assert row["diff"] == pytest.approx(expect.mean)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((expect.ci_low, expect.ci_high))
    assert row["verdict"] == verdict((expect.ci_low, expect.ci_high))

    def pp(v: float) -> str:
        return f"{100 * v:+.2f}".replace("-", "\u2212")

    sentence = comparison_sentence({**row.to_dict(), "label": row.name[0]})
    assert sentence == (
        f"digits · mix 0.2 · baseline · band 20%: {pp(expect.mean)} pp linear-probe accuracy vs unpruned "
        f"[{pp(expect.ci_low)}, {pp(expect.ci_high)}] over 3 seeds; {row['verdict']} (95 % interval over seeds)."
    )
    assert found.loc[("digits · mix 0.2 · baseline · band 20%", "random"), "other"] == "random 20%"
    text = report.html_report(records)
    assert text.count("linear-probe accuracy vs") == 3


def test_one_seed_uses_the_paired_bootstrap_and_says_so(tmp_path):
    from core.reports.compare import pair_table
    from core.reports.summary import comparison_sentence, comparisons, format_p
    from tests.test_report_audit import mixed_family

    mixed_family(tmp_path)
    records = load_records(tmp_path)
    pairs = pair_table(records, n_boot=200)
    found = comparisons(pairs, group_table(records))
    first = pairs[(pairs["run_id"] == "mix-band20-s0") & (pairs["against"] == "parent") & (pairs["metric"] == "linear")]
    row = found[(found["against"] == "parent") & (found["label"].str.contains("band"))].iloc[0]
    assert row["interval"] == "test set" and row["ci_low"] == pytest.approx(first["ci_low"].iloc[0])
    assert comparison_sentence(row).endswith("(test-set noise only: 1 seed).")
    assert [format_p(p) for p in (0.0, 0.0004, 0.0123, None, float("nan"))] == ["< 0.001", "< 0.001", "0.012", "–", "–"]


def test_report_cli_prints_progress_on_stderr(records, tmp_path, capsys):
    from core.cli import main

    root = Path(records[0]["run_dir"]).parent
    assert main(["report", "--runs-root", str(root), "--out", str(tmp_path / "r.html")]) == 0
    err = capsys.readouterr().err.splitlines()
    stages = [line.removeprefix("report: ") for line in err if line.startswith("report: ")]
    assert stages == ["collecting runs", "tables", "per-run sections (7 runs)", "figures",
                      f"writing HTML {tmp_path / 'r.html'}", "done"]  # fmt: skip


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_report_files_follow_the_umask(records, tmp_path, capsys, umask, mode):
    import os
    import stat

    from core.cli import main

    root = Path(records[0]["run_dir"]).parent
    old = os.umask(umask)
    try:
        args = ["report", "--runs-root", root, "--out", tmp_path / "r.html", "--csv", tmp_path / "s.csv"]
        assert main([str(a) for a in args]) == 0
    finally:
        os.umask(old)
    assert [stat.S_IMODE((tmp_path / f).stat().st_mode) for f in ("r.html", "s.csv")] == [mode, mode]
