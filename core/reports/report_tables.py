"""The report's tables of runs: one row per run, deltas vs the unpruned parent, ratio curves, settings and
the CSV exports (figures and the HTML report are in ``core.reports.report``).

Records come from ``core.reports.records.load_records``; seed groups are
``core.reports.compare.group_table`` (the one grouping rule), shown by
``core.reports.compare_tables.group_display``. Everything here is a pure function of a list of records.
Accuracies are fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.reports.compare import UNPRUNED, group_table
from core.reports.labels import run_labels

#: States whose run gets a ``note`` (its message) in the tables; unreadable runs join no group.
NOTED_STATES = ("unreadable", "interrupted")
#: the group table's columns in the summary CSV (lists joined as "a, b"; fractions, not percent)
SUMMARY_COLUMNS = [
    "label", "dataset", "loss_mode", "prune_score", "prune_ratio", "probe", "n", "seeds",
    "linear_mean", "linear_std", "linear_ci_low", "linear_ci_high",
    "knn_mean", "knn_std", "knn_ci_low", "knn_ci_high", "note", "run_ids",
]  # fmt: skip
SETTINGS_KEYS = (
    "preset",
    "arch",
    "epochs",
    "batch_size",
    "lr",
    "temperature",
    "loss_mode",
    "pos_high",
    "pos_low",
    "sigma",
    "rho",
    "beta",
    "tau_plus",
    "mix",
    "mix_lambda",
    "seed",
    "device",
)


def note(row: dict[str, Any]) -> str | None:
    """The message of an ``unreadable`` or ``interrupted`` run (else None): what a reader must know."""
    return row.get("message") if row.get("state") in NOTED_STATES else None


def runs_table(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per run with its label (``core.reports.labels``) and the grouping keys filled in
    (unpruned runs: score "none", ratio 0)."""
    cols = [
        "run_id",
        "label",
        "dataset",
        "loss_mode",
        "prune_score",
        "prune_ratio",
        "seed",
        "linear_acc",
        "knn_acc",
        "parent",
        "state",
        "epochs",
        "n_kept",
        "note",
    ]
    labels = run_labels(records)
    rows = [{**{c: r.get(c) for c in cols}, "label": x, "note": note(r)} for r, x in zip(records, labels, strict=True)]
    frame = pd.DataFrame(rows, columns=cols)
    frame["prune_score"] = frame["prune_score"].fillna(UNPRUNED).astype(str)
    frame["prune_ratio"] = pd.to_numeric(frame["prune_ratio"], errors="coerce").fillna(0.0).astype(float)
    for c in ("linear_acc", "knn_acc"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    frame["dataset"] = frame["dataset"].fillna("?").astype(str)
    frame["loss_mode"] = frame["loss_mode"].fillna("?").astype(str)
    return frame


def parent_deltas(table: pd.DataFrame) -> pd.DataFrame:
    """Each pruned run against its unpruned parent: delta_linear, delta_knn (child - parent).

    The parent is matched by run id (the last path component of ``parent``); runs whose parent
    is gone or has no metrics, and unreadable runs, are left out.
    """
    table = table[table["state"] != "unreadable"]
    by_id = table.set_index("run_id")
    rows = []
    for r in table.itertuples(index=False):
        if not r.parent or pd.isna(r.linear_acc):
            continue
        pid = Path(str(r.parent)).name
        if pid not in by_id.index or pd.isna(by_id.at[pid, "linear_acc"]):
            continue
        p = by_id.loc[pid]
        rows.append(
            {
                "run_id": r.run_id,
                "parent": pid,
                "dataset": r.dataset,
                "loss_mode": r.loss_mode,
                "prune_score": r.prune_score,
                "prune_ratio": r.prune_ratio,
                "seed": r.seed,
                "linear_acc": r.linear_acc,
                "parent_linear_acc": p["linear_acc"],
                "delta_linear": r.linear_acc - p["linear_acc"],
                "knn_acc": r.knn_acc,
                "parent_knn_acc": p["knn_acc"],
                "delta_knn": r.knn_acc - p["knn_acc"],
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "run_id",
            "parent",
            "dataset",
            "loss_mode",
            "prune_score",
            "prune_ratio",
            "seed",
            "linear_acc",
            "parent_linear_acc",
            "delta_linear",
            "knn_acc",
            "parent_knn_acc",
            "delta_knn",
        ],
    )


def curve_panels(grouped: pd.DataFrame) -> list[tuple[str, str]]:
    """(dataset, loss_mode) combinations that have at least one pruned group, sorted."""
    pruned = grouped[grouped["prune_score"] != UNPRUNED]
    return sorted({(d, m) for d, m in zip(pruned["dataset"], pruned["loss_mode"], strict=True)})


def settings_table(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Per-run settings (config keys in SETTINGS_KEYS) and provenance (commit, device, wall time)."""
    rows = []
    for r in records:
        cfg, man = r.get("config") or {}, r.get("manifest") or {}
        rows.append(
            {
                "run_id": r["run_id"],
                "dataset": r.get("dataset"),
                **{k: cfg.get(k) for k in SETTINGS_KEYS},
                "prune": f"{r['prune_score']} {r['prune_ratio']}" if r.get("prune_score") else "",
                "parent": Path(str(r["parent"])).name if r.get("parent") else "",
                "git_commit": str(man.get("git_commit") or "")[:10],
                "device": man.get("device"),
                "wall_time_s": round(float(man["wall_time_s"]), 1) if man.get("wall_time_s") else None,
            }
        )
    return pd.DataFrame(rows)


def summary_csv(records: Sequence[dict[str, Any]]) -> str:
    """``core.reports.compare.group_table`` as CSV: :data:`SUMMARY_COLUMNS` (fractions, not percent)."""
    groups = group_table(records)
    if groups.empty:
        return str(pd.DataFrame(columns=SUMMARY_COLUMNS).to_csv(index=False))
    out = groups[SUMMARY_COLUMNS].copy()
    for col in ("seeds", "run_ids"):
        out[col] = [", ".join(str(v) for v in vals) for vals in out[col]]
    return str(out.to_csv(index=False))


def runs_csv(records: Sequence[dict[str, Any]]) -> str:
    """One line per run: grouping keys, accuracies and the delta vs the parent (fractions)."""
    table = runs_table(records)
    deltas = parent_deltas(table)[["run_id", "delta_linear", "delta_knn"]]
    return str(table.merge(deltas, on="run_id", how="left").to_csv(index=False))
