"""Comparison of runs: seed-grouped accuracies, deltas vs the unpruned parent, figures, and a
self-contained HTML report (plotly.js inlined, no network) plus CSV exports for reviewers.

The tables live in ``core.reports.report_tables`` and are re-exported here (one import for the
Compare page); this module adds the figures and the HTML report.

A *record* is ``core.rundir.folder.run_summary(run_dir)`` with ``config`` and ``manifest`` dicts added
(see :func:`collect`). Everything else here is a pure function of a list of records.
Accuracies are fractions in [0, 1]; the std over seeds is the sample std (ddof=1, NaN for 1 seed).
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.reports.report_audit import audit_section
from core.reports.report_tables import (
    BASELINE_SCORE,
    GROUP_KEYS,
    SETTINGS_KEYS,
    UNPRUNED,
    collect,
    curve_panels,
    group_runs,
    parent_deltas,
    pm,
    pruning_comparisons_html,
    ratio_curves,
    runs_csv,
    runs_table,
    settings_table,
    summary_csv,
    summary_display,
)

__all__ = [
    "BASELINE_SCORE",
    "GROUP_KEYS",
    "SETTINGS_KEYS",
    "UNPRUNED",
    "accuracy_figure",
    "collect",
    "curve_panels",
    "group_runs",
    "html_report",
    "parent_deltas",
    "pm",
    "ratio_curves",
    "ratio_figure",
    "runs_csv",
    "runs_table",
    "settings_table",
    "summary_csv",
    "summary_display",
]


def ratio_figure(grouped: pd.DataFrame, dataset: str, loss_mode: str, metric: str = "linear") -> go.Figure:
    """Accuracy (%) vs pruning ratio (%), one line per score, random baseline dashed grey."""
    pts = ratio_curves(grouped, dataset, loss_mode, metric)
    fig = go.Figure()
    for score, g in pts.groupby("score", sort=True):
        is_base = score == BASELINE_SCORE
        fig.add_trace(
            go.Scatter(
                x=100 * g["ratio"],
                y=100 * g["mean"],
                mode="lines+markers",
                name=f"{score} (baseline)" if is_base else score,
                error_y=dict(type="data", array=(100 * g["std"].fillna(0)).tolist(), visible=True),
                line=dict(dash="dash", color="#888") if is_base else None,
                customdata=g["n_seeds"],
                hovertemplate="ratio %{x:.0f}%: %{y:.2f}% (%{customdata} seeds)<extra>" + score + "</extra>",
            )
        )
    label = "linear probe" if metric == "linear" else "kNN"
    fig.update_layout(
        title=f"{dataset} · {loss_mode}: {label} accuracy vs pruning ratio",
        xaxis_title="pruned share of the training set (%)",
        yaxis_title=f"{label} accuracy (%)",
        yaxis_range=[0, 100],  # from 0, as on the Compare page: read small gaps in the paired tests
        template="plotly_white",
        height=380,
        margin=dict(l=50, r=20, t=50, b=45),
        legend=dict(title="score"),
    )
    return fig


def accuracy_figure(grouped: pd.DataFrame, metric: str = "linear") -> go.Figure:
    """Unpruned runs: accuracy (%) per loss mode as a dot plot (mean, std error bars), one colour
    per dataset. Dots rather than bars: the differences of interest are a few points."""
    base = grouped[grouped["prune_score"] == UNPRUNED]
    fig = go.Figure()
    for dataset, g in base.groupby("dataset", sort=True):
        fig.add_trace(
            go.Scatter(
                x=g["loss_mode"],
                y=100 * g[f"{metric}_mean"],
                name=dataset,
                mode="markers",
                marker=dict(size=12),
                error_y=dict(type="data", array=(100 * g[f"{metric}_std"].fillna(0)).tolist()),
                customdata=g["n_seeds"],
                hovertemplate="%{x}: %{y:.2f}% (%{customdata} seeds)<extra>" + dataset + "</extra>",
            )
        )
    label = "linear probe" if metric == "linear" else "kNN"
    fig.update_layout(
        title=f"Unpruned runs: {label} accuracy by loss mode",
        yaxis_title=f"{label} accuracy (%)",
        yaxis_range=[0, 100],
        xaxis_title="loss mode",
        template="plotly_white",
        height=340,
        margin=dict(l=50, r=20, t=50, b=45),
        legend=dict(title="dataset"),
    )
    return fig


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem;box-sizing:border-box;overflow-wrap:anywhere}h1{font-size:1.6rem}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem;margin:1.2rem 0 .3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.25rem .5rem;
text-align:right;overflow-wrap:anywhere}th{background:#f4f4f6;overflow-wrap:normal}td:first-child,th:first-child{text-align:left}
.note{color:#666;font-size:.85rem}.box{max-width:100%;overflow-x:auto}.kv td{text-align:left;word-break:break-all}
.kv th{white-space:nowrap;vertical-align:top}svg.fig{width:100%;height:auto;display:block;max-width:760px}
.pairs{display:flex;flex-wrap:wrap;gap:.6rem}.pair{border:1px solid #ddd;padding:.3rem;display:flex;flex-wrap:wrap;
gap:.3rem;width:160px}.pair figure{margin:0;font-size:.72rem;text-align:center}.pair .note{width:100%}
dt{font-weight:600;margin-top:.4rem}dd{margin:0 0 0 1rem;font-size:.9rem}.plotly-graph-div{max-width:100%}
section.audit{border-top:3px solid #3b5bdb;margin-top:2.5rem}
@media print{body{max-width:none;margin:0}section.audit{break-before:page}}"""


def _beside_paper(records: Sequence[dict[str, Any]]) -> list[str]:
    """Runs named like a recipe row (``<table>-<row>-s<seed>``) beside the paper's numbers; nothing if none are."""
    from pathlib import Path

    from core.io import read_json
    from core.paper.numbers import beside_paper

    runs = {Path(r["run_dir"]).name: read_json(Path(r["run_dir"]) / "metrics.json", {}) or {} for r in records}
    frame = beside_paper(runs)
    if frame.empty:
        return []
    return [
        "<h2>Beside the paper</h2><p class='note'>paper: the published mean of 3 runs; ours: mean, std and the 95 % "
        "Student-t interval over seeds; delta = ours - paper, in points. Probe protocols may differ "
        "(docs/paper-fidelity.md).</p>",
        f"<div class='box'>{frame.round(2).to_html(index=False, na_rep='–')}</div>",
    ]


def html_report(
    records: Sequence[dict[str, Any]], title: str = "Hardpairs report", generated: float | None = None
) -> str:
    """A single HTML file: settings, seed-grouped accuracies, deltas vs parents, figures.

    plotly.js is embedded once (about 4.5 MB) so the file opens offline; figures are interactive.
    Then one audit section per readable run (``core.reports.report_audit``). Fits a 1,200 px page:
    wide tables scroll inside their own box, long values wrap.
    """
    table = runs_table(records)
    grouped = group_runs(table)
    deltas = parent_deltas(table)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(generated or time.time()))
    figs: list[go.Figure] = []
    if not grouped.empty and (grouped["prune_score"] == UNPRUNED).any():
        figs.append(accuracy_figure(grouped))
    figs += [ratio_figure(grouped, d, m) for d, m in curve_panels(grouped)]
    audits = [audit_section(r, deltas) for r in records if r.get("state") != "unreadable"]
    fig_html = [
        f.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False}) for i, f in enumerate(figs)
    ]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Generated {when} from {len(table)} runs. Accuracies in percent, mean ± sample std "
        "over seeds (n = number of seeds). Pruned runs are compared with their unpruned parent. Accuracy axes start "
        "at 0 %, so gaps of a few points look small: read them in the paired tests (Pruning comparisons).</p>",
        "<h2>Accuracy over seeds</h2>",
        f"<div class='box'>{summary_display(grouped).to_html(index=False, na_rep='–')}</div>"
        if not grouped.empty
        else "<p>No run has probe metrics yet.</p>",
        *(f"<div>{h}</div>" for h in fig_html),
    ]
    if not deltas.empty:
        show = deltas[["run_id", "parent", "prune_score", "prune_ratio", "seed"]].copy()
        show["linear Δ (pp)"] = (100 * deltas["delta_linear"]).round(2)
        show["kNN Δ (pp)"] = (100 * deltas["delta_knn"]).round(2)
        parts += [
            "<h2>Change vs the unpruned parent</h2>",
            f"<div class='box'>{show.to_html(index=False, na_rep='–')}</div>",
            f"<div class='box'>{pruning_comparisons_html(records)}</div>",
        ]
    per_run = table[["run_id", "dataset", "loss_mode", "prune_score", "prune_ratio", "seed", "state"]].copy()
    per_run["linear %"] = (100 * table["linear_acc"]).round(2)
    per_run["kNN %"] = (100 * table["knn_acc"]).round(2)
    per_run["note"] = table["note"]
    bad = table[table["state"] == "unreadable"]
    if not bad.empty:
        items = "".join(f"<li>{html.escape(f'{r.run_id}: {r.note}')}</li>" for r in bad.itertuples(index=False))
        parts += [f"<h2>Unreadable runs ({len(bad)})</h2><p class='note'>Left out of every group:</p><ul>{items}</ul>"]
    parts += _beside_paper(records)
    parts += [
        "<h2>Runs</h2>",
        f"<div class='box'>{per_run.to_html(index=False, na_rep='–')}</div>",
        "<h2>Settings and provenance</h2>",
        f"<div class='box'>{settings_table(records).to_html(index=False, na_rep='–')}</div>",
        *audits,
        "<p class='note'>Reproduce a run with <code>python -m core train --config RUN/config.json</code>; "
        "regenerate this report with <code>python -m core report --out report.html</code>.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)
