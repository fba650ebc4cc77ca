"""The comparison tables of runs: records, seed-grouped accuracies, deltas vs the unpruned parent,
ratio curves, display tables and CSV exports (figures and the HTML report are in ``core.reports.report``).

A *record* is ``core.rundir.folder.run_summary(run_dir)`` with ``config`` and ``manifest`` dicts added
(see :func:`collect`). Everything else here is a pure function of a list of records.
Accuracies are fractions in [0, 1]; the std over seeds is the sample std (ddof=1, NaN for 1 seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats as sps

from core.errors import HardpairsError
from core.reports.compare_tables import pair_display, pruning_comparisons_html
from core.rundir.folder import list_runs, read_run_json

GROUP_KEYS = ["dataset", "loss_mode", "prune_score", "prune_ratio"]
UNPRUNED = "none"
#: States whose run gets a ``note`` (its message) in the tables; unreadable runs join no group.
NOTED_STATES = ("unreadable", "interrupted")
BASELINE_SCORE = "random"
#: the paired pruning comparisons for the HTML report live in core.reports.compare_tables (re-exported here)
__all__ = ["pair_display", "pruning_comparisons_html"]
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


def _readable_json(path: Path, name: str) -> dict[str, Any]:
    try:
        return read_run_json(path, name)
    except HardpairsError:
        return {}  # the summary row already says "unreadable: <name>: <reason>"


def collect(root: str | Path | None = None) -> list[dict[str, Any]]:
    """Records of every run under ``root``: run summary + ``config`` + ``manifest`` ({} when unreadable)."""
    out = []
    for row in list_runs(root):
        path = Path(row["run_dir"])
        out.append(
            {**row, "config": _readable_json(path, "config.json"), "manifest": _readable_json(path, "manifest.json")}
        )
    return out


def note(row: dict[str, Any]) -> str | None:
    """The message of an ``unreadable`` or ``interrupted`` run (else None): what a reader must know."""
    return row.get("message") if row.get("state") in NOTED_STATES else None


def runs_table(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per run with the grouping keys filled in (unpruned runs: score "none", ratio 0)."""
    cols = [
        "run_id",
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
    frame = pd.DataFrame([{**{c: r.get(c) for c in cols}, "note": note(r)} for r in records], columns=cols)
    frame["prune_score"] = frame["prune_score"].fillna(UNPRUNED).astype(str)
    frame["prune_ratio"] = pd.to_numeric(frame["prune_ratio"], errors="coerce").fillna(0.0).astype(float)
    for c in ("linear_acc", "knn_acc"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    frame["dataset"] = frame["dataset"].fillna("?").astype(str)
    frame["loss_mode"] = frame["loss_mode"].fillna("?").astype(str)
    return frame


def group_runs(table: pd.DataFrame) -> pd.DataFrame:
    """Mean/std of linear and kNN accuracy over seeds per (dataset, loss mode, score, ratio).

    Returns columns GROUP_KEYS + linear_mean, linear_std, knn_mean, knn_std, n_seeds, seeds,
    run_ids; runs without metrics, and unreadable runs, are left out.
    """
    have = table.dropna(subset=["linear_acc"])
    have = have[have["state"] != "unreadable"]
    cols = GROUP_KEYS + ["linear_mean", "linear_std", "knn_mean", "knn_std", "n_seeds", "seeds", "run_ids"]
    if have.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for key, g in have.groupby(GROUP_KEYS, sort=True):
        rows.append(
            {
                **dict(zip(GROUP_KEYS, key, strict=True)),
                "linear_mean": g["linear_acc"].mean(),
                "linear_std": g["linear_acc"].std(ddof=1),
                "knn_mean": g["knn_acc"].mean(),
                "knn_std": g["knn_acc"].std(ddof=1),
                "n_seeds": len(g),
                "seeds": ", ".join(str(s) for s in sorted(g["seed"].dropna().tolist())),
                "run_ids": ", ".join(g["run_id"]),
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    order = out["prune_score"].map(lambda s: (s != UNPRUNED, s == BASELINE_SCORE, s))
    return (
        out.assign(_o=order)
        .sort_values(["dataset", "loss_mode", "_o", "prune_ratio"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


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


def ratio_curves(grouped: pd.DataFrame, dataset: str, loss_mode: str, metric: str = "linear") -> pd.DataFrame:
    """Points of accuracy-vs-ratio lines: columns score, ratio, mean, std, n_seeds.

    Every score's line starts at ratio 0 with the unpruned group of the same dataset and loss
    mode (when it exists), so each line shows the change from keeping everything.
    """
    sel = grouped[(grouped["dataset"] == dataset) & (grouped["loss_mode"] == loss_mode)]
    base = sel[sel["prune_score"] == UNPRUNED]
    rows = []
    for score in sorted(set(sel["prune_score"]) - {UNPRUNED}):
        pts = pd.concat([base, sel[sel["prune_score"] == score]])
        for r in pts.itertuples(index=False):
            rows.append(
                {
                    "score": score,
                    "ratio": r.prune_ratio,
                    "mean": getattr(r, f"{metric}_mean"),
                    "std": getattr(r, f"{metric}_std"),
                    "n_seeds": r.n_seeds,
                }
            )
    return (
        pd.DataFrame(rows, columns=["score", "ratio", "mean", "std", "n_seeds"])
        .sort_values(["score", "ratio"], kind="stable")
        .reset_index(drop=True)
    )


def pm(mean: float, std: float, n: int) -> str:
    """``"91.23 ± 0.45 (n=3)"`` in percent; the std is left out for one seed."""
    if mean != mean:
        return "–"
    return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if n > 1 and std == std else "") + f" (n={n})"


def ci_text(mean: float, std: float, n: int) -> str:
    """Student-t 95 % interval of the mean over n seeds in percent, ``"[90.1, 93.9]"``; n=1: ``"undefined (n=1)"``."""
    if n < 2 or std != std or mean != mean:
        return f"undefined (n={n})"
    half = float(sps.t.ppf(0.975, n - 1)) * std / n**0.5
    return f"[{100 * (mean - half):.2f}, {100 * (mean + half):.2f}]"


def summary_display(grouped: pd.DataFrame) -> pd.DataFrame:
    """The grouped table as reviewers read it: mean ± std and 95 % interval in percent, ratio in percent,
    the seed list with n."""
    n = grouped["n_seeds"]
    out = pd.DataFrame(
        {
            "dataset": grouped["dataset"],
            "loss mode": grouped["loss_mode"],
            "prune score": grouped["prune_score"],
            "pruned %": (100 * grouped["prune_ratio"]).round(1),
            "linear probe %": [
                pm(m, s, n)
                for m, s, n in zip(grouped["linear_mean"], grouped["linear_std"], grouped["n_seeds"], strict=True)
            ],
            "kNN %": [
                pm(m, s, n) for m, s, n in zip(grouped["knn_mean"], grouped["knn_std"], grouped["n_seeds"], strict=True)
            ],
            "seeds": [f"seed{'s' * (k != 1)} {s} (n={k})" for s, k in zip(grouped["seeds"], n, strict=True)],
        }
    )
    for col, m in (("linear 95% CI", "linear"), ("kNN 95% CI", "knn")):
        means, stds = grouped[f"{m}_mean"], grouped[f"{m}_std"]
        out.insert(len(out.columns) - 1, col, [ci_text(a, b, k) for a, b, k in zip(means, stds, n, strict=True)])
    return out


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
    """The seed-grouped table as CSV (fractions, not percent)."""
    return str(group_runs(runs_table(records)).to_csv(index=False))


def runs_csv(records: Sequence[dict[str, Any]]) -> str:
    """One line per run: grouping keys, accuracies and the delta vs the parent (fractions)."""
    table = runs_table(records)
    deltas = parent_deltas(table)[["run_id", "delta_linear", "delta_knn"]]
    return str(table.merge(deltas, on="run_id", how="left").to_csv(index=False))
