"""CLI: ``extract`` -- a run's features, one shard per process (``torchrun --nproc_per_node=G -m core extract``)."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_extract(args: argparse.Namespace) -> dict[str, Any]:
    """``extract``: :func:`core.runs.extraction.extract_run_sharded`."""
    from core.runs.extraction import extract_run_sharded
    from core.training.allocator import keep_freed_memory

    keep_freed_memory()  # the same fix as training: batch buffers are reused, not unmapped and re-faulted
    return extract_run_sharded(args.run_dir, device=args.device, npz=args.npz == "yes")


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``extract``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (torchrun ranks: cuda:LOCAL_RANK, else gloo)")
    p.add_argument(
        "--npz",
        choices=("yes", "no"),
        default="yes",
        help="also assemble features.npz from the shards, streamed in blocks (what the analysis reads); no: shards",
    )
    p.set_defaults(func=cmd_extract)
