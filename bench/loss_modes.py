"""Linear-probe accuracy of loss modes over seeds (issue 6's comparison table).

    python bench/loss_modes.py --dataset digits --modes baseline combined hard_ucl scl hard_scl --seeds 0 1 2

Each (mode, seed) is one ``python -m core train`` run (the quick preset unless --preset says
otherwise) in a fresh runs root; the table reports mean +/- std (sample std, ddof=1) of the linear-probe
and kNN test accuracy, and the commands used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from corecli import run_core


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--modes", nargs="+", default=["baseline", "combined", "hard_ucl", "scl", "hard_scl"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="extra train flags for every run")
    ap.add_argument("--json", help="write all per-run results here")
    args = ap.parse_args()
    rows, results = [], []
    with tempfile.TemporaryDirectory() as root:
        for mode in args.modes:
            accs, knns = [], []
            for seed in args.seeds:
                t0 = time.time()
                out = run_core(
                    "train",
                    "--dataset",
                    args.dataset,
                    "--preset",
                    args.preset,
                    "--loss-mode",
                    mode,
                    "--seed",
                    str(seed),
                    "--runs-root",
                    root,
                    *args.extra,
                )
                accs.append(out["linear_acc"])
                knns.append(out["knn_acc"])
                results.append({"mode": mode, "seed": seed, "seconds": time.time() - t0, **out})
                print(
                    f"{mode} seed {seed}: linear {out['linear_acc']:.4f} kNN {out['knn_acc']:.4f} "
                    f"({time.time() - t0:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            rows.append((mode, accs, knns))
    print(f"| loss mode | linear probe (mean ± std, n={len(args.seeds)}) | kNN (mean ± std) | per seed (linear) |")
    print("|---|---|---|---|")
    for mode, accs, knns in rows:
        sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0  # noqa: E731
        print(
            f"| {mode} | {statistics.mean(accs):.4f} ± {sd(accs):.4f} | {statistics.mean(knns):.4f} ± {sd(knns):.4f} | "
            + ", ".join(f"{a:.4f}" for a in accs)
            + " |"
        )
    print(
        f"\ncommand per run: python -m core train --dataset {args.dataset} --preset {args.preset} "
        f"--loss-mode MODE --seed SEED {' '.join(args.extra)}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
