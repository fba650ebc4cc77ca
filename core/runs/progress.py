"""Difficulty over training: THE reader of a run's per-epoch difficult-pair series from ``progress.jsonl``.

The trainer (``core.training.loop._end_epoch``) writes one record per epoch with ``flagged_share`` (flagged
pairs / all non-self, non-positive pairs in the logged batches), ``flagged_cross_class`` (the share of those
flagged pairs whose labels differ: the paper's Fig. 4c; null without labels) and ``flagged_similarity`` (the
mean cosine similarity of the projections over the flagged pairs, the ``s_ij`` Eq. 14 adds the margin to;
missing in runs trained before it was logged). The Theory page, the report and ``python -m core difficulty``
all read the series through :func:`difficulty_series`, so they show the same numbers.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.io import read_jsonl

#: the per-epoch keys of progress.jsonl this view reads -> what each is, as a column title
FIELDS: dict[str, str] = {
    "flagged_cross_class": "cross-class share of flagged pairs",
    "flagged_similarity": "mean similarity of flagged pairs",
    "flagged_share": "flagged share of all pairs",
}


@dataclass(frozen=True)
class DifficultySeries:
    """One run's series: ``epochs`` (E,) ints and, per key of :data:`FIELDS`, (E,) floats or None (not logged
    that epoch). ``missing`` names each field with no value in any epoch and why (shown instead of a blank)."""

    run_dir: str
    epochs: tuple[int, ...]
    values: dict[str, tuple[float | None, ...]]
    missing: dict[str, str] = field(default_factory=dict)

    def last(self, key: str) -> float | None:
        """The field's value at the last epoch that logged it (None when none did)."""
        return next((v for v in reversed(self.values.get(key, ())) if v is not None), None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``run_dir``, ``epoch`` and one list per field, ``missing``."""
        return (
            {"run_dir": self.run_dir, "epoch": list(self.epochs)}
            | {k: list(v) for k, v in self.values.items()}
            | {"missing": dict(self.missing)}
        )


def _number(value: Any) -> float | None:
    """A finite float, else None (JSON null, NaN, text)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _why_missing(key: str, rows: list[dict[str, Any]]) -> str:
    """Why ``key`` has no value in any of ``rows`` (the progress records)."""
    if not rows:
        return "no epoch logged yet (progress.jsonl is missing or empty)"
    if not any(key in r for r in rows):
        return "not logged: this run was trained before the trainer recorded it; retrain to see it"
    flagged = any((_number(r.get("flagged_share")) or 0.0) > 0 for r in rows)
    if key == "flagged_cross_class" and flagged:
        return "not logged: the training data has no labels, and the cross-class share needs them"
    return "no flagged pairs in the logged batches"


def difficulty_series(run_dir: str | os.PathLike[str]) -> DifficultySeries:
    """The per-epoch series of one run (every key of :data:`FIELDS`) from ``run_dir/progress.jsonl``.

    Records without an integer ``epoch`` are skipped; an epoch logged twice (a resumed run) keeps its last
    record; epochs are ascending. A torn last line is skipped (``core.io.read_jsonl``). Values that are
    null, NaN or not numbers are None.
    """
    run = Path(run_dir)
    by_epoch: dict[int, dict[str, Any]] = {}
    for rec in read_jsonl(run / "progress.jsonl"):
        epoch = rec.get("epoch")
        if isinstance(epoch, int) and not isinstance(epoch, bool):
            by_epoch[epoch] = rec
    epochs = tuple(sorted(by_epoch))
    rows = [by_epoch[e] for e in epochs]
    values = {k: tuple(_number(r.get(k)) for r in rows) for k in FIELDS}
    missing = {k: _why_missing(k, rows) for k, v in values.items() if all(x is None for x in v)}
    return DifficultySeries(str(run), epochs, values, missing)
