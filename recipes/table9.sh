#!/usr/bin/env bash
# Table 9 (CIFAR-100): the temperature factor rho on the selected pairs; rho = 1 is the baseline, rho = 1e9 equals removal.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table9 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar100 --preset paper --loss-mode temperature --rho 0.7 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table9-cifar100-rho_0.7-s$seed"  # row: cifar100/rho_0.7
  python -m core train --dataset cifar100 --preset paper --loss-mode temperature --rho 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table9-cifar100-rho_1-s$seed"  # row: cifar100/rho_1
  python -m core train --dataset cifar100 --preset paper --loss-mode temperature --rho 10 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table9-cifar100-rho_10-s$seed"  # row: cifar100/rho_10
  python -m core train --dataset cifar100 --preset paper --loss-mode temperature --rho 100 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table9-cifar100-rho_100-s$seed"  # row: cifar100/rho_100
  python -m core train --dataset cifar100 --preset paper --loss-mode temperature --rho 1000 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table9-cifar100-rho_1000-s$seed"  # row: cifar100/rho_1000
  python -m core train --dataset cifar100 --preset paper --loss-mode temperature --rho 1e9 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table9-cifar100-rho_1e9-s$seed"  # row: cifar100/rho_1e9
done
