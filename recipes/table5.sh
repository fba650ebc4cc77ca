#!/usr/bin/env bash
# Table 5 (CIFAR-10): MoCo v2 and SimCLR, baseline vs the combined method. MoCo's hyperparameters are not in the paper: momentum 0.99 and a 4096-key queue are our choices (docs/paper-fidelity.md).
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table5 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --method moco --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table5-cifar10-moco_baseline-s$seed"  # row: cifar10/moco_baseline
  python -m core train --dataset cifar10 --preset paper --method moco --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table5-cifar10-moco_combined-s$seed"  # row: cifar10/moco_combined
  python -m core train --dataset cifar10 --preset paper --method simclr --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table5-cifar10-simclr_baseline-s$seed"  # row: cifar10/simclr_baseline
  python -m core train --dataset cifar10 --preset paper --method simclr --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table5-cifar10-simclr_combined-s$seed"  # row: cifar10/simclr_combined
done
