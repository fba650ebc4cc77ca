"""The paper's tables as recipes: ``recipes/<table>.sh`` read back as rows, with a GPU-time estimate.

A recipe is a bash script (runnable as is) whose rows are single ``python -m core ...`` lines
ending in ``# row: <id>``, inside ``for seed in ${SEEDS:-0 1 2}`` (a ``longtail`` dataset build may come
before the loop). :func:`load_recipe` returns the rows with ``$seed``/``$RUNS`` (and ``$IMAGENET``,
``$TINYIMAGENET``) substituted for one seed; :func:`estimate`
prices a row in GPU hours from :data:`IMAGES_PER_S`, an **assumption** (stated in every
``reproduce --dry-run`` output): SimCLR training throughput (two views, forward + backward, bf16)
of one A100-class GPU, by backbone and training resolution.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.io import REPO_ROOT
from core.training.config import TrainConfig, make_config

RECIPES_DIR = REPO_ROOT / "recipes"
#: images/s of one A100-class GPU (assumed, not measured here): (arch, training side in px) -> images/s
IMAGES_PER_S: dict[tuple[str, int], float] = {
    ("resnet18", 32): 4000.0,
    ("resnet18", 96): 450.0,
    ("resnet18_imagenet", 96): 3500.0,
    ("resnet50", 64): 350.0,
    ("small_cnn", 32): 20000.0,
}
ESTIMATE_BASIS = (
    "assumed A100-class GPU throughput (images/s, two views, forward+backward, bf16): "
    + ", ".join(f"{a}@{s}px {v:g}" for (a, s), v in IMAGES_PER_S.items())
    + "; other sizes scale with pixels; data loading and probing not counted"
)
#: training images per dataset key (the paper's splits)
N_TRAIN = {
    "cifar10": 50000,
    "cifar100": 50000,
    "stl10": 5000,
    "stl10+unlabeled": 105000,
    "tinyimagenet": 100000,
    "imagenet": 1281167,
}
#: test images per file-based dataset key (the image store holds train + test)
N_TEST = {"tinyimagenet": 10000, "imagenet": 50000}
BOOL_FLAGS = {"--analyse", "--monitor", "--train", "--compile", "--no-probe", "--download", "--resume"}
_ROW = re.compile(r"^\s*(python -m core .+?)\s+#\s*row:\s*(\S+)\s*$")


@dataclass(frozen=True)
class Row:
    """One row of a recipe for one seed: ``argv`` after ``python -m core``."""

    table: str
    row: str
    seed: int
    argv: tuple[str, ...]

    @property
    def command(self) -> str:
        return shlex.join(["python", "-m", "core", *self.argv])

    @property
    def flags(self) -> dict[str, Any]:
        """``--flag value`` pairs as ``{field_name: value-string}`` (boolean flags -> True)."""
        out: dict[str, Any] = {}
        args = list(self.argv[1:])
        i = 0
        while i < len(args):
            a = args[i]
            if a in BOOL_FLAGS or i + 1 >= len(args):
                out[a[2:].replace("-", "_")] = True
                i += 1
            else:
                out[a[2:].replace("-", "_")] = args[i + 1]
                i += 2
        return out


def list_recipes() -> list[str]:
    """Table names with a recipe, e.g. ``["fig2", "table1", ...]``."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.sh"))


def load_recipe(
    table: str, seed: int = 0, runs: str = "runs/paper", imagenet: str = "IMAGENET", tinyimagenet: str = "TINYIMAGENET"
) -> list[Row]:
    """The rows of ``recipes/<table>.sh`` for one seed.

    Raises:
        HardpairsError: no such recipe, or a recipe without rows.
    """
    if table not in list_recipes():  # a name, never a path: `../../x/evil` is not a recipe
        raise HardpairsError(f"no recipe {table!r}; recipes: {', '.join(list_recipes())}")
    path = RECIPES_DIR / f"{table}.sh"
    rows = []
    for line in path.read_text().splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        text = m.group(1).replace("$seed", str(seed)).replace("$RUNS", runs).replace("$IMAGENET", imagenet)
        text = text.replace("$TINYIMAGENET", tinyimagenet)
        argv = shlex.split(text)[3:]
        rows.append(Row(table, m.group(2), seed, tuple(argv)))
    if not rows:
        raise HardpairsError(f"recipe {path} has no '# row:' lines")
    return rows


def row_config(row: Row, parent: TrainConfig | None = None) -> TrainConfig:
    """The TrainConfig a ``train`` row would get (flags coerced to the field types); a ``prune`` row: its parent's."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    flags = row.flags
    if row.argv[0] == "prune":
        if parent is None:
            raise HardpairsError(f"{row.table} {row.row}: a prune row needs the config of the run it prunes")
        return parent
    values: dict[str, Any] = {}
    for name, raw in flags.items():
        if name not in fields or name in ("dataset", "preset"):
            continue
        kind = type(TrainConfig.__dataclass_fields__[name].default)
        values[name] = True if raw is True else (float(raw) if kind is float else int(raw) if kind is int else raw)
    return make_config(str(flags.get("dataset", "digits")), flags.get("preset"), **values)


def gpu_hours(cfg: TrainConfig, n_train: int | None = None) -> float:
    """Estimated training time of one run in GPU hours (see :data:`ESTIMATE_BASIS`)."""
    key = cfg.dataset.split(":", 1)[0]
    n = n_train if n_train is not None else N_TRAIN.get(key, 50000)
    ips = IMAGES_PER_S.get((cfg.arch, cfg.out_size))
    if ips is None:
        base = next((v for (a, s), v in IMAGES_PER_S.items() if a == cfg.arch), 4000.0)
        side = next((s for (a, s) in IMAGES_PER_S if a == cfg.arch), 32)
        ips = base * (side / cfg.out_size) ** 2
    return cfg.epochs * n / ips / 3600.0


def longtail_size(imbalance: float) -> int:
    """Training images of TinyImageNet-LT at this ratio (200 classes, 500 per class at the head)."""
    from core.data.longtail import longtail_counts

    return sum(longtail_counts(500, 200, imbalance))


def estimate(table: str, seeds: int = 3) -> dict[str, Any]:
    """The dry run of a recipe: each row's command (seed 0 shown) and GPU hours, the total for ``seeds`` seeds."""
    rows = load_recipe(table)
    out, total = [], 0.0
    configs: dict[str, TrainConfig] = {}
    built: dict[str, int] = {}  # folder: dataset spec of a longtail build -> its training images
    for row in rows:
        flags = row.flags
        if row.argv[0] == "longtail":  # builds a dataset of links: no GPU time
            built[f"folder:{flags['out']}"] = longtail_size(float(flags.get("imbalance", 100)))
            out.append({"row": row.row, "command": row.command, "gpu_hours_per_seed": 0.0})
            continue
        if row.argv[0] == "prune":
            parent_name = Path(str(flags["run_dir"])).name
            parent = configs.get(parent_name)
            cfg = row_config(row, parent)
            n = round(N_TRAIN.get(cfg.dataset.split(":", 1)[0], 50000) * (1 - float(flags["ratio"])))
            hours = gpu_hours(cfg, n) if flags.get("train") else 0.0
        else:
            cfg = row_config(row)
            configs[str(flags.get("name"))] = cfg
            hours = gpu_hours(cfg, built.get(cfg.dataset))
        total += hours * seeds
        out.append({"row": row.row, "command": row.command, "gpu_hours_per_seed": round(hours, 2)})
    stores = image_stores(configs.values(), built)
    return {
        "table": table, "seeds": seeds, "rows": out, "gpu_hours_total": round(total, 1), "basis": ESTIMATE_BASIS,
        **({"image_stores": stores} if stores else {}),
    }  # fmt: skip


def image_stores(configs: Iterable[TrainConfig], built: dict[str, int]) -> list[dict[str, Any]]:
    """The on-disk image stores (``core.data.imagestore``) a recipe's file-based datasets decode into, once each:
    ``{"dataset", "image_size", "rows", "bytes", "gib", "free_bytes", "workers", "seconds"}`` (a dry run's
    disk size and build-time estimate; the build rate is ``BUILD_RATE_PER_CORE`` per worker process)."""
    from core.data.imagestore import estimate_build, store_root

    out: dict[tuple[str, int], dict[str, Any]] = {}
    for cfg in configs:
        key = cfg.dataset.split(":", 1)[0]
        n = built.get(cfg.dataset) or (N_TRAIN[key] + N_TEST[key] if key in N_TEST else None)
        size = cfg.image_size or cfg.out_size
        if n is None or (cfg.dataset, size) in out:
            continue
        est = estimate_build(n, 3, size, store_root())
        gib = round(est["bytes"] / 2**30, 1)
        out[(cfg.dataset, size)] = {"dataset": cfg.dataset, "image_size": size, **est, "gib": gib}
    return list(out.values())
