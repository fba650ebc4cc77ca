"""End-to-end ``train`` + ``probe`` on the embedded digits dataset with the quick preset.

Measures the wall time of the whole command as a user runs it (process start, data load,
training, feature extraction, linear probe and kNN) and the accuracies it prints.
Target (issue 2): within 60 s on a 2-core CPU, linear-probe test accuracy >= 0.93.

    python bench/digits_e2e.py --repeats 3 [--seeds 0 1 2] [--extra --loss-mode combined]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

from corecli import run_core


def run_once(seed: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        out = run_core(
            "train", "--dataset", "digits", "--preset", "quick", "--seed", str(seed), "--runs-root", tmp, *extra
        )
        wall = time.time() - t0
        return {
            "seed": seed,
            "wall_s": wall,
            "train_s": out["train_seconds"],
            "linear_acc": out["linear_acc"],
            "knn_acc": out["knn_acc"],
            "images_per_s": out["images_per_s"],
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=1, help="runs per seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="extra train flags")
    args = ap.parse_args()
    print(
        f"machine: {platform.node()} {os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
        f"date {time.strftime('%Y-%m-%d')}",
        file=sys.stderr,
    )
    print("| seed | wall s (end to end) | train s | images/s | linear acc | kNN acc |")
    print("|---|---|---|---|---|---|")
    rows = []
    for seed in args.seeds:
        for _ in range(args.repeats):
            r = run_once(seed, args.extra)
            rows.append(r)
            print(
                f"| {r['seed']} | {r['wall_s']:.1f} | {r['train_s']:.1f} | {r['images_per_s']:.0f} | "
                f"{r['linear_acc']:.4f} | {r['knn_acc']:.4f} |",
                flush=True,
            )
    walls = sorted(r["wall_s"] for r in rows)
    print(f"\nmedian wall {walls[len(walls) // 2]:.1f} s; min linear acc {min(r['linear_acc'] for r in rows):.4f}")


if __name__ == "__main__":
    main()
