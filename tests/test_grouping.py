"""One grouping rule, one record loader, one label, one t-interval: every view gives the same answer.

Fake run folders (config, manifest, status, metrics; no training). Each view is checked on the same
roots: ``compare.group_table``, ``compare_runs`` / ``python -m core compare``, the HTML report's summary,
the summary CSV and the Compare page.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as sps
from streamlit.testing.v1 import AppTest

from core.analysis.stats import seed_summary, t_interval
from core.io import read_json, write_json
from core.reports import compare, report, report_tables
from core.reports.compare_tables import group_display
from core.reports.labels import run_labels
from core.reports.records import load_records
from tests.helpers import fake_run, run_cli
from tests.test_report import html_tables

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAPER = {"protocol": "paper", "probe": {"protocol": "paper", "knn_k": 20, "knn_t": 0.07}}


def configured(root: Path, run_id: str, *, seed: int = 0, linear: float = 0.9, metrics=None, **config) -> Path:
    """A fake digits run whose config.json gets ``config`` on top of the defaults."""
    d = fake_run(root, run_id, seed=seed, linear=linear, knn=linear - 0.1)
    write_json(d / "config.json", {**read_json(d / "config.json"), **config})
    if metrics:
        write_json(d / "metrics.json", {**read_json(d / "metrics.json"), **metrics})
    return d


@pytest.fixture
def lr_root(runs_root):
    """Two digits runs that differ only in ``lr`` (same seed, so an average would read "seeds 0, 0")."""
    configured(runs_root, "lr-small", lr=0.003, linear=0.90)
    configured(runs_root, "lr-big", lr=0.01, linear=0.80)
    return runs_root


@pytest.fixture
def probe_root(runs_root):
    """Two digits runs that differ only in the probe protocol."""
    configured(runs_root, "probe-lbfgs", linear=0.90)
    configured(runs_root, "probe-paper", linear=0.80, metrics=PAPER)
    return runs_root


def summary_rows(root: Path) -> pd.DataFrame:
    """The summary table of the HTML report (the first table: "Accuracy over seeds")."""
    return html_tables(report.html_report(load_records(root)))[0]


def csv_rows(root: Path) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(report_tables.summary_csv(load_records(root))))


@pytest.mark.parametrize("fixture", ["lr_root", "probe_root"])
def test_runs_differing_in_lr_or_probe_are_two_groups_in_every_view(fixture, request, capsys):
    root = request.getfixturevalue(fixture)
    groups = compare.group_table(load_records(root))
    assert len(groups) == 2 and groups["n"].tolist() == [1, 1]
    assert sorted(groups["linear_mean"]) == pytest.approx([0.80, 0.90])
    assert groups["label"].nunique() == 2
    assert len(compare.compare_runs(root, n_boot=200)["groups"]) == 2
    code, out = run_cli(["compare", "--runs-root", root, "--bootstrap", "200"], capsys)
    assert code == 0 and sorted(g["linear_mean"] for g in out["groups"]) == pytest.approx([0.80, 0.90])
    summary = csv_rows(root)
    assert len(summary) == 2 and summary["n"].tolist() == [1, 1] and summary["label"].nunique() == 2
    assert set(summary["label"]) == set(groups["label"])
    shown = summary_rows(root)
    assert len(shown) == 2 and set(shown["configuration"]) == set(groups["label"])
    assert sorted(shown["linear probe %"]) == ["80.00 (n=1)", "90.00 (n=1)"]


def test_labels_name_the_difference(lr_root):
    by_label = compare.group_table(load_records(lr_root)).set_index("label")["run_ids"].str[0].to_dict()
    assert by_label == {"digits · baseline · lr 0.003": "lr-small", "digits · baseline · lr 0.01": "lr-big"}


def test_labels_name_the_probe_when_it_differs(probe_root):
    probes = compare.group_table(load_records(probe_root)).set_index("label")["run_ids"].str[0].to_dict()
    assert probes == {
        "digits · baseline · probe (lbfgs · kNN k=20 t=0.07)": "probe-lbfgs",
        "digits · baseline · probe (paper · kNN k=20 t=0.07)": "probe-paper",
    }


def test_the_compare_page_shows_two_groups(lr_root):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/compare_runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    summary = at.table[0].value  # the page's tables are st.table (no clipped column)
    assert sorted(summary["configuration"]) == ["digits · baseline · lr 0.003", "digits · baseline · lr 0.01"]
    assert summary["seeds"].tolist() == ["seed 0 (n=1)", "seed 0 (n=1)"]


def test_two_protocols_are_never_averaged(runs_root):
    """Two seeds of one configuration, probed two ways: two groups of n = 1, never one of n = 2."""
    configured(runs_root, "s0", seed=0, linear=0.90)
    configured(runs_root, "s1", seed=1, linear=0.80, metrics=PAPER)
    configured(runs_root, "s2", seed=2, linear=0.70, metrics=PAPER)
    groups = compare.group_table(load_records(runs_root)).set_index("probe")
    assert groups.loc["lbfgs · kNN k=20 t=0.07", "n"] == 1
    assert groups.loc["paper · kNN k=20 t=0.07", "seeds"] == [1, 2]
    assert groups.loc["paper · kNN k=20 t=0.07", "linear_mean"] == pytest.approx(0.75)
    assert sorted(csv_rows(runs_root)["n"]) == [1, 2]


def test_one_run_given_three_times_counts_once(runs_root, capsys, monkeypatch):
    run = configured(runs_root, "R", linear=0.9)
    monkeypatch.chdir(runs_root)
    given = [str(run), str(run), f"{run}/", "R", "./R/"]
    assert [r["run_id"] for r in load_records(runs=given)] == ["R"]
    code, out = run_cli(["compare", *given], capsys)
    assert code == 0 and [(g["n"], g["seeds"]) for g in out["groups"]] == [(1, [0])]
    assert out["groups"][0]["linear_ci_low"] is None  # n = 1: no zero-width interval
    twice = load_records(runs_root) * 2  # the same records handed in twice
    assert compare.group_table(twice)["n"].tolist() == [1]


def test_a_repeated_seed_is_flagged(runs_root):
    configured(runs_root, "a", seed=0, linear=0.9)
    configured(runs_root, "b", seed=0, linear=0.8)
    group = compare.group_table(load_records(runs_root)).iloc[0]
    assert group["seeds"] == [0, 0] and "seed 0 appears in more than one run" in group["note"]


def test_mix_gets_its_own_label_everywhere(runs_root):
    clean = configured(runs_root, "clean", mix=0.0)
    mixed = configured(runs_root, "mixed", mix=0.2)
    records = load_records(runs_root)
    assert sorted(run_labels(records)) == ["digits · baseline", "digits · mix 0.2 · baseline"]
    assert {run_labels([r])[0] for r in records} == {"digits · baseline", "digits · mix 0.2 · baseline"}  # alone too
    assert sorted(compare.group_table(records)["label"]) == ["digits · baseline", "digits · mix 0.2 · baseline"]
    assert sorted(report_tables.runs_table(records)["label"]) == ["digits · baseline", "digits · mix 0.2 · baseline"]
    from ui.views.labels import sidebar_labels
    from ui.views.runtable import runs_frame

    rows = [{k: v for k, v in r.items() if k not in ("config", "manifest", "metrics", "probe")} for r in records]
    sidebar = sidebar_labels(rows)  # list_runs rows: the config is read from the folder
    assert sidebar[str(mixed)].startswith("digits · mix 0.2 · baseline · s0 · done")
    assert sidebar[str(clean)].startswith("digits · baseline · s0 · done")
    assert sorted(runs_frame(rows)["label"]) == ["digits · baseline", "digits · mix 0.2 · baseline"]


def test_labels_of_pruned_runs_and_collisions():
    base = {"run_id": "p", "dataset": "digits", "loss_mode": "baseline", "config": {"lr": 0.1}}
    kid = {**base, "run_id": "k", "prune_score": "band", "prune_ratio": 0.25}
    assert run_labels([base, kid]) == ["digits · baseline", "digits · baseline · band 25%"]
    a = {**base, "config": {"crop_scale": [0.2, 1.0]}}
    b = {**base, "config": {"crop_scale": [0.3, 1.0]}}
    assert run_labels([a, b]) == [
        "digits · baseline · crop_scale [0.2,1.0]",
        "digits · baseline · crop_scale [0.3,1.0]",
    ]


def test_t_interval_is_scipys():
    values = [0.91, 0.94, 0.95, 0.90]
    n, mean, sd = len(values), sum(values) / 4, float(pd.Series(values).std(ddof=1))
    half = float(sps.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)  # by hand, with scipy's t quantile
    s = seed_summary(values)
    assert (s.ci_low, s.ci_high) == pytest.approx((mean - half, mean + half), rel=1e-12)
    assert t_interval(mean, sd, n) == pytest.approx((mean - half, mean + half), rel=1e-12)
    shown = group_display(
        pd.DataFrame([{"label": "x", "dataset": "d", "loss_mode": "m", "prune_score": "none", "prune_ratio": 0.0,
                       "probe": "p", "n": n, "seeds_text": "seeds 0, 1, 2, 3 (n=4)", "note": None,
                       **{f"{m}_{k}": v for m in ("linear", "knn") for k, v in
                          (("mean", mean), ("std", sd), ("ci_low", s.ci_low), ("ci_high", s.ci_high))}}])
    )  # fmt: skip
    assert shown.loc[0, "linear 95% CI"] == f"[{100 * (mean - half):.2f}, {100 * (mean + half):.2f}]"
