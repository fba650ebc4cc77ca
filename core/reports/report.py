"""The self-contained HTML report of many runs (plotly.js inlined, no network), rendered from the Jinja2
template ``core/reports/templates/report.html.j2``.

The tables live in ``core.reports.report_tables`` and ``core.reports.compare`` (seed groups:
``group_table``, the one grouping rule); the charts are ``core.figures.accuracy``'s, the ones the
Compare page draws; the per-run sections are ``core.reports.report_audit``'s.

Records come from ``core.reports.records.load_records``. Everything here is a pure function of a list
of records. Accuracies are fractions in [0, 1]; the std over seeds is the sample std (ddof=1).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from plotly.offline import get_plotlyjs

from core.figures.accuracy import bars_figure, ratio_figure
from core.figures.layout import PRINT_CONFIG
from core.reports.compare import BASELINE_SCORE, UNPRUNED, group_table
from core.reports.compare_tables import group_display, pruning_comparisons_html
from core.reports.report_audit import audit_section, figure_block
from core.reports.report_tables import curve_panels, parent_deltas, runs_table, settings_table

#: The report's templates (found beside this module, in a clone as in an install).
TEMPLATES = Path(__file__).resolve().parent / "templates"
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)


def _html(frame: pd.DataFrame) -> str:
    """A table as HTML (pandas escapes every cell); missing values as ``–``."""
    return str(frame.to_html(index=False, na_rep="–"))


def accuracy_figures(groups: pd.DataFrame, metric: str = "linear") -> list[dict[str, Any]]:
    """The report's charts as figure blocks: accuracy over the unpruned seed groups, then accuracy vs
    pruning ratio per (dataset, loss mode); the Compare page's functions over the same group table."""
    blocks = []
    if not groups.empty and (groups["prune_score"] == UNPRUNED).any():
        blocks.append(figure_block("accuracy", bars_figure(groups, metric, unpruned=UNPRUNED)))
    for dataset, loss_mode in curve_panels(groups) if not groups.empty else []:
        fig = ratio_figure(groups, dataset, loss_mode, metric, unpruned=UNPRUNED, baseline=BASELINE_SCORE)
        blocks.append(figure_block("ratio", fig))
    return blocks


def _beside_paper(records: Sequence[dict[str, Any]]) -> str:
    """Runs named like a recipe row (``<table>-<row>-s<seed>``) beside the paper's numbers ("" if none are)."""
    from core.io import read_json
    from core.paper.numbers import beside_paper

    runs = {Path(r["run_dir"]).name: read_json(Path(r["run_dir"]) / "metrics.json", {}) or {} for r in records}
    frame = beside_paper(runs)
    return "" if frame.empty else _html(frame.round(2))


def _deltas(deltas: pd.DataFrame) -> str:
    """Each pruned run's change vs its parent in points ("" when there is none)."""
    if deltas.empty:
        return ""
    show = deltas[["run_id", "parent", "prune_score", "prune_ratio", "seed"]].copy()
    show["linear Δ (pp)"] = (100 * deltas["delta_linear"]).round(2)
    show["kNN Δ (pp)"] = (100 * deltas["delta_knn"]).round(2)
    return _html(show)


def _per_run(table: pd.DataFrame) -> str:
    per_run = table[["run_id", "dataset", "loss_mode", "prune_score", "prune_ratio", "seed", "state"]].copy()
    per_run["linear %"] = (100 * table["linear_acc"]).round(2)
    per_run["kNN %"] = (100 * table["knn_acc"]).round(2)
    per_run["note"] = table["note"]
    return _html(per_run)


def html_report(
    records: Sequence[dict[str, Any]], title: str = "Hardpairs report", generated: float | None = None
) -> str:
    """A single HTML file: seed-grouped accuracies, charts, deltas vs parents, settings, one audit per run.

    plotly.js is embedded once (about 4.5 MB) so the file opens offline; each figure is its plotly JSON
    (``<script type='application/json' data-figure=NAME>``) drawn without a toolbar, so none is printed.
    Fits a 1,200 px page: wide tables scroll inside their own box, long values wrap.
    """
    table = runs_table(records)
    groups = group_table(records)
    deltas = parent_deltas(table)
    bad = table[table["state"] == "unreadable"]
    context = {
        "title": title,
        "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(generated or time.time())),
        "n_runs": len(table),
        "summary": "" if groups.empty else _html(group_display(groups)),
        "figures": accuracy_figures(groups),
        "deltas": _deltas(deltas),
        "pruning": "" if deltas.empty else pruning_comparisons_html(records),
        "unreadable": [(r.run_id, r.note) for r in bad.itertuples(index=False)],
        "paper": _beside_paper(records),
        "runs": _per_run(table),
        "settings": _html(settings_table(records)),
        "audits": [audit_section(r, deltas) for r in records if r.get("state") != "unreadable"],
        "plotly_js": get_plotlyjs(),
        "config": PRINT_CONFIG,
    }
    return _ENV.get_template("report.html.j2").render(context)
