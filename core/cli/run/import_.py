"""CLI: ``import --checkpoint FILE`` -- a checkpoint as a new run (``core.runs.importing.import_run``).

The module is ``import_`` because ``import`` is a Python keyword (``core.cli.command_module``).
"""

from __future__ import annotations

import argparse
from typing import Any


def cmd_import(args: argparse.Namespace) -> dict[str, Any]:
    """``import``: :func:`core.runs.importing.import_run` (a failed import leaves no run folder behind)."""
    from core.runs.importing import import_run

    return import_run(
        args.checkpoint,
        dataset=args.dataset,
        arch=args.arch,
        out_size=args.out_size,
        image_size=args.image_size,
        run_dir=args.run_dir,
        name=args.name,
        runs_root=args.runs_root,
        download=args.download,
    )


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``import``."""
    p.add_argument(
        "--checkpoint", required=True, help="path of the .pt/.pth/.ckpt file (loaded with weights_only=True)"
    )
    p.add_argument("--dataset", help="dataset to extract features for (default: the checkpoint's own, else digits)")
    p.add_argument("--arch", help="expected architecture (default: detected)")
    p.add_argument("--out-size", type=int, help="input resolution the backbone expects")
    p.add_argument(
        "--image-size", type=int, help="decode (and store) the images at this size, e.g. 224 for a large folder"
    )
    p.add_argument("--run-dir")
    p.add_argument("--name")
    p.add_argument("--runs-root")
    p.add_argument("--download", action="store_true")
    p.set_defaults(func=cmd_import)
