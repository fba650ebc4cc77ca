#!/usr/bin/env bash
# Table 4: the baseline, margin tuning (Eq. 14), temperature scaling (Eq. 15) and the combined method (Eq. 16) on the selected pairs, on CIFAR-10, CIFAR-100, STL-10 (train + unlabelled) and TinyImageNet (ResNet-50).
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table4 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-cifar10-baseline-s$seed"  # row: cifar10/baseline
  python -m core train --dataset cifar10 --preset paper --loss-mode margin --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-cifar10-margin-s$seed"  # row: cifar10/margin
  python -m core train --dataset cifar10 --preset paper --loss-mode temperature --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-cifar10-temperature-s$seed"  # row: cifar10/temperature
  python -m core train --dataset cifar10 --preset paper --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-cifar10-combined-s$seed"  # row: cifar10/combined
  python -m core train --dataset cifar100 --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-cifar100-baseline-s$seed"  # row: cifar100/baseline
  python -m core train --dataset cifar100 --preset paper --loss-mode margin --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-cifar100-margin-s$seed"  # row: cifar100/margin
  python -m core train --dataset cifar100 --preset paper --loss-mode temperature --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-cifar100-temperature-s$seed"  # row: cifar100/temperature
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-cifar100-combined-s$seed"  # row: cifar100/combined
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-stl10-baseline-s$seed"  # row: stl10/baseline
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode margin --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-stl10-margin-s$seed"  # row: stl10/margin
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode temperature --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-stl10-temperature-s$seed"  # row: stl10/temperature
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-stl10-combined-s$seed"  # row: stl10/combined
  python -m core train --dataset tinyimagenet --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-tinyimagenet-baseline-s$seed"  # row: tinyimagenet/baseline
  python -m core train --dataset tinyimagenet --preset paper --loss-mode margin --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-tinyimagenet-margin-s$seed"  # row: tinyimagenet/margin
  python -m core train --dataset tinyimagenet --preset paper --loss-mode temperature --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-tinyimagenet-temperature-s$seed"  # row: tinyimagenet/temperature
  python -m core train --dataset tinyimagenet --preset paper --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table4-tinyimagenet-combined-s$seed"  # row: tinyimagenet/combined
done
