#!/usr/bin/env bash
# Fig. 6: margin, temperature and combined on 10% and 20% Mixed CIFAR-10, beside the baseline and the oracle removal of the mixed images,
# read against the 0%-Mixed (standard CIFAR-10) baseline (App. A.5), row cifar10/mix_0/baseline.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce fig6 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig6-cifar10-mix_0-baseline-s$seed"  # row: cifar10/mix_0/baseline
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0.1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig6-cifar10-mix_0.1-baseline-s$seed"  # row: cifar10/mix_0.1/baseline
  python -m core train --dataset cifar10 --preset paper --loss-mode margin --mix 0.1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig6-cifar10-mix_0.1-margin-s$seed"  # row: cifar10/mix_0.1/margin
  python -m core train --dataset cifar10 --preset paper --loss-mode temperature --mix 0.1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig6-cifar10-mix_0.1-temperature-s$seed"  # row: cifar10/mix_0.1/temperature
  python -m core train --dataset cifar10 --preset paper --loss-mode combined --mix 0.1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig6-cifar10-mix_0.1-combined-s$seed"  # row: cifar10/mix_0.1/combined
  python -m core prune --run-dir "$RUNS/fig6-cifar10-mix_0.1-baseline-s$seed" --score mixed --ratio 0.1 --seed "$seed" --train  # row: cifar10/mix_0.1/oracle_removal
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --mix 0.2 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig6-cifar10-mix_0.2-baseline-s$seed"  # row: cifar10/mix_0.2/baseline
  python -m core train --dataset cifar10 --preset paper --loss-mode margin --mix 0.2 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig6-cifar10-mix_0.2-margin-s$seed"  # row: cifar10/mix_0.2/margin
  python -m core train --dataset cifar10 --preset paper --loss-mode temperature --mix 0.2 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig6-cifar10-mix_0.2-temperature-s$seed"  # row: cifar10/mix_0.2/temperature
  python -m core train --dataset cifar10 --preset paper --loss-mode combined --mix 0.2 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig6-cifar10-mix_0.2-combined-s$seed"  # row: cifar10/mix_0.2/combined
  python -m core prune --run-dir "$RUNS/fig6-cifar10-mix_0.2-baseline-s$seed" --score mixed --ratio 0.2 --seed "$seed" --train  # row: cifar10/mix_0.2/oracle_removal
done
