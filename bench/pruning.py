"""Does pruning by a difficulty score help? Linear-probe accuracy of pruned retrains over seeds.

    python bench/pruning.py --dataset digits --ratio 0.2 --seeds 0 1 2
    python bench/pruning.py --dataset digits --mix 0.2 --ratio 0.2 --seeds 0 1 2

Per seed: one parent run (``python -m core train ... --seed S``), its scores
(``python -m core score``), then one retrain per score with the same config on the kept samples
(``python -m core prune --run-dir PARENT --score X --ratio R --train``), all in a fresh runs root.
``random`` is the control. Prints a markdown table of mean +/- std (ddof=1) of the linear-probe
and kNN accuracy, the delta vs the unpruned parents, and (for a mixed set) the share of the
pruned samples that were mixed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from corecli import ROOT, run_core

sys.path.insert(0, str(ROOT))
from core.analysis.scoretable import COMPUTED_SCORES  # noqa: E402  (the one table of scores)


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {sd:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--mix", type=float, default=0.0)
    ap.add_argument("--ratio", type=float, default=0.2)
    ap.add_argument("--scores", nargs="+", default=list(COMPUTED_SCORES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--json", help="write all per-run results here")
    args = ap.parse_args()
    acc: dict[str, list[float]] = {"none (parent)": []}
    knn: dict[str, list[float]] = {"none (parent)": []}
    mixed: dict[str, list[float]] = {}
    results = []
    with tempfile.TemporaryDirectory() as root:
        for seed in args.seeds:
            t0 = time.time()
            parent = Path(root) / f"parent-s{seed}"
            train = [
                "train",
                "--dataset",
                args.dataset,
                "--preset",
                args.preset,
                "--seed",
                str(seed),
                "--run-dir",
                str(parent),
            ] + (["--mix", f"{args.mix:g}"] if args.mix else [])
            out = run_core(*train)
            acc["none (parent)"].append(out["linear_acc"])
            knn["none (parent)"].append(out["knn_acc"])
            results.append({"seed": seed, "score": None, **out})
            run_core("score", "--run-dir", str(parent))
            for score in args.scores:
                res = run_core(
                    "prune", "--run-dir", str(parent), "--score", score, "--ratio", f"{args.ratio:g}", "--train"
                )
                tr = res["train"]
                acc.setdefault(score, []).append(tr["linear_acc"])
                knn.setdefault(score, []).append(tr["knn_acc"])
                if "mixed_share_pruned" in res:
                    mixed.setdefault(score, []).append(res["mixed_share_pruned"])
                results.append(
                    {"seed": seed, "score": score, "mixed_share_pruned": res.get("mixed_share_pruned"), **tr}
                )
                print(
                    f"seed {seed} {score}: linear {tr['linear_acc']:.4f} kNN {tr['knn_acc']:.4f}",
                    file=sys.stderr,
                    flush=True,
                )
            print(f"seed {seed} done in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    base = statistics.mean(acc["none (parent)"])
    print(
        f"| pruned by ({100 * args.ratio:g}%) | linear probe (mean ± std, n={len(args.seeds)}) | "
        "delta vs parent (points) | kNN (mean ± std) |" + (" mixed share of pruned |" if mixed else "")
    )
    print("|---|---|---:|---|" + ("---:|" if mixed else ""))
    for name in acc:
        extra = ""
        if mixed:
            extra = f" {100 * statistics.mean(mixed[name]):.1f}% |" if name in mixed else " — |"
        print(
            f"| {name} | {mean_sd(acc[name])} | {100 * (statistics.mean(acc[name]) - base):+.2f} | "
            f"{mean_sd(knn[name])} |" + extra
        )
    mix = f" --mix {args.mix:g}" if args.mix else ""
    print(
        f"\ncommands per seed: python -m core train --dataset {args.dataset} --preset {args.preset}{mix} "
        f"--seed SEED --run-dir P; python -m core score --run-dir P; "
        f"python -m core prune --run-dir P --score SCORE --ratio {args.ratio:g} --train"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
