#!/usr/bin/env bash
# Fig. 4c: the share of flagged pairs (Sim_posLow <= s < Sim_posHigh) that are cross-class, per epoch, over training.
# Read progress.jsonl (flagged_cross_class, flagged_share, flagged_similarity per epoch): python -m core difficulty.
# The v2 text puts Fig. 4c on CIFAR-10 (Sec. 5.1) and on CIFAR-100 (its caption): both are run.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce fig4c --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4c-cifar10-combined-s$seed"  # row: cifar10/combined
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4c-cifar100-combined-s$seed"  # row: cifar100/combined
done
