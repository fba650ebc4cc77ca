#!/usr/bin/env bash
# Fig. 5: sensitivity of the combined method to the margin sigma (rho 0.7) and the temperature factor rho (sigma 0.1) on CIFAR-100, beside the baseline.
# The plotted points are not printed in the v2 text; ours span its axes (sigma 0-0.2, rho 0.6-1). rho 0.7 is row
# cifar100/sigma_0.1. Our reading: 'Ours' is the combined method with the other factor at App. A.3's value.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce fig5 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar100 --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-baseline-s$seed"  # row: cifar100/baseline
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0 --rho 0.7 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-sigma_0-s$seed"  # row: cifar100/sigma_0
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0.025 --rho 0.7 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-sigma_0.025-s$seed"  # row: cifar100/sigma_0.025
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0.05 --rho 0.7 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-sigma_0.05-s$seed"  # row: cifar100/sigma_0.05
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0.1 --rho 0.7 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-sigma_0.1-s$seed"  # row: cifar100/sigma_0.1
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0.15 --rho 0.7 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-sigma_0.15-s$seed"  # row: cifar100/sigma_0.15
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0.2 --rho 0.7 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-sigma_0.2-s$seed"  # row: cifar100/sigma_0.2
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0.1 --rho 0.6 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-rho_0.6-s$seed"  # row: cifar100/rho_0.6
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0.1 --rho 0.8 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-rho_0.8-s$seed"  # row: cifar100/rho_0.8
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0.1 --rho 0.9 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-rho_0.9-s$seed"  # row: cifar100/rho_0.9
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --sigma 0.1 --rho 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig5-cifar100-rho_1-s$seed"  # row: cifar100/rho_1
done
