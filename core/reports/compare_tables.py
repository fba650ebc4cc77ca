"""Display tables of ``core.reports.compare``'s tables, for the Compare page and the HTML report alike:
the seed groups (:func:`group_display`) and the paired pruning comparisons (:func:`pair_display`).
Accuracies in percent, differences in percentage points."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.reports.compare import pair_table

#: what the interval, the test and "within noise" mean, in one caption.
PAIR_CAPTION = (
    "Paired over the same test images: Δ = pruned run − other run; 95% CI = paired bootstrap of Δ "
    "over test samples; McNemar p = exact test on the images only one of the two gets right; "
    "“within noise” = the interval contains 0."
)


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def pm(mean: Any, std: Any, n: int) -> str:
    """``"91.23 ± 0.45 (n=3)"`` in percent; the std is left out for one seed; ``"–"`` without a mean."""
    mean, std = _num(mean), _num(std)
    if mean != mean:
        return "–"
    return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if n > 1 and std == std else "") + f" (n={n})"


def ci_text(low: Any, high: Any, n: int) -> str:
    """A group's 95 % interval (``core.analysis.stats.seed_summary``) in percent, ``"[90.10, 93.90]"``;
    ``"undefined (n=1)"`` when there is none."""
    low, high = _num(low), _num(high)
    if n < 2 or low != low or high != high:
        return f"undefined (n={n})"
    return f"[{100 * low:.2f}, {100 * high:.2f}]"


def group_display(groups: pd.DataFrame) -> pd.DataFrame:
    """``core.reports.compare.group_table`` as reviewers read it: the configuration's label, mean ± std
    and the Student-t 95 % interval in percent, the pruned share in percent, the seed list with n."""
    rows = []
    for g in groups.to_dict(orient="records"):
        row = {
            "configuration": g["label"],
            "dataset": g["dataset"],
            "loss mode": g["loss_mode"],
            "prune score": g["prune_score"],
            "pruned %": round(100 * g["prune_ratio"], 1),
            "probe": g["probe"],
        }
        for m, name in (("linear", "linear probe"), ("knn", "kNN")):
            row[f"{name} %"] = pm(g[f"{m}_mean"], g[f"{m}_std"], g["n"])
            row[f"{name.split()[0]} 95% CI"] = ci_text(g[f"{m}_ci_low"], g[f"{m}_ci_high"], g["n"])
        row["seeds"] = g["seeds_text"]
        row["note"] = g["note"] if isinstance(g.get("note"), str) else ""
        rows.append(row)
    return pd.DataFrame(rows)


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

    ``records``: ``core.reports.records.load_records``; the fragment is an ``<h2>``, a caption saying
    what the interval, the test and "within noise" mean, a table.
    """
    pairs = pair_table(records or [], n_boot=n_boot)
    if pairs.empty:
        return "<h2>Pruning comparisons</h2><p class='note'>No pruned run with a probed parent yet.</p>"
    mismatch = "<p class='note'><b>Warning:</b> some pairs were probed differently (see note).</p>"
    return (
        f"<h2>Pruning comparisons</h2><p class='note'>{html.escape(PAIR_CAPTION)}</p>"
        + (mismatch if pairs["protocol_mismatch"].any() else "")
        + str(pair_display(pairs).to_html(index=False, na_rep="–"))
    )
