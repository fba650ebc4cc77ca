"""Statistics of the real-CIFAR-10 benchmark (``bench/cifar_real.py summary``).

For every run of ``data/cifar-bench/runs`` both probe protocols are fitted on its frozen features
(``lbfgs`` and ``paper``, ``core.analysis.probe``); nothing in the run folders is changed. Then:

- per condition: mean +- std over seeds and the Student-t 95 % interval (``core.analysis.stats.seed_summary``);
- per seed, paired on the same 10,000 test images (``core.analysis.stats.paired_comparison``):
  removal and combined against the baseline of the same seed; on Mixed-omega, each pruned retrain
  against its unpruned parent, and band pruning against random pruning.

Writes ``results.json`` and prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.probe import probe_config, probe_predictions
from core.analysis.stats import paired_comparison, seed_summary

PROTOCOLS = ("lbfgs", "paper")
#: (label, condition A, condition B): A is compared with B at the same seed.
PAIRS = (
    ("removal vs baseline", "c10_removal", "c10_baseline"),
    ("combined vs baseline", "c10_combined", "c10_baseline"),
    ("oracle prune vs unpruned", "mix20_prune_oracle", "mix20_baseline"),
    ("band prune vs unpruned", "mix20_prune_band", "mix20_baseline"),
    ("random prune vs unpruned", "mix20_prune_random", "mix20_baseline"),
    ("band prune vs random prune", "mix20_prune_band", "mix20_prune_random"),
)


def predictions(run: Path, protocol: str, seed: int) -> dict[str, np.ndarray]:
    """Per-sample test predictions of one run under one protocol (cached in the bench folder, not the run)."""
    cache = run.parent.parent / "predictions" / f"{run.name}_{protocol}.npz"
    if cache.exists():
        return dict(np.load(cache))
    f = np.load(run / "features.npz")
    cfg = probe_config("cifar10", protocol=protocol, seed=seed)
    pred = probe_predictions(f["train"], f["y_train"], f["test"], f["y_test"], cfg)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **pred)
    return pred


def _fmt_ci(s: dict[str, Any]) -> str:
    if s["std"] is None:
        return f"{100 * s['mean']:.2f} (n={s['n']})"
    return f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f} [{100 * s['ci_low']:.2f}, {100 * s['ci_high']:.2f}]"


def summary(runs: Path, out: Path) -> dict[str, Any]:
    """Group runs ``<condition>_s<seed>``, summarise and pair them; write ``out`` (JSON)."""
    found: dict[str, dict[int, Path]] = {}
    for run in sorted(p for p in runs.iterdir() if (p / "features.npz").exists()):
        m = re.fullmatch(r"(.+)_s(\d+)", run.name)
        if m:
            found.setdefault(m.group(1), {})[int(m.group(2))] = run
    result: dict[str, Any] = {"conditions": {}, "pairs": []}
    for cond, seeds in found.items():
        for proto in PROTOCOLS:
            accs = {s: predictions(r, proto, s) for s, r in seeds.items()}
            lin = [float((p["linear_pred"] == p["y_true"]).mean()) for p in accs.values()]
            knn = [float((p["knn_pred"] == p["y_true"]).mean()) for p in accs.values()]
            result["conditions"][f"{cond}/{proto}"] = {
                "seeds": sorted(seeds),
                "linear": seed_summary(lin).as_dict(),
                "knn": seed_summary(knn).as_dict(),
            }
    for label, a, b in PAIRS:
        for seed in sorted(set(found.get(a, {})) & set(found.get(b, {}))):
            for proto in PROTOCOLS:
                pa = predictions(found[a][seed], proto, seed)
                pb = predictions(found[b][seed], proto, seed)
                cmp = paired_comparison(pa["y_true"], pa["linear_pred"], pb["linear_pred"])
                result["pairs"].append({"pair": label, "seed": seed, "protocol": proto, **cmp})
    out.write_text(json.dumps(result, indent=1))
    print("| condition / probe | seeds | linear % mean ± std [95% CI] | kNN % |\n|---|---|---|---|")
    for key, v in result["conditions"].items():
        print(f"| {key} | {v['seeds']} | {_fmt_ci(v['linear'])} | {_fmt_ci(v['knn'])} |")
    print("\n| comparison (linear probe) | seed | probe | Δ pp | 95% bootstrap CI | McNemar p | verdict |")
    print("|---|---|---|---|---|---|---|")
    for p in result["pairs"]:
        print(
            f"| {p['pair']} | {p['seed']} | {p['protocol']} | {100 * p['diff']:+.2f} | "
            f"[{100 * p['ci_low']:+.2f}, {100 * p['ci_high']:+.2f}] | {p['mcnemar_p']:.3f} | {p['verdict']} |"
        )
    return result
