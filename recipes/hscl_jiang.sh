#!/usr/bin/env bash
# Jiang et al. (arXiv 2209.00078), their Figs. 4-5: UCL, H-UCL, SCL, H-SCL and the threshold-hardened H-SCL on CIFAR-100 with their tau 0.5 and beta 5 (our paper-preset optimizer; theirs is Adam 1e-3). --monitor logs all four losses per epoch (their Fig. 5).
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce hscl_jiang --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar100 --preset paper --loss-mode baseline --temperature 0.5 --seed "$seed" --runs-root "$RUNS" --name "hscl-cifar100-ucl-s$seed"  # row: cifar100/ucl
  python -m core train --dataset cifar100 --preset paper --loss-mode hard_ucl --beta 5 --temperature 0.5 --seed "$seed" --runs-root "$RUNS" --name "hscl-cifar100-hard_ucl-s$seed"  # row: cifar100/hard_ucl
  python -m core train --dataset cifar100 --preset paper --loss-mode scl --temperature 0.5 --seed "$seed" --runs-root "$RUNS" --name "hscl-cifar100-scl-s$seed"  # row: cifar100/scl
  python -m core train --dataset cifar100 --preset paper --loss-mode hard_scl --beta 5 --temperature 0.5 --monitor --seed "$seed" --runs-root "$RUNS" --name "hscl-cifar100-hard_scl-s$seed"  # row: cifar100/hard_scl
  python -m core train --dataset cifar100 --preset paper --loss-mode hard_scl_thr --beta 5 --hard-threshold 0 --temperature 0.5 --monitor --seed "$seed" --runs-root "$RUNS" --name "hscl-cifar100-hard_scl_thr-s$seed"  # row: cifar100/hard_scl_thr
done
