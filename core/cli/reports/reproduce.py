"""CLI: ``reproduce TABLE`` -- the paper's tables as recipes (``recipes/<TABLE>.sh``).

- ``reproduce TABLE --dry-run``: every row's command (3 seeds) and its estimated GPU time, with the
  basis of the estimate (``core.paper.recipes.ESTIMATE_BASIS``).
- ``reproduce TABLE --tiny``: one tiny real run of every row (seed 0) on generated images
  (an ``npz:`` file of 40 train / 8 test 16x16 images in 4 classes) with the row's flags, the
  row's dataset's paper values (``--preset-from``) and a small CNN: one epoch of batch 16, no probe.
  Rows whose tiny command is identical (e.g. the same mode on two datasets with equal values) run
  once. Run folders go to ``<runs root>/reproduce-tiny-<TABLE>-<time>``. CI runs it for every recipe.
  A ``longtail`` row (Table 6's dataset build) needs the TinyImageNet files and is skipped here
  (``tests/test_longtail.py`` builds one from a generated layout); the train rows run on the generated data.
- ``reproduce --list``: the recipes.
Run a whole recipe with ``bash recipes/<TABLE>.sh`` (``SEEDS``, ``RUNS`` environment variables).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.cli.checks import int_at_least
from core.errors import HardpairsError
from core.io import save_npz
from core.paper.recipes import BOOL_FLAGS, Row, estimate, list_recipes, load_recipe
from core.rundir.folder import runs_root
from core.training.presets import PAPER_KEYS, dataset_key

#: flags a tiny run sets on every train row (CPU-sized, one epoch on generated 16 px images)
TINY_TRAIN = {
    "--epochs": "1",
    "--batch-size": "16",
    "--arch": "small_cnn",
    "--out-size": "16",
    "--image-size": "16",
    "--warmup-epochs": "0",
    "--queue-size": "16",
    "--device": "cpu",
}
_DROP = {"--analyse", "--download"}


def tiny_dataset(folder: Path, seed: int = 0) -> Path:
    """Write ``tiny.npz``: (40, 3, 16, 16) train and (8, 3, 16, 16) test uint8 images, 4 classes, class-coloured."""
    rng = np.random.default_rng(seed)

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n, dtype=np.int64) % 4
        x = rng.integers(0, 120, (n, 3, 16, 16)).astype(np.int64)
        x[np.arange(n), y % 3] += 60 + 40 * (y // 3)[:, None, None]
        return x.clip(0, 255).astype(np.uint8), y

    (xtr, ytr), (xte, yte) = part(40), part(8)
    path = folder / "tiny.npz"
    save_npz(path, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, classes=np.array(["a", "b", "c", "d"]))
    return path


def tiny_argv(row: Row, data: Path) -> list[str]:
    """A row's argv with the generated dataset and :data:`TINY_TRAIN` in place of its sizes."""
    args = list(row.argv)
    replace = set(TINY_TRAIN) | {"--dataset"} if args[0] == "train" else {"--epochs"}
    out, i = [args[0]], 1
    while i < len(args):
        flag = args[i]
        if flag in BOOL_FLAGS:
            out += [] if flag in _DROP else [flag]
            i += 1
            continue
        if flag not in replace:
            out += [flag, args[i + 1]]
        i += 2
    if args[0] == "train":
        key = dataset_key(str(row.flags.get("dataset", "")))
        origin = ["--preset-from", key] if key in PAPER_KEYS and "--preset-from" not in args else []
        tiny = [x for kv in TINY_TRAIN.items() for x in kv]
        return out + ["--dataset", f"npz:{data}", *origin, *tiny, "--no-probe"]
    return out + ["--epochs", "1"]


def _dedupe_key(argv: list[str]) -> tuple[str, ...]:
    """The argv without the flags that only name the run (``--name``, ``--seed``, ``--runs-root``)."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in ("--name", "--runs-root"):
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return tuple(out)


def run_tiny(table: str, root: str | None) -> dict[str, Any]:
    """One tiny real run of each row of ``table`` (see the module docstring)."""
    from core.cli import build_parser

    load_recipe(table)  # an unknown recipe is refused before any folder is made
    runs = runs_root(root) / f"reproduce-tiny-{table}-{time.strftime('%Y%m%d-%H%M%S')}"
    runs.mkdir(parents=True, exist_ok=False)
    data = tiny_dataset(runs)
    parser = build_parser()
    results: list[dict[str, Any]] = []
    t0, done = time.time(), dict[tuple[str, ...], str]()
    rows = load_recipe(table, seed=0, runs=str(runs), imagenet=str(runs / "imagenet"))
    parents = {Path(str(r.flags["run_dir"])).name for r in rows if r.argv[0] == "prune"}
    for row in rows:
        if row.argv[0] == "longtail":
            results.append({"row": row.row, "skipped": "a dataset build: needs the TinyImageNet files"})
            continue
        argv = tiny_argv(row, data)
        same = _dedupe_key(argv)
        if row.argv[0] == "train" and row.flags.get("name") not in parents and same in done:
            results.append({"row": row.row, "same_tiny_run_as": done[same]})
            continue
        done[same] = row.row
        try:
            parsed = parser.parse_args(argv)
            res = parsed.func(parsed)
        except HardpairsError as err:
            raise HardpairsError(f"{table} row {row.row} failed its tiny run ({err}); command: {row.command}") from err
        trained = res.get("train", res)
        results.append({"row": row.row, "run_dir": trained.get("run_dir"), "final_loss": trained.get("final_loss")})
    return {"table": table, "runs": str(runs), "rows": results, "seconds": round(time.time() - t0, 1)}


def cmd_reproduce(args: argparse.Namespace) -> dict[str, Any]:
    """``reproduce``: list, dry-run (commands + GPU-time estimate) or a tiny real run of a recipe."""
    int_at_least("--seeds", args.seeds, 1, " (the estimate counts each row once per seed)")
    if args.list or not args.table:
        return {"recipes": list_recipes()}
    if args.tiny:
        return run_tiny(args.table, args.runs_root)
    return estimate(args.table, seeds=args.seeds)


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``reproduce``."""
    p.description = "Recipes: recipes/<TABLE>.sh (run them with bash); paper numbers: recipes/paper_numbers.json."
    p.add_argument("table", nargs="?", help="a recipe name, e.g. table1, fig2, hscl_jiang (see --list)")
    p.add_argument("--dry-run", action="store_true", help="print the commands and their estimated GPU time (default)")
    p.add_argument("--tiny", action="store_true", help="run one tiny real step of each row on generated data")
    p.add_argument("--seeds", type=int, default=3, help="seeds the estimate counts (default 3, as the paper)")
    p.add_argument("--list", action="store_true", help="list the recipes")
    p.add_argument("--runs-root", help="where --tiny writes its run folders (default $HARDPAIRS_RUNS or cache/runs)")
    p.set_defaults(func=cmd_reproduce)
