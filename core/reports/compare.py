"""Honest comparisons of runs: seed groups with intervals, and paired tests of pruned retrains.

- **Groups** (:func:`group_table`, the one grouping rule of every view): runs with the same
  configuration except the seed (:func:`config_key`: every ``config.json`` key but
  ``core.reports.records.IGNORED_CONFIG``, plus the pruning score and ratio and the probe settings) are
  one group: mean, sample std and Student-t 95 % interval over its seeds
  (``core.analysis.stats.seed_summary``; with one seed the interval is undefined and ``note`` says so),
  and a label (``core.reports.labels``). A run folder counts once however often it is given.
- **Pairs** (:func:`pair_table`): every pruned child against its unpruned parent, and against the
  random-pruning run of the same parent, ratio, seed and loss mode, on the same test images: exact
  McNemar p, paired bootstrap 95 % interval of the accuracy difference (child - other) and the verdict
  ("better" / "worse" / "within noise"): test-set noise only (``core.reports.noise.add_seed_noise`` adds
  the seed-to-seed side). Both runs need ``predictions.npz`` (written by ``python -m core probe``);
  without it the row says how to make it instead of a test.
- The probe protocol (and kNN k, t) is part of a group's key, and a pair whose two runs were probed
  differently carries ``protocol_mismatch`` = True and a note: two protocols are never set side by
  side silently. Runs probed before protocols existed (no ``protocol`` in metrics.json) used L-BFGS.

:func:`compare_runs` is ``python -m core compare``; the Compare page and the report use the tables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.stats import paired_comparison, seed_summary
from core.reports.labels import distinct_labels
from core.reports.records import IGNORED_CONFIG, config_of, distinct, load_records, one_per_source, probe_signature

UNPRUNED = "none"
BASELINE_SCORE = "random"
METRICS = ("linear", "knn")
#: the columns of :func:`group_table` (fractions; lists for seeds, run_ids, run_dirs)
GROUP_COLUMNS = [
    "key", "label", "dataset", "loss_mode", "prune_score", "prune_ratio", "probe", "n", "seeds", "seeds_text",
    "note", "run_ids", "run_dirs",
    *(f"{m}_{k}" for m in METRICS for k in ("mean", "std", "ci_low", "ci_high")),
]  # fmt: skip
NO_PREDICTIONS = "no per-sample predictions: re-probe with `python -m core probe --run-dir {run}`"
PAIR_COLUMNS = [
    "run_id", "against", "other_id", "dataset", "loss_mode", "prune_score", "prune_ratio", "seed", "metric",
    "acc", "other_acc", "diff", "ci_low", "ci_high", "mcnemar_p", "b", "c", "verdict", "n_test", "point",
    "protocol", "other_protocol", "protocol_mismatch", "note",
]  # fmt: skip


def config_key(rec: dict[str, Any]) -> str:
    """Everything that defines a run's configuration except its seed, as one JSON string: every
    ``config.json`` key but :data:`~core.reports.records.IGNORED_CONFIG`, the pruning and the probe
    signature. THE grouping rule of every view (Compare, ``compare``, the report, the summary CSV)."""
    cfg = {k: v for k, v in config_of(rec).items() if k not in IGNORED_CONFIG}
    cfg.update(
        dataset=rec.get("dataset"),
        loss_mode=rec.get("loss_mode"),
        prune_score=rec.get("prune_score") or UNPRUNED,
        prune_ratio=float(rec.get("prune_ratio") or 0.0),
        probe=probe_of(rec),
    )
    return json.dumps(cfg, sort_keys=True, default=str)


def probe_of(rec: dict[str, Any]) -> str:
    """The record's probe signature (computed from its ``metrics`` when the record has none yet)."""
    return str(rec.get("probe") or probe_signature(rec.get("metrics") or {}))


def seed_list(seeds: Sequence[Any]) -> str:
    """``"seed 0 (n=1)"`` / ``"seeds 0, 1, 2 (n=3)"``: the seeds themselves and how many (never a bare "0")."""
    return f"seed{'s' * (len(seeds) != 1)} {', '.join(str(s) for s in seeds)} (n={len(seeds)})"


def _usable(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct readable runs with a linear accuracy, each with its ``probe`` signature."""
    return [
        {**r, "probe": probe_of(r)}
        for r in one_per_source(distinct(records))  # a run, or one checkpoint imported twice, counts once
        if r.get("state") != "unreadable" and isinstance(r.get("linear_acc"), (int, float))
    ]


def group_table(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per configuration (:func:`config_key`): mean, std, 95 % CI of linear and kNN accuracy over seeds.

    A run folder counts once however often it is given. Columns: key, label
    (``core.reports.labels``: unique per row), dataset, loss_mode, prune_score, prune_ratio, probe, n,
    seeds (sorted list), seeds_text (``"seeds 0, 1, 2 (n=3)"``), {linear,knn}_{mean,std,ci_low,ci_high}
    (fractions; None for n = 1), note, run_ids (list), run_dirs (list).
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in _usable(records):
        groups.setdefault(config_key(rec), []).append(rec)
    members = [sorted(recs, key=lambda r: (r.get("seed") is None, r.get("seed") or 0)) for recs in groups.values()]
    labels = distinct_labels([recs[0] for recs in members])
    rows = [_group_row(key, label, recs) for key, label, recs in zip(groups, labels, members, strict=True)]
    frame = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    if frame.empty:
        return frame
    order = frame["prune_score"].map(lambda s: (s != UNPRUNED, s == BASELINE_SCORE, s))
    frame = frame.assign(_o=order).sort_values(
        ["dataset", "loss_mode", "_o", "prune_ratio", "probe", "label"], kind="stable"
    )
    return frame.drop(columns="_o").reset_index(drop=True)


def _group_row(key: str, label: str, recs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of :func:`group_table` from the group's records (sorted by seed)."""
    seeds = [r.get("seed") for r in recs]
    first = recs[0]
    row: dict[str, Any] = {
        "key": key,
        "label": label,
        "dataset": first.get("dataset"),
        "loss_mode": first.get("loss_mode"),
        "prune_score": first.get("prune_score") or UNPRUNED,
        "prune_ratio": float(first.get("prune_ratio") or 0.0),
        "probe": first["probe"],
        "n": len(recs),
        "seeds": seeds,
        "seeds_text": seed_list(seeds),
        "note": None,
        "run_ids": [r["run_id"] for r in recs],
        "run_dirs": [r["run_dir"] for r in recs],
    }
    for m in METRICS:
        vals = [r.get(f"{m}_acc") for r in recs]
        if any(not isinstance(v, (int, float)) or not math.isfinite(v) for v in vals):
            row.update({f"{m}_{k}": None for k in ("mean", "std", "ci_low", "ci_high")})
            continue
        s = seed_summary(vals)
        row.update({f"{m}_mean": s.mean, f"{m}_std": s.std, f"{m}_ci_low": s.ci_low, f"{m}_ci_high": s.ci_high})
        row["note"] = row["note"] or s.note
    repeated = sorted({str(s) for s in seeds if seeds.count(s) > 1})
    if repeated:
        row["note"] = (
            f"seed {', '.join(repeated)} appears in more than one run of this configuration: such runs are "
            "not independent seeds, so the interval is too narrow; delete or retrain the repeats with new seeds"
        )
    return row


def load_predictions(run_dir: str | Path) -> dict[str, np.ndarray] | None:
    """``predictions.npz`` of a run (y_true, linear_pred, knn_pred), or None when it has none or it is unreadable."""
    path = Path(run_dir) / "predictions.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in ("y_true", "linear_pred", "knn_pred")}
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _find_random(child: dict[str, Any], records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The random-pruning run with the child's parent, ratio, seed and loss mode (None if there is none)."""
    for r in records:
        if (
            r.get("prune_score") == BASELINE_SCORE
            and r is not child
            and _parent_id(r) == _parent_id(child)
            and math.isclose(float(r.get("prune_ratio") or 0), float(child.get("prune_ratio") or 0))
            and r.get("seed") == child.get("seed")
            and r.get("loss_mode") == child.get("loss_mode")
        ):
            return r
    return None


def _parent_id(rec: dict[str, Any]) -> str | None:
    return Path(str(rec["parent"])).name if rec.get("parent") else None


def compare_pair(
    child: dict[str, Any], other: dict[str, Any], against: str, n_boot: int = 10000, seed: int = 0
) -> list[dict[str, Any]]:
    """Rows (one per metric) of child vs other: the paired test, or a note saying why there is none."""
    base = {
        "run_id": child["run_id"],
        "against": against,
        "other_id": other["run_id"],
        **{k: child.get(k) for k in ("dataset", "loss_mode", "prune_score", "prune_ratio", "seed")},
        "protocol": child.get("probe"),
        "other_protocol": other.get("probe"),
        "protocol_mismatch": child.get("probe") != other.get("probe"),
    }
    mismatch = (
        f"probed differently ({child.get('probe')} vs {other.get('probe')}): re-probe both with the same "
        "`python -m core probe --protocol P` before reading this difference"
        if base["protocol_mismatch"]
        else None
    )
    pa, pb = load_predictions(child["run_dir"]), load_predictions(other["run_dir"])
    rows = []
    for m in METRICS:
        row = {**base, "metric": m, "acc": child.get(f"{m}_acc"), "other_acc": other.get(f"{m}_acc")}
        missing = [r["run_dir"] for r, p in ((child, pa), (other, pb)) if p is None]
        if missing:
            row["note"] = "; ".join(NO_PREDICTIONS.format(run=d) for d in missing)
        elif not np.array_equal(pa["y_true"], pb["y_true"]):  # type: ignore[index]
            row["note"] = "the two runs were probed on different test sets; no paired test is possible"
        else:
            test = paired_comparison(pa["y_true"], pa[f"{m}_pred"], pb[f"{m}_pred"], n_boot=n_boot, seed=seed)  # type: ignore[index]
            row.update({k: test[k] for k in ("diff", "ci_low", "ci_high", "mcnemar_p", "b", "c", "verdict")})
            row.update(acc=test["acc_a"], other_acc=test["acc_b"], n_test=test["n_test"], point=test["point"])
            row["note"] = mismatch
        rows.append(row)
    return rows


def pair_table(records: Sequence[dict[str, Any]], n_boot: int = 10000, seed: int = 0) -> pd.DataFrame:
    """Every pruned child against its parent and against its random-pruning twin (see the module docstring)."""
    usable = _usable(records)
    by_id = {r["run_id"]: r for r in usable}
    rows: list[dict[str, Any]] = []
    for child in usable:
        if not child.get("prune_score"):
            continue
        parent = by_id.get(_parent_id(child) or "")
        if parent is not None:
            rows += compare_pair(child, parent, "parent", n_boot, seed)
        if child.get("prune_score") != BASELINE_SCORE:
            twin = _find_random(child, usable)
            if twin is not None:
                rows += compare_pair(child, twin, "random", n_boot, seed)
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def compare_runs(
    root: str | Path | None = None, runs: Sequence[str | Path] | None = None, n_boot: int = 10000, seed: int = 0
) -> dict[str, Any]:
    """``python -m core compare``: groups, paired comparisons, the probe settings seen and whether they differ."""
    records = load_records(root, runs)
    groups = group_table(records)
    pairs = pair_table(records, n_boot=n_boot, seed=seed)
    protocols = sorted({str(r["probe"]) for r in _usable(records)})
    return {
        "groups": _json_rows(groups.drop(columns=["key", "run_dirs"], errors="ignore")),
        "comparisons": _json_rows(pairs),
        "protocols": protocols,
        "protocol_mismatch": len(protocols) > 1,
    }


def _json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts with NaN turned into None (valid JSON)."""
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return out
