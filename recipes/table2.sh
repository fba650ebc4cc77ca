#!/usr/bin/env bash
# Table 2: margin tuning (Eq. 14) on all pairs ('All samples': --selection inclusive --pos-high 0 --pos-low 1) and on the selected pairs.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table2 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode margin --selection inclusive --pos-high 0 --pos-low 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table2-cifar10-margin_all-s$seed"  # row: cifar10/margin_all
  python -m core train --dataset cifar10 --preset paper --loss-mode margin --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table2-cifar10-margin-s$seed"  # row: cifar10/margin
  python -m core train --dataset cifar100 --preset paper --loss-mode margin --selection inclusive --pos-high 0 --pos-low 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table2-cifar100-margin_all-s$seed"  # row: cifar100/margin_all
  python -m core train --dataset cifar100 --preset paper --loss-mode margin --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table2-cifar100-margin-s$seed"  # row: cifar100/margin
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode margin --selection inclusive --pos-high 0 --pos-low 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table2-stl10-margin_all-s$seed"  # row: stl10/margin_all
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode margin --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table2-stl10-margin-s$seed"  # row: stl10/margin
  python -m core train --dataset tinyimagenet --preset paper --loss-mode margin --selection inclusive --pos-high 0 --pos-low 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table2-tinyimagenet-margin_all-s$seed"  # row: tinyimagenet/margin_all
  python -m core train --dataset tinyimagenet --preset paper --loss-mode margin --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table2-tinyimagenet-margin-s$seed"  # row: tinyimagenet/margin
done
