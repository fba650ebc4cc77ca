"""Run labels: the one rule that names a run (or a group of runs) in every view.

A label is ``dataset [· mix ω] · loss mode [· score ratio%] [· key value ...] [· probe (...)]``, e.g.
``digits · mix 0.2 · baseline · band 20% · lr 0.01``. The trailing ``key value`` parts are the config
keys (all but :data:`core.reports.records.IGNORED_CONFIG`) whose values differ between this run and the
other runs in view that share its dataset, mix, loss mode and pruning, and the probe settings when
those differ: two configurations that group apart (``core.reports.compare.config_key``) never share a
label. The seed is not part of a label (runs of one configuration over seeds share it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.reports.records import IGNORED_CONFIG, config_of

#: config keys a label always names in its fixed parts (so never again as ``key value``).
NAMED = frozenset({"dataset", "mix", "loss_mode", "prune_score", "prune_ratio"})
SEP = " · "


def fmt_value(value: Any) -> str:
    """A config value as a label shows it: numbers in their shortest exact form, lists compact, None ``–``."""
    if value is None:
        return "–"
    if isinstance(value, (bool, int, float, str)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def pruning_text(score: Any, ratio: Any) -> str:
    """``"band 25%"`` for a pruned run, "" for an unpruned one (no score; NaN counts as none)."""
    if not isinstance(score, str) or not score or score.lower() in ("nan", "none"):
        return ""
    try:
        value = 100 * float(ratio)
    except (TypeError, ValueError):
        return score
    return f"{score} {value:g}%" if value == value and abs(value) != float("inf") else score


def base_label(rec: dict[str, Any], cfg: dict[str, Any] | None = None) -> str:
    """The fixed parts: dataset with any Mixed-ω, loss mode, pruning (``cfg``: the run's config, read
    when not given)."""
    cfg = config_of(rec) if cfg is None else cfg
    mix = cfg.get("mix", rec.get("mix"))
    parts = [str(rec.get("dataset") or cfg.get("dataset") or "?")]
    if isinstance(mix, (int, float)) and mix > 0:
        parts.append(f"mix {fmt_value(mix)}")
    parts.append(str(rec.get("loss_mode") or cfg.get("loss_mode") or "?"))
    parts.append(pruning_text(rec.get("prune_score"), rec.get("prune_ratio")))
    return SEP.join(p for p in parts if p)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def run_labels(recs: Sequence[dict[str, Any]]) -> list[str]:
    """The label of each record among all of them (the runs in view), in order.

    ``recs``: records (``core.reports.records.load_records``) or run summaries (their ``config.json``
    is then read from ``run_dir``, once each).
    """
    configs = [config_of(r) for r in recs]
    bases = [base_label(r, c) for r, c in zip(recs, configs, strict=True)]
    labels = []
    for base, rec, own in zip(bases, recs, configs, strict=True):
        peers = [i for i, b in enumerate(bases) if b == base]
        keys = sorted(set().union(*(configs[i] for i in peers)) - IGNORED_CONFIG - NAMED)
        parts = [base]
        parts += [f"{k} {fmt_value(own.get(k))}" for k in keys if len({_canon(configs[i].get(k)) for i in peers}) > 1]
        if len({recs[i].get("probe") for i in peers if recs[i].get("probe")}) > 1 and rec.get("probe"):
            parts.append(f"probe ({rec['probe']})")
        labels.append(SEP.join(parts))
    return labels


def distinct_labels(recs: Sequence[dict[str, Any]]) -> list[str]:
    """:func:`run_labels`, made unique: a label that still repeats (values equal once printed) gets the
    record's run id appended. For one record per configuration (a group's first run)."""
    labels = run_labels(recs)
    return [
        f"{label}{SEP}{rec.get('run_id')}" if labels.count(label) > 1 else label
        for label, rec in zip(labels, recs, strict=True)
    ]
