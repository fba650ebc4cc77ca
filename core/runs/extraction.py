"""Sharded feature extraction of a run: ``torchrun --nproc_per_node=G -m core extract --run-dir R``.

Every rank loads the run's backbone (eval mode, so a row's feature does not depend on its batch) and
extracts the contiguous rows :func:`core.data.shards.shard_rows` gives it, for the train and the test
split, into ``R/features/{split}_rank{r}.npy``. After a barrier rank 0 writes the labels and
``R/features/index.json`` (last: a folder with an index is complete), removes shards of an older,
wider extraction, and assembles the usual ``features.npz`` by streaming the shards into it block by
block (bounded memory at any N; ``npz=False`` skips it). Every analysis reads either format through
``core.rundir.featurefile.open_features`` (the newer of the two when both exist), which reads the
shards themselves as one (N, D) array with :func:`core.data.shards.open_sharded`.
Without torchrun it is one process writing one shard. Layout and arithmetic: ``docs/scale.md``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.data.shards import INDEX, shard_index, shard_rows
from core.errors import HardpairsError
from core.io import run_log, save_npy, save_npz, write_json


def extract_run_sharded(run_dir: str | os.PathLike[str], device: str = "auto", npz: bool = True) -> dict[str, Any]:
    """Extract this rank's shard of a run's features (see the module docstring).

    Args:
        run_dir: a run folder with ``checkpoints/last.pt``.
        device: ``auto``/``cpu``/``cuda``; under torchrun CUDA ranks use ``cuda:LOCAL_RANK``, else gloo on CPU.
        npz: also assemble ``features.npz`` (default; False: the shards only).

    Returns:
        ``run_dir, rank, world_size, rows`` (this rank's train rows), ``dim``, ``shards_dir``, ``features_npz``.
    """
    from core.runs.pipeline import load_run_backbone, load_run_data, run_config
    from core.training.distributed import cleanup_distributed, setup_distributed

    run = Path(run_dir)
    if not (run / "config.json").is_file():
        raise HardpairsError(f"{run} is not a run folder (no config.json); pass --run-dir of a trained or imported run")
    env, dev = setup_distributed(device)
    try:
        import torch.distributed as dist

        from core.models.features import extract_features
        from core.models.models import FEATURE_DIMS

        cfg = run_config(run)
        data = load_run_data(cfg)
        backbone = load_run_backbone(run, dev)
        out = run / "features"
        t0 = time.time()
        dim = FEATURE_DIMS[cfg.arch]
        for split, x in (("train", data.x_train), ("test", data.x_test)):
            rows = shard_rows(len(x), env.world_size, env.rank)
            # only this rank's rows are read, a chunk at a time (a streamed dataset is never read whole)
            feats = extract_features(backbone, x, cfg.out_size, data.mean, data.std, dev, rows=rows)
            if len(feats) and not np.isfinite(feats).all():
                raise HardpairsError(f"the features of {run} contain NaN/inf; the checkpoint is broken -- retrain")
            save_npy(out / f"{split}_rank{env.rank}.npy", feats if len(feats) else np.zeros((0, dim), np.float32))
        if env.enabled:
            dist.barrier()
        wrote_npz = False
        if env.is_main:
            wrote_npz = _finish(run, out, env.world_size, dim, data, npz)
            run_log(run, f"extracted features in {env.world_size} shard(s) ({time.time() - t0:.1f}s): {out}")
        if env.enabled:
            dist.barrier()  # no rank returns before the index exists
        n_rows = shard_rows(len(data.x_train), env.world_size, env.rank)
        return {
            "run_dir": str(run),
            "rank": env.rank,
            "world_size": env.world_size,
            "rows": n_rows.stop - n_rows.start,
            "dim": dim,
            "shards_dir": str(out),
            "features_npz": wrote_npz,
        }
    finally:
        cleanup_distributed()


def _finish(run: Path, out: Path, world: int, dim: int, data: Any, npz: bool) -> bool:
    """Rank 0: labels, stale shards removed, the index, then ``features.npz`` streamed from the shards."""
    from core.data.shards import open_sharded

    save_npy(out / "y_train.npy", data.y_train.astype(np.int64))
    save_npy(out / "y_test.npy", data.y_test.astype(np.int64))
    index = shard_index(world, dim, {"train": len(data.x_train), "test": len(data.x_test)})
    wanted = {sh["file"] for s in index["splits"].values() for sh in s["shards"]}
    (out / INDEX).unlink(missing_ok=True)  # first: no reader may follow an index to a shard removed below
    for old in out.glob("*_rank*.npy"):  # only shards an earlier extraction with more ranks wrote
        if re.fullmatch(r"(train|test)_rank\d+\.npy", old.name) and old.name not in wanted:
            old.unlink()
    write_json(out / INDEX, index)
    if not npz:
        return False
    save_npz(  # streamed shard by shard (core.io.save_npz): 1M x 512 never sits in memory whole
        run / "features.npz",
        train=open_sharded(out, "train"),
        test=open_sharded(out, "test"),
        y_train=data.y_train.astype(np.int64),
        y_test=data.y_test.astype(np.int64),
    )
    return True
