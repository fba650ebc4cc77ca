#!/usr/bin/env bash
# Table 11: beta, gamma, gamma-beta and Welch's t-test (theory.json, written by --analyse) on baseline runs of CIFAR-10, CIFAR-100 and ImageNet-1k.
# The theory step alone on a finished run: python -m core theory --run-dir RUN (difficult share 8%, App. A.5).
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table11 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
IMAGENET="${IMAGENET:?set IMAGENET to an ImageNet folder with train/ and val/}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --loss-mode baseline --analyse --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table11-cifar10-baseline-s$seed"  # row: cifar10/baseline
  python -m core train --dataset cifar100 --preset paper --loss-mode baseline --analyse --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table11-cifar100-baseline-s$seed"  # row: cifar100/baseline
  python -m core train --dataset "imagenet:$IMAGENET" --preset paper --loss-mode baseline --analyse --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table11-imagenet-baseline-s$seed"  # row: imagenet/baseline
done
