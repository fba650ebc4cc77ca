"""Pure text for the app: state icons, accuracies, run selector labels (no Streamlit calls)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.reports import labels as core_labels

#: markdown icons of job/run states (Material icons ship with Streamlit; emoji fonts may be missing)
STATE_ICONS = {
    "done": ":material/check_circle:",
    "running": ":material/progress_activity:",
    "queued": ":material/schedule:",
    "failed": ":material/error:",
    "cancelled": ":material/stop_circle:",
    "interrupted": ":material/pause_circle:",
    "unreadable": ":material/broken_image:",
}


def fmt_acc(value: Any) -> str:
    """An accuracy in [0, 1] as ``"93.4%"``; ``"–"`` when missing."""
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{100 * float(value):.1f}%"


def selector_labels(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Selector label of each row among ``rows`` (the runs in view): its ``core.reports.labels`` label
    (dataset with any Mixed-ω, loss mode, pruning, the config keys that differ) · seed · state · linear
    accuracy — run id."""
    recs = [dict(r) for r in rows]
    return [
        f"{label} · s{r.get('seed')} · {r.get('state') or '?'} · {fmt_acc(r.get('linear_acc'))} — {r['run_id']}"
        for r, label in zip(recs, core_labels.run_labels(recs), strict=True)
    ]


def sidebar_labels(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """:func:`selector_labels` by ``run_dir`` (the sidebar's options)."""
    return {str(r["run_dir"]): label for r, label in zip(rows, selector_labels(rows), strict=True)}
