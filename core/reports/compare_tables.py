"""Display tables of ``core.reports.compare``'s tables, for the Compare page and the HTML report alike:
the seed groups (:func:`group_display`) and the paired pruning comparisons (:func:`pair_display`).
Accuracies in percent, differences in percentage points."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.reports.summary import format_p

#: what the intervals, the test and the verdict mean, in one caption.
PAIR_CAPTION = (
    "Two sources of noise. Test set: the runs of one seed pair are probed on the same test images; "
    "Δ = pruned run − other run, its 95 % interval is the paired bootstrap over test images, McNemar p the "
    "exact test on the images only one of the two gets right. Seeds: the mean of the per-seed differences "
    "with its Student-t 95 % interval over seeds (the seed-to-seed spread). Verdict: “within noise” when the "
    "test-set interval contains 0, “within seed noise” when the interval over seeds does; better/worse only "
    "when neither does."
)
#: why one seed pair's Δ and the difference of the means over seeds are not the same number.
WHY_TWO_NUMBERS = (
    "Why a seed pair's Δ and the over-seeds Δ differ: the paired test compares two single runs (the same "
    "seed, the same test images), so it carries that seed's luck; the over-seeds Δ is the mean over all "
    "seeds. The per-seed Δ moves from seed to seed by its seed std, so one pair's Δ can be off the "
    "over-seeds Δ by about that much. The over-seeds Δ is the estimate of the effect; a pair tells whether "
    "that pair differs beyond test-set noise."
)
#: how the against column of ``pair_table`` reads.
AGAINST = {"parent": "unpruned parent", "random": "random pruning, same ratio"}
METRIC_NAMES = {"linear": "linear probe", "knn": "kNN"}


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


def pts(v: Any, sign: bool = True) -> str:
    """A fraction in percentage points, ``"+1.67"`` (``"–"`` for None/NaN)."""
    v = _num(v)
    return "–" if v != v else f"{100 * v:{'+' if sign else ''}.2f}"


def interval(low: Any, high: Any) -> str:
    """``"[−2.10, +0.80]"`` in points, or ``"–"``."""
    return "–" if _num(low) != _num(low) or _num(high) != _num(high) else f"[{pts(low)}, {pts(high)}]"


def ordered(pairs: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` with each comparison's rows together (pruned configuration, compared with, probe), seeds ascending."""
    if pairs.empty:
        return pairs
    keys = pairs[["label_a", "against", "metric"]].astype(str)
    return (
        pairs.assign(_s=pd.to_numeric(pairs["seed"], errors="coerce"), **{f"_{c}": keys[c] for c in keys})
        .sort_values(["_label_a", "_against", "_metric", "_s"], kind="stable")
        .drop(columns=["_s", "_label_a", "_against", "_metric"])
    )


def pair_display(pairs: pd.DataFrame) -> pd.DataFrame:
    """``core.reports.compare.pair_table`` as reviewers read it: one row per seed pair and probe, both
    noises side by side, differences and intervals in points, the verdict under both noises."""
    rows = []
    for p in ordered(pairs).to_dict(orient="records"):
        rows.append(
            {
                "pruned run": f"{p['label_a'] or p['run_id']} · seed {p['seed']}",
                "compared with": AGAINST.get(p["against"], str(p["against"])),
                "probe": METRIC_NAMES.get(p["metric"], p["metric"]),
                "Δ this seed pair (pp) [test-set 95 % CI]": f"{pts(p['diff'])} {interval(p['ci_low'], p['ci_high'])}",
                "McNemar p": format_p(p["mcnemar_p"]),
                "Δ over seeds (pp) [seed 95 % CI]": f"{pts(p['seed_diff'])} {_seed_interval(p)}",
                "seeds": p["n_seeds"],
                "verdict": p["final_verdict"],
            }
        )
    return pd.DataFrame(rows)


def _seed_interval(p: dict[str, Any]) -> str:
    text = interval(p["seed_low"], p["seed_high"])
    return "(no interval: one seed)" if text == "–" and _num(p["seed_diff"]) == _num(p["seed_diff"]) else text


def pair_notes(pairs: pd.DataFrame) -> list[str]:
    """The notes of the pair rows (missing predictions, protocol mismatches), each once, in order."""
    notes = [n for n in pairs["note"] if isinstance(n, str) and n]
    return list(dict.fromkeys(notes))


def why_two_numbers(pairs: pd.DataFrame) -> str:
    """:data:`WHY_TWO_NUMBERS` with this view's numbers: the first pair row that has a test and a seed
    spread, its Δ against the over-seeds Δ, and the seed std of the per-seed Δ."""
    rows = ordered(pairs)
    usable = rows[rows["diff"].notna() & rows["seed_std"].notna()] if not rows.empty else rows
    if usable.empty:
        return WHY_TWO_NUMBERS
    r = usable.iloc[0]
    return WHY_TWO_NUMBERS + (
        f" Here: {r['label_a']} vs {AGAINST.get(r['against'], r['against'])}, seed {r['seed']}: {pts(r['diff'])} pp "
        f"on its pair, {pts(r['seed_diff'])} pp over seeds; the per-seed Δ has a seed std of "
        f"{100 * float(r['seed_std']):.2f} pp, so a single pair can be off by about that much."
    )


def _steps_of(rec: dict[str, Any]) -> dict[str, Any] | None:
    """A pruned retrain's ``optimiser_steps`` (``core.runs.pruning``): from its manifest, else computed from its
    config and its parent's (``recorded`` False); None for a run that is no pruned retrain."""
    from pathlib import Path

    from core.io import read_json
    from core.runs.pruning import optimiser_steps

    raw_manifest, raw_cfg = rec.get("manifest"), rec.get("config")
    manifest: dict[str, Any] = raw_manifest if isinstance(raw_manifest, dict) else {}
    cfg: dict[str, Any] = raw_cfg if isinstance(raw_cfg, dict) else {}
    if not manifest.get("parent"):
        return None
    steps = manifest.get("optimiser_steps")
    if isinstance(steps, dict) and {"total", "parent_total"} <= set(steps):
        return steps | {"recorded": True}
    parent = Path(str(manifest["parent"]))
    p_cfg, p_man = read_json(parent / "config.json", {}) or {}, read_json(parent / "manifest.json", {}) or {}
    n_parent = int(p_man.get("n_kept") or p_man.get("n_train") or 0)
    if not p_cfg or not n_parent:
        return {"recorded": False, "total": None, "parent_total": None, "matched": False}
    total = optimiser_steps(cfg, int(manifest.get("n_kept") or 0))
    return {"recorded": False, "total": total, "parent_total": optimiser_steps(p_cfg, n_parent), "matched": False}


def steps_sentences(records: list[dict[str, Any]], ids: dict[str, str] | None = None) -> list[str]:
    """Equal steps, said out loud (issue 22): for every pruned retrain, whether it trained its parent's epochs
    (fewer optimiser steps: N vs M) or ``--match-steps`` (the parent's steps), one sentence each; ``ids``
    names runs by their short id (the report's R1, R2 ...)."""
    out = []
    if ids:  # in the legend's order: R1, R2, ..., R10
        records = sorted(
            records, key=lambda r: (len(ids.get(str(r.get("run_id")), "")), ids.get(str(r.get("run_id")), ""))
        )
    for rec in records:
        steps = _steps_of(rec)
        if steps is None:
            continue
        name = str(rec.get("run_id"))
        name = f"{ids[name]} ({name})" if ids and name in ids else name
        total, parent = steps.get("total"), steps.get("parent_total")
        if total is None or parent is None:
            out.append(f"{name}: its optimiser steps are not recorded and its parent is not readable.")
        elif steps.get("matched"):
            out.append(f"{name}: --match-steps: {total} optimiser steps, as its parent's {parent} (more epochs).")
        else:
            fewer = "fewer" if total < parent else "as many" if total == parent else "more"
            how = "" if steps["recorded"] else " (computed: its manifest predates the record)"
            out.append(f"{name}: same epochs as its parent, {fewer} optimiser steps: {total} vs {parent}{how}.")
    return out
