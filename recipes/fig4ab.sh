#!/usr/bin/env bash
# Fig. 4a/b: sensitivity of the combined method to posHigh (posLow 0.5) and posLow (posHigh 0.013) on CIFAR-100, beside the baseline.
# The swept values are not printed in the v2 text (only plotted); ours bracket CIFAR-100's 0.013 / 0.5 (App. A.3).
# posLow 0.5 is row cifar100/pos_high_0.013.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce fig4ab --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar100 --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-baseline-s$seed"  # row: cifar100/baseline
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.005 --pos-low 0.5 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_high_0.005-s$seed"  # row: cifar100/pos_high_0.005
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.01 --pos-low 0.5 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_high_0.01-s$seed"  # row: cifar100/pos_high_0.01
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.013 --pos-low 0.5 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_high_0.013-s$seed"  # row: cifar100/pos_high_0.013
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.02 --pos-low 0.5 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_high_0.02-s$seed"  # row: cifar100/pos_high_0.02
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.05 --pos-low 0.5 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_high_0.05-s$seed"  # row: cifar100/pos_high_0.05
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.013 --pos-low 0.3 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_low_0.3-s$seed"  # row: cifar100/pos_low_0.3
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.013 --pos-low 0.4 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_low_0.4-s$seed"  # row: cifar100/pos_low_0.4
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.013 --pos-low 0.6 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_low_0.6-s$seed"  # row: cifar100/pos_low_0.6
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.013 --pos-low 0.8 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_low_0.8-s$seed"  # row: cifar100/pos_low_0.8
  python -m core train --dataset cifar100 --preset paper --loss-mode combined --pos-high 0.013 --pos-low 1 --seed "$seed" --protocol paper --runs-root "$RUNS" --name "fig4ab-cifar100-pos_low_1-s$seed"  # row: cifar100/pos_low_1
done
