#!/usr/bin/env bash
# Table 3: temperature scaling (Eq. 15) on all pairs ('All samples': --selection inclusive --pos-high 0 --pos-low 1) and on the selected pairs.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table3 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode temperature --selection inclusive --pos-high 0 --pos-low 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table3-cifar10-temperature_all-s$seed"  # row: cifar10/temperature_all
  python -m core train --dataset cifar10 --preset paper --loss-mode temperature --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table3-cifar10-temperature-s$seed"  # row: cifar10/temperature
  python -m core train --dataset cifar100 --preset paper --loss-mode temperature --selection inclusive --pos-high 0 --pos-low 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table3-cifar100-temperature_all-s$seed"  # row: cifar100/temperature_all
  python -m core train --dataset cifar100 --preset paper --loss-mode temperature --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table3-cifar100-temperature-s$seed"  # row: cifar100/temperature
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode temperature --selection inclusive --pos-high 0 --pos-low 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table3-stl10-temperature_all-s$seed"  # row: stl10/temperature_all
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode temperature --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table3-stl10-temperature-s$seed"  # row: stl10/temperature
  python -m core train --dataset tinyimagenet --preset paper --loss-mode temperature --selection inclusive --pos-high 0 --pos-low 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table3-tinyimagenet-temperature_all-s$seed"  # row: tinyimagenet/temperature_all
  python -m core train --dataset tinyimagenet --preset paper --loss-mode temperature --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table3-tinyimagenet-temperature-s$seed"  # row: tinyimagenet/temperature
done
