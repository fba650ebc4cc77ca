#!/usr/bin/env bash
# Table 1: SimCLR baseline and removing the selected pairs (Eq. 13) on CIFAR-10, CIFAR-100, STL-10 (train + unlabelled) and TinyImageNet (ResNet-50). The combined method (Eq. 16) is Table 4 (recipes/table4.sh).
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table1 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table1-cifar10-baseline-s$seed"  # row: cifar10/baseline
  python -m core train --dataset cifar10 --preset paper --loss-mode removal --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table1-cifar10-removal-s$seed"  # row: cifar10/removal
  python -m core train --dataset cifar100 --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table1-cifar100-baseline-s$seed"  # row: cifar100/baseline
  python -m core train --dataset cifar100 --preset paper --loss-mode removal --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table1-cifar100-removal-s$seed"  # row: cifar100/removal
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table1-stl10-baseline-s$seed"  # row: stl10/baseline
  python -m core train --dataset stl10+unlabeled --preset paper --loss-mode removal --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table1-stl10-removal-s$seed"  # row: stl10/removal
  python -m core train --dataset tinyimagenet --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table1-tinyimagenet-baseline-s$seed"  # row: tinyimagenet/baseline
  python -m core train --dataset tinyimagenet --preset paper --loss-mode removal --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table1-tinyimagenet-removal-s$seed"  # row: tinyimagenet/removal
done
