"""The report's summary in words: what was run, and each comparison of a pruned configuration as one sentence.

- :func:`comparisons` folds ``core.reports.compare.pair_table`` over seeds: one row per (pruned
  configuration, what it is compared with, metric). The configuration is the seed group of
  ``core.reports.compare.group_table`` (THE grouping rule) that holds the pruned run.
- The interval of a comparison over n >= 2 seeds is the Student-t 95 % interval
  (``core.analysis.stats.seed_summary``) of the per-seed paired differences: it holds seed-to-seed
  *and* test-set noise. With one seed it is the paired bootstrap over the test images
  (``pair_table``'s ``ci_low``/``ci_high``): test-set noise only, and the sentence says so.
  The verdict is ``core.analysis.stats.verdict`` of that interval.
- :func:`comparison_sentence` writes one row as
  ``"digits · mix 0.2 · baseline · band 20%: −0.65 pp linear-probe accuracy vs unpruned [−2.10, +0.80]
  over 3 seeds; within noise."`` (the Compare page and the report share it).
- :func:`format_p` prints a p-value (``"< 0.001"``, never ``"0"``); :func:`run_overview` says what was run.

Differences are fractions in the tables and percentage points (pp) in the text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from core.analysis.stats import seed_summary, verdict
from core.reports.compare import BASELINE_SCORE
from core.reports.labels import pruning_text

METRIC_NAMES = {"linear": "linear-probe accuracy", "knn": "kNN accuracy"}
#: the columns of :func:`comparisons` (diffs: per-seed differences, fractions; interval from "seeds" or "test set")
COMPARISON_COLUMNS = [
    "label", "against", "other", "metric", "n", "seeds", "diffs", "diff", "ci_low", "ci_high", "interval",
    "verdict", "paired", "run_ids",
]  # fmt: skip
MINUS = "\u2212"


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def format_p(p: Any) -> str:
    """A p-value as a reader reads it: ``"< 0.001"`` below 0.001, else three decimals; ``"–"`` when missing."""
    if not _finite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def signed_pp(value: Any) -> str:
    """A difference (a fraction) in points with its sign and a true minus: ``"−0.65"``, ``"+1.20"``."""
    if not _finite(value):
        return "–"
    text = f"{100 * value:+.2f}"
    return text.replace("-", MINUS)


def _other_text(against: str, score: Any, ratio: Any) -> str:
    """What the pruned configuration is compared with: "unpruned" (its parent) or "random 20%"."""
    if against == "parent":
        return "unpruned"
    return pruning_text(BASELINE_SCORE, ratio) or BASELINE_SCORE


def comparisons(pairs: pd.DataFrame, groups: pd.DataFrame, metric: str | None = "linear") -> pd.DataFrame:
    """``pair_table`` rows folded over seeds (module docstring); ``metric`` None keeps both metrics.

    Args:
        pairs: ``core.reports.compare.pair_table(records)``. groups: ``group_table(records)``.

    Returns:
        :data:`COMPARISON_COLUMNS`, in the order of the group table.
    """
    if pairs.empty or groups.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    owner = {rid: i for i, ids in enumerate(groups["run_ids"]) for rid in ids}
    chosen = pairs if metric is None else pairs[pairs["metric"] == metric]
    rows = []
    for (gi, against, m), sub in chosen.groupby(
        [chosen["run_id"].map(owner), "against", "metric"], sort=True, dropna=True
    ):
        rows.append(_fold(groups.iloc[int(gi)], str(against), str(m), sub.sort_values("seed")))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _fold(group: pd.Series, against: str, metric: str, sub: pd.DataFrame) -> dict[str, Any]:
    """One comparison from the pair rows of one pruned configuration (one row per seed)."""
    paired = [_finite(d) for d in sub["diff"]]
    diffs = [float(d) if ok else float(a) - float(o) for d, a, o, ok in
             zip(sub["diff"], sub["acc"], sub["other_acc"], paired, strict=True)]  # fmt: skip
    diffs = [d for d in diffs if _finite(d)]
    row: dict[str, Any] = {
        "label": group["label"],
        "against": against,
        "other": _other_text(against, group["prune_score"], group["prune_ratio"]),
        "metric": metric,
        "n": len(diffs),
        "seeds": sub["seed"].tolist(),
        "diffs": diffs,
        "diff": None,
        "ci_low": None,
        "ci_high": None,
        "interval": None,
        "verdict": None,
        "paired": all(paired),
        "run_ids": sub["run_id"].tolist(),
    }
    if not diffs:
        return row
    s = seed_summary(diffs)
    row["diff"] = s.mean
    if s.n >= 2:
        row.update(ci_low=s.ci_low, ci_high=s.ci_high, interval="seeds")
    elif paired[0] and _finite(sub["ci_low"].iloc[0]):
        row.update(ci_low=float(sub["ci_low"].iloc[0]), ci_high=float(sub["ci_high"].iloc[0]), interval="test set")
    if row["interval"]:
        row["verdict"] = verdict((row["ci_low"], row["ci_high"]))
    return row


def comparison_sentence(row: Mapping[str, Any]) -> str:
    """One comparison (a row of :func:`comparisons`) as a sentence with its delta, interval and verdict."""
    n = int(row["n"])
    metric = METRIC_NAMES.get(str(row["metric"]), str(row["metric"]))
    head = f"{row['label']}: "
    if n == 0 or not _finite(row["diff"]):
        return head + f"no {metric} to compare with {row['other']} yet."
    text = f"{head}{signed_pp(row['diff'])} pp {metric} vs {row['other']}"
    if row["interval"]:
        text += f" [{signed_pp(row['ci_low'])}, {signed_pp(row['ci_high'])}]"
    text += f" over {n} seed{'s' * (n != 1)}"
    if row["interval"] == "seeds":
        return text + f"; {row['verdict']} (95 % interval over seeds)."
    if row["interval"] == "test set":
        return text + f"; {row['verdict']} (test-set noise only: 1 seed)."
    reason = "1 seed and no per-sample predictions" if n == 1 else "no interval"
    return text + f"; no interval ({reason}: re-probe with `python -m core probe`)."


def _counts(values: Sequence[Any]) -> str:
    """``"digits (3), cifar10 (1)"``: each distinct value with how many runs have it, most first."""
    series = pd.Series([str(v) for v in values]).value_counts(sort=True)
    return ", ".join(f"{k} ({int(v)})" for k, v in series.items())


def run_overview(records: Sequence[dict[str, Any]]) -> list[str]:
    """What was run, as short sentences: runs and states, datasets (with any Mixed-ω), seeds, loss
    modes, pruned retrains (``records``: ``core.reports.records.load_records``)."""
    if not records:
        return ["No runs were found."]
    states = ", ".join(f"{n} {state}" for state, n in pd.Series([r.get("state") or "?" for r in records])
                       .value_counts().items())  # fmt: skip
    data = []
    for r in records:
        mix = (r.get("config") or {}).get("mix")
        share = f" mix {float(mix):g}" if isinstance(mix, (int, float)) and math.isfinite(mix) and mix > 0 else ""
        data.append(f"{r.get('dataset') or '?'}{share}")
    seeds = sorted({int(r["seed"]) for r in records if isinstance(r.get("seed"), int)})
    pruned = [pruning_text(r.get("prune_score"), r.get("prune_ratio")) for r in records if r.get("prune_score")]
    lines = [
        f"{len(records)} run{'s' * (len(records) != 1)}: {states}.",
        f"Datasets: {_counts(data)}.",
        f"Seeds: {', '.join(str(s) for s in seeds) or 'none recorded'}.",
        f"Loss modes: {_counts([r.get('loss_mode') or '?' for r in records])}.",
        f"Pruned retrains: {_counts(pruned)}." if pruned else "Pruned retrains: none.",
    ]
    return lines
