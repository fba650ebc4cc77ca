#!/usr/bin/env bash
# Table 8: ImageNet-1k at 96x96, ResNet-18, 400 epochs (App. A.5). Set IMAGENET to a folder with train/<wnid>/ and val/<wnid>/.
# Each row runs once per seed (3 seeds, as the paper averages 3 runs). Dry run and GPU-time estimate:
#   python -m core reproduce table8 --dry-run
# Compare with the paper: Compare page, "Beside the paper" (numbers in recipes/paper_numbers.json).
IMAGENET="${IMAGENET:?set IMAGENET to the ImageNet folder (train/ and val/)}"
set -euo pipefail
RUNS="${RUNS:-runs/paper}"
for seed in ${SEEDS:-0 1 2}; do
  python -m core train --dataset "imagenet:$IMAGENET" --preset paper --loss-mode baseline --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table8-imagenet-baseline-s$seed"  # row: imagenet/baseline
  python -m core train --dataset "imagenet:$IMAGENET" --preset paper --loss-mode removal --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table8-imagenet-removal-s$seed"  # row: imagenet/removal
  python -m core train --dataset "imagenet:$IMAGENET" --preset paper --loss-mode temperature --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table8-imagenet-temperature-s$seed"  # row: imagenet/temperature
  python -m core train --dataset "imagenet:$IMAGENET" --preset paper --loss-mode margin --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table8-imagenet-margin-s$seed"  # row: imagenet/margin
  python -m core train --dataset "imagenet:$IMAGENET" --preset paper --loss-mode combined --seed "$seed" --protocol paper --runs-root "$RUNS" --name "table8-imagenet-combined-s$seed"  # row: imagenet/combined
done
