"""The report's tables of runs: one row per run, deltas vs the unpruned parent, ratio curves, the CSV
exports, and the printed tables (figures and the HTML report are in ``core.reports.report``).

Records come from ``core.reports.records.load_records``; seed groups are
``core.reports.compare.group_table`` (the one grouping rule). Accuracies are fractions in [0, 1] in the
data and the CSVs; the printed tables (``*_display``, :func:`groups_print`) show percent and differences
in points, name runs by their short names (:func:`short_ids`, legend: :func:`legend_display`) and become
report blocks through :func:`grid_block`. Everything here is a pure function of its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.analysis.stats import N1_NOTE
from core.reports.compare import UNPRUNED, group_table
from core.reports.labels import run_labels

#: States whose run gets a ``note`` (its message) in the tables; unreadable runs join no group.
NOTED_STATES = ("unreadable", "interrupted")
#: printed columns that hold a run label (given room so that it wraps into few lines)
WIDE = ("configuration",)
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


def short_ids(table: pd.DataFrame) -> dict[str, str]:
    """``{run_id: "R1", ...}``: the short names the printed tables use (legend: :func:`legend_display`),
    numbered by label, then seed, then run id, so a parent and its retrains sit together."""
    order = table.assign(_s=pd.to_numeric(table["seed"], errors="coerce")).sort_values(
        ["label", "_s", "run_id"], na_position="last", kind="stable"
    )
    return {str(rid): f"R{i}" for i, rid in enumerate(order["run_id"], start=1)}


def _pct(v: Any) -> str:
    return "–" if v is None or v != v else f"{100 * float(v):.2f}"


def grid_block(
    frame: pd.DataFrame, ids: Sequence[str] = (), text: Sequence[str] = (), caption: str = ""
) -> dict[str, Any]:
    """A table as a report block (macro ``grid``): cells as text (``–`` when missing), each column's class
    ``id`` (long ids: may break anywhere), ``text`` (wraps between words) or ``num`` (never wraps);
    ``caption`` is printed above it, on the same page."""
    kinds = ["id" if c in ids else "wide" if c in WIDE else "text" if c in text else "num" for c in frame.columns]
    rows = [["–" if v is None or (isinstance(v, float) and v != v) else str(v) for v in row]
            for row in frame.itertuples(index=False)]  # fmt: skip
    return {
        "kind": "grid",
        "columns": [str(c) for c in frame.columns],
        "classes": kinds,
        "rows": rows,
        "caption": caption,
    }


def legend_display(table: pd.DataFrame, ids: dict[str, str]) -> pd.DataFrame:
    """The runs' legend: short name, run id, label, seed, state, accuracies in percent, note."""
    frame = pd.DataFrame(
        {
            "run": [ids[str(r)] for r in table["run_id"]],
            "run id": table["run_id"],
            "configuration": table["label"],
            "seed": table["seed"],
            "state": table["state"],
            "linear %": [_pct(v) for v in table["linear_acc"]],
            "kNN %": [_pct(v) for v in table["knn_acc"]],
            "note": table["note"],
        }
    )
    order = [int(str(r)[1:]) for r in frame["run"]]
    return frame.assign(_o=order).sort_values("_o").drop(columns="_o")


def deltas_display(deltas: pd.DataFrame, ids: dict[str, str]) -> pd.DataFrame:
    """Each pruned run's change vs its parent, in points, with short run names."""
    from core.reports.labels import pruning_text
    from core.reports.summary import signed_pp

    return pd.DataFrame(
        {
            "run": [ids.get(str(r), str(r)) for r in deltas["run_id"]],
            "parent": [ids.get(str(r), str(r)) for r in deltas["parent"]],
            "pruning": [pruning_text(s, r) for s, r in zip(deltas["prune_score"], deltas["prune_ratio"], strict=True)],
            "seed": deltas["seed"],
            "linear %": [_pct(v) for v in deltas["linear_acc"]],
            "linear Δ (pp)": [signed_pp(v) for v in deltas["delta_linear"]],
            "kNN %": [_pct(v) for v in deltas["knn_acc"]],
            "kNN Δ (pp)": [signed_pp(v) for v in deltas["delta_knn"]],
        }
    )


def pairs_display(pairs: pd.DataFrame, ids: dict[str, str]) -> pd.DataFrame:
    """``core.reports.compare.pair_table`` for print: short run names, accuracies in percent, Δ and its
    paired-bootstrap interval in points, McNemar p (``< 0.001``), verdict."""
    from core.reports.summary import format_p, signed_pp

    def diff(row: Any) -> str:
        d = row.diff if row.diff == row.diff and row.diff is not None else row.acc - row.other_acc
        return signed_pp(d)

    rows = list(pairs.itertuples(index=False))
    return pd.DataFrame(
        {
            "run": [ids.get(str(r.run_id), str(r.run_id)) for r in rows],
            "vs": [f"{r.against} {ids.get(str(r.other_id), str(r.other_id))}" for r in rows],
            "probe": [{"linear": "linear", "knn": "kNN"}.get(str(r.metric), str(r.metric)) for r in rows],
            "run %": [_pct(r.acc) for r in rows],
            "other %": [_pct(r.other_acc) for r in rows],
            "Δ (pp)": [diff(r) for r in rows],
            "95% CI (pp)": [
                f"[{signed_pp(r.ci_low)}, {signed_pp(r.ci_high)}]"
                if r.ci_low == r.ci_low and r.ci_low is not None
                else "–"
                for r in rows
            ],  # fmt: skip
            "McNemar p": [format_p(r.mcnemar_p) for r in rows],
            "verdict": [r.verdict if isinstance(r.verdict, str) else "no test" for r in rows],
        },
        columns=["run", "vs", "probe", "run %", "other %", "Δ (pp)", "95% CI (pp)", "McNemar p", "verdict"],
    )


def pair_notes(pairs: pd.DataFrame, ids: dict[str, str]) -> list[str]:
    """The notes of ``pair_table`` rows (no predictions, probed differently), once each, as
    ``"R3 vs R1: note"`` (they are too long for a table cell)."""
    seen: dict[str, None] = {}
    for r in pairs.itertuples(index=False):
        if isinstance(r.note, str) and r.note:
            seen[f"{ids.get(str(r.run_id), r.run_id)} vs {ids.get(str(r.other_id), r.other_id)}: {r.note}"] = None
    return list(seen)


def groups_print(groups: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The seed groups as the printed summary shows them (configuration, n, mean ± std and the 95 %
    interval in percent) and the groups' notes as ``"label: note"`` lines."""
    from core.reports.compare_tables import ci_text, pm

    frame = pd.DataFrame(
        {
            "configuration": groups["label"],
            "seeds": [", ".join(str(s) for s in seeds) for seeds in groups["seeds"]],
            **{
                col: [pm(g[f"{m}_mean"], g[f"{m}_std"], g["n"]) for g in groups.to_dict(orient="records")]
                for m, col in (("linear", "linear probe %"), ("knn", "kNN %"))
            },
        }
    )
    for m, col, at in (("linear", "linear 95% CI", 3), ("knn", "kNN 95% CI", 5)):
        cis = zip(groups[f"{m}_ci_low"], groups[f"{m}_ci_high"], groups["n"], strict=True)
        frame.insert(at, col, [ci_text(a, b, n) for a, b, n in cis])
    notes = [g["note"] if g["note"] == N1_NOTE else f"{g['label']}: {g['note']}"
             for g in groups.to_dict(orient="records") if isinstance(g.get("note"), str)]  # fmt: skip
    return frame, list(dict.fromkeys(notes))


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
