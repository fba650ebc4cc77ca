#!/usr/bin/env bash
# Table 10: accuracy and the alpha/beta/gamma estimates (theory.json, written by --analyse) on omega-Mixed CIFAR-10. The contamination is seeded by --mix-seed (default 0), the same for every training seed.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table10 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0 --analyse --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table10-cifar10-mix_0-s$seed"  # row: cifar10/mix_0
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0.1 --analyse --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table10-cifar10-mix_0.1-s$seed"  # row: cifar10/mix_0.1
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0.2 --analyse --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table10-cifar10-mix_0.2-s$seed"  # row: cifar10/mix_0.2
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0.3 --analyse --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table10-cifar10-mix_0.3-s$seed"  # row: cifar10/mix_0.3
done
