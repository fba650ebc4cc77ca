#!/usr/bin/env bash
# Fig. 2: SimCLR on omega-Mixed CIFAR-10 (omega 0, 0.1, 0.2) and 'Removing' the mixed images. The removal is the ORACLE prune score 'mixed' (the ground-truth flag; --ratio = omega removes exactly the mixed images).
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce fig2 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig2-cifar10-mix_0-baseline-s$seed"  # row: cifar10/mix_0/baseline
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0.1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig2-cifar10-mix_0.1-baseline-s$seed"  # row: cifar10/mix_0.1/baseline
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0.2 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig2-cifar10-mix_0.2-baseline-s$seed"  # row: cifar10/mix_0.2/baseline
  python -m core prune --run-dir "$RUNS/fig2-cifar10-mix_0.1-baseline-s$seed" --score mixed --ratio 0.1 --seed "$seed" --train  # row: cifar10/mix_0.1/oracle_removal
  python -m core prune --run-dir "$RUNS/fig2-cifar10-mix_0.2-baseline-s$seed" --score mixed --ratio 0.2 --seed "$seed" --train  # row: cifar10/mix_0.2/oracle_removal
done
