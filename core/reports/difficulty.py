"""Difficulty over training for a set of runs: each run's series (``core.runs.progress``) under its label
(``core.reports.labels``), and the one table of those numbers that the Theory page, the report and
``python -m core difficulty`` all show.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.reports.labels import distinct_labels
from core.reports.records import config_of
from core.runs.progress import FIELDS, DifficultySeries, difficulty_series

#: the table's columns: label, epoch, then the series' fields
COLUMNS = ["run", "epoch", *FIELDS]


def labelled_series(run_dirs: Sequence[str | os.PathLike[str]]) -> list[tuple[str, DifficultySeries]]:
    """``(label, series)`` per run folder, in order; labels by the one run-label rule, unique among these runs."""
    recs: list[dict[str, Any]] = []
    for d in run_dirs:
        rec: dict[str, Any] = {"run_dir": str(d), "run_id": Path(d).name}
        cfg = config_of(rec)
        recs.append(rec | {"config": cfg, "prune_score": cfg.get("prune_score"), "prune_ratio": cfg.get("prune_ratio")})
    labels = distinct_labels(recs)
    return [(label, difficulty_series(rec["run_dir"])) for label, rec in zip(labels, recs, strict=True)]


def series_table(runs: Sequence[tuple[str, DifficultySeries]]) -> pd.DataFrame:
    """One row per (run, epoch): :data:`COLUMNS`, values as logged (None/NaN where not logged)."""
    rows = [[label, epoch, *(s.values[k][i] for k in FIELDS)] for label, s in runs for i, epoch in enumerate(s.epochs)]
    return pd.DataFrame(rows, columns=COLUMNS)


def missing_notes(runs: Sequence[tuple[str, DifficultySeries]]) -> list[str]:
    """One sentence per run and field that has no value: ``"<label>: <field title> <why>"``."""
    notes = []
    for label, s in runs:
        if not s.epochs:  # one sentence, not one per field
            notes.append(f"{label}: {next(iter(s.missing.values()))}")
            continue
        notes += [f"{label}: {FIELDS[k]} — {why}" for k, why in s.missing.items()]
    return notes


def figure_input(runs: Sequence[tuple[str, DifficultySeries]]) -> list[tuple[str, dict[str, Any]]]:
    """The runs as ``core.figures.training.difficulty_figure`` takes them."""
    return [(label, s.as_dict()) for label, s in runs]


def display_table(runs: Sequence[tuple[str, DifficultySeries]], digits: int = 4) -> pd.DataFrame:
    """:func:`series_table` as the page and the CLI print it: fields rounded to ``digits``, "–" where not
    logged, columns titled by :data:`core.runs.progress.FIELDS`."""
    table = series_table(runs)
    for key in FIELDS:
        table[key] = [f"{v:.{digits}f}" if isinstance(v, float) and v == v else "–" for v in table[key]]
    return table.rename(columns=FIELDS)
