"""The self-contained HTML report of many runs (plotly.js inlined, no network), rendered from the Jinja2
template ``core/reports/templates/report.html.j2``, built to be read on paper (A4 or Letter) as on screen.

Order: a one-page summary (what was run, each comparison as a sentence: ``core.reports.summary``, the
seed groups of ``core.reports.compare.group_table``, the one grouping rule), the charts
(``core.figures.accuracy``, the ones the Compare page draws), the difficult pairs over training (the Theory
page's figure, ``core.reports.difficulty``), the runs' legend (short names R1, R2 ... used by every later table:
``core.reports.report_tables.short_ids``), the changes vs the parents and the paired tests, the training length
of each pruned retrain (``core.reports.compare_tables.steps_sentences``), one section per run
(``core.reports.report_audit``) and one glossary at the end.

Records come from ``core.reports.records.load_records``. Everything here is a pure function of a list
of records. Accuracies are fractions in [0, 1] in the data and percent (differences: points) in print.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from plotly.offline import get_plotlyjs

from core.figures.accuracy import bars_figure, ratio_figure
from core.figures.layout import PRINT_CONFIG
from core.reports.compare import BASELINE_SCORE, UNPRUNED, group_table, pair_table
from core.reports.compare_tables import steps_sentences
from core.reports.difficulty import figure_input, labelled_series, missing_notes
from core.reports.labels import SEP, fmt_value
from core.reports.report_audit import audit_section, figure_block
from core.reports.report_tables import (
    curve_panels,
    deltas_display,
    grid_block,
    groups_print,
    legend_display,
    pair_notes,
    pairs_display,
    parent_deltas,
    runs_table,
    short_ids,
)
from core.reports.summary import comparison_sentence, comparisons, run_overview

#: The report's templates (found beside this module, in a clone as in an install).
TEMPLATES = Path(__file__).resolve().parent / "templates"
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)


def _with_mix(groups: pd.DataFrame) -> pd.DataFrame:
    """The group table with a Mixed-ω group's dataset named with its share (``digits · mix 0.2``), so
    that a ratio panel never draws a clean and a Mixed-ω parent as one curve."""
    if groups.empty:
        return groups
    mixes = [json.loads(k).get("mix") for k in groups["key"]]
    names = [f"{d}{SEP}mix {fmt_value(m)}" if isinstance(m, (int, float)) and m > 0 else d
             for d, m in zip(groups["dataset"], mixes, strict=True)]  # fmt: skip
    return groups.assign(dataset=names)


def accuracy_figures(groups: pd.DataFrame, metric: str = "linear") -> list[dict[str, Any]]:
    """The report's charts as figure blocks: accuracy over the unpruned seed groups, then accuracy vs
    pruning ratio per (dataset, loss mode); the Compare page's functions over the same group table."""
    blocks = []
    if not groups.empty and (groups["prune_score"] == UNPRUNED).any():
        blocks.append(figure_block("accuracy", bars_figure(groups, metric, unpruned=UNPRUNED)))
    panels = _with_mix(groups)
    for dataset, loss_mode in curve_panels(panels) if not groups.empty else []:
        fig = ratio_figure(panels, dataset, loss_mode, metric, unpruned=UNPRUNED, baseline=BASELINE_SCORE)
        blocks.append(figure_block("ratio", fig))
    return blocks


def _beside_paper(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Runs named like a recipe row (``<table>-<row>-s<seed>``) beside the paper's numbers (None if none are)."""
    from core.paper.numbers import beside_paper_for

    frame = beside_paper_for([r["run_dir"] for r in records])
    return None if frame.empty else grid_block(frame.round(2), text=("row",))


def difficulty_section(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Difficulty over training (Fig. 4c): the Theory page's figure over every readable run that logged an epoch
    (``core.reports.difficulty``), and a note for each field a run did not log."""
    from core.figures.training import difficulty_figure

    dirs = [r["run_dir"] for r in records if r.get("state") != "unreadable" and r.get("run_dir")]
    runs = [(label, s) for label, s in labelled_series(dirs) if s.epochs]
    if not runs:
        return {"difficulty": None, "difficulty_notes": []}
    return {
        "difficulty": figure_block("difficulty", difficulty_figure(figure_input(runs))),
        "difficulty_notes": missing_notes(runs),
    }


def glossary(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's one glossary (``core.glossary``): every term but the loss modes no run in view used."""
    from core.glossary import GLOSSARY

    used = {str((r.get("config") or {}).get("loss_mode")) for r in records}
    keep = [t for t, (group, _) in GLOSSARY.items() if group != "loss mode" or t.split(" ")[0] in used]
    return [{"kind": "terms", "entries": [(t, GLOSSARY[t][1]) for t in keep]}]


def _order(audit: dict[str, Any]) -> int:
    """Sections in the legend's order (R1, R2, ...)."""
    tail = str(audit["short"])[1:]
    return int(tail) if tail.isdigit() else 0


def _progress(step: Callable[[str], None] | None, text: str) -> None:
    if step is not None:
        step(text)


def html_report(
    records: Sequence[dict[str, Any]],
    title: str = "Hardpairs report",
    generated: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> str:
    """A single HTML file: the summary page, charts, the runs' legend, deltas and paired tests, one
    section per run and the glossary (module docstring).

    plotly.js is embedded once (about 4.5 MB) so the file opens offline; each figure is its plotly JSON
    (``<script type='application/json' data-figure=NAME>``) drawn without a toolbar, so none is printed.
    ``progress`` is called with the name of each stage (the CLI prints it on stderr).
    """
    _progress(progress, "tables")
    table = runs_table(records)
    ids = short_ids(table)
    groups = group_table(records)
    pairs = pair_table(records)
    deltas = parent_deltas(table)
    shown, group_notes = groups_print(groups) if not groups.empty else (pd.DataFrame(), [])
    found = comparisons(pairs, groups)
    context: dict[str, Any] = {
        "title": title,
        "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(generated or time.time())),
        "overview": run_overview(records),
        "sentences": [comparison_sentence(row) for row in found.to_dict(orient="records")],
        "summary": None if groups.empty else grid_block(shown, text=("configuration", "seeds")),
        "summary_notes": group_notes,
        "legend": grid_block(legend_display(table, ids), ids=("run id",), text=("configuration", "note")),
        "deltas": None if deltas.empty else grid_block(deltas_display(deltas, ids), text=("pruning",)),
        "pairs": None if pairs.empty else grid_block(pairs_display(pairs, ids), text=("vs",)),
        "pair_notes": pair_notes(pairs, ids),
        "steps": steps_sentences(list(records), ids),
        "paper": _beside_paper(records),
        "unreadable": [
            f"{r['run_id']}: {r['note']}" for r in table.to_dict(orient="records") if r["state"] == "unreadable"
        ],
    }
    _progress(progress, f"per-run sections ({len(records)} runs)")
    labels = dict(zip(table["run_id"], table["label"], strict=True))
    audits = [audit_section(r, pairs, ids) for r in records if r.get("state") != "unreadable"]
    context["audits"] = sorted(({**a, "label": labels.get(a["name"], "")} for a in audits), key=_order)
    _progress(progress, "figures")
    context.update(figures=accuracy_figures(groups), glossary=glossary(records), plotly_js=get_plotlyjs())
    context.update(difficulty_section(records))
    context["config"] = PRINT_CONFIG
    return _ENV.get_template("report.html.j2").render(context)
