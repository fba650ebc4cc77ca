#!/usr/bin/env bash
# Table 7: which features drive the selection of the combined method, after (z) or before (h) the projector.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table7 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table7-cifar10-baseline-s$seed"  # row: cifar10/baseline
  python -m core train --dataset cifar10 --preset paper --loss-mode combined --select-on projector --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table7-cifar10-after_projector-s$seed"  # row: cifar10/after_projector
  python -m core train --dataset cifar10 --preset paper --loss-mode combined --select-on backbone --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table7-cifar10-before_projector-s$seed"  # row: cifar10/before_projector
  python -m core train --dataset cifar100 --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table7-cifar100-baseline-s$seed"  # row: cifar100/baseline
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --select-on projector --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table7-cifar100-after_projector-s$seed"  # row: cifar100/after_projector
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --select-on backbone --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table7-cifar100-before_projector-s$seed"  # row: cifar100/before_projector
done
