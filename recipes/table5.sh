#!/usr/bin/env bash
# Table 5 (CIFAR-10): MoCo v2 and SimCLR, baseline vs the combined method. The paper (Sec. 5.5, App. A.5) names MoCo v2
# (Chen et al. 2020c) but gives none of its hyperparameters, so the MoCo rows take MoCo v2's published defaults, which
# --method moco applies when the flag is not given (core/training/presets.py:MOCO_V2): SGD momentum 0.9, lr 0.03 x 512/256
# = 0.06, weight decay 1e-4, cosine without warm-up, tau 0.2, key momentum 0.999, queue 65536 clipped to 49152 (96 batches
# of 512: one epoch's other batches), shuffled BatchNorm over 16 key groups. The selection band and sigma/rho are the
# paper's CIFAR-10 values (0.15/0.22, 0.03/0.6), as for SimCLR. The log and manifest.json (moco_note) list the values.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table5 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset cifar10 --preset paper --method moco --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table5-cifar10-moco_baseline-s$seed"  # row: cifar10/moco_baseline
  python -m core train --dataset cifar10 --preset paper --method moco --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table5-cifar10-moco_combined-s$seed"  # row: cifar10/moco_combined
  python -m core train --dataset cifar10 --preset paper --method simclr --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table5-cifar10-simclr_baseline-s$seed"  # row: cifar10/simclr_baseline
  python -m core train --dataset cifar10 --preset paper --method simclr --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table5-cifar10-simclr_combined-s$seed"  # row: cifar10/simclr_combined
done
