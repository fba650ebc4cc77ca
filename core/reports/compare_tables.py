"""Display tables of the paired pruning comparisons (``core.reports.compare.pair_table``) for the Compare
page and the HTML report; re-exported by ``core.reports.report_tables``."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.reports.compare import load_records, pair_table

#: what the interval, the test and "within noise" mean, in one caption.
PAIR_CAPTION = (
    "Paired over the same test images: Δ = pruned run − other run; 95% CI = paired bootstrap of Δ "
    "over test samples; McNemar p = exact test on the images only one of the two gets right; "
    "“within noise” = the interval contains 0."
)


def pair_display(pairs: pd.DataFrame) -> pd.DataFrame:
    """``core.reports.compare.pair_table`` as reviewers read it: differences and intervals in points."""

    def pts(v: object) -> str:
        return "–" if v is None or v != v else f"{100 * float(v):+.2f}"  # type: ignore[arg-type]

    return pd.DataFrame(
        {
            "run": pairs["run_id"],
            "vs": pairs["against"],
            "other run": pairs["other_id"],
            "probe": pairs["metric"].map({"linear": "linear", "knn": "kNN"}),
            "Δ (pp)": [pts(v) for v in pairs["diff"]],
            "95% CI (pp)": [
                f"[{pts(a)}, {pts(b)}]" if a == a and a is not None else "–"
                for a, b in zip(pairs["ci_low"], pairs["ci_high"], strict=True)
            ],  # fmt: skip
            "McNemar p": [f"{p:.3g}" if p == p and p is not None else "–" for p in pairs["mcnemar_p"]],
            "verdict": [v if isinstance(v, str) else "no test" for v in pairs["verdict"]],
            "note": [v if isinstance(v, str) else "" for v in pairs["note"]],
        }
    )


def pruning_comparisons_html(records: Sequence[dict[str, Any]] | None = None, n_boot: int = 10000) -> str:
    """HTML fragment for the report: each pruned run vs its parent and vs random pruning (paired tests).

    ``records``: as :func:`collect` (the probe settings are read again from each run folder); the
    fragment is an ``<h2>``, a caption saying what the interval, the test and "within noise" mean, a table.
    """
    rows = load_records(runs=[r["run_dir"] for r in records or []]) if records else []
    pairs = pair_table(rows, n_boot=n_boot)
    if pairs.empty:
        return "<h2>Pruning comparisons</h2><p class='note'>No pruned run with a probed parent yet.</p>"
    mismatch = "<p class='note'><b>Warning:</b> some pairs were probed differently (see note).</p>"
    return (
        f"<h2>Pruning comparisons</h2><p class='note'>{html.escape(PAIR_CAPTION)}</p>"
        + (mismatch if pairs["protocol_mismatch"].any() else "")
        + str(pair_display(pairs).to_html(index=False, na_rep="–"))
    )
