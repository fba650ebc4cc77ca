"""Pure text for the app: state icons, accuracies, run selector labels (no Streamlit calls)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

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


def run_label(row: Mapping[str, Any]) -> str:
    """Selector label: dataset · loss mode [· prune] · seed · state · linear accuracy — run id."""
    prune = ""
    if row.get("prune_score"):
        prune = f" · {row['prune_score']} {100 * float(row.get('prune_ratio') or 0):.0f}%"
    state = row.get("state") or "?"
    return (
        f"{row.get('dataset') or '?'} · {row.get('loss_mode') or '?'}{prune} · s{row.get('seed')} · "
        f"{state} · {fmt_acc(row.get('linear_acc'))} — {row['run_id']}"
    )
