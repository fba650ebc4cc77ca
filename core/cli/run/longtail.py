"""CLI: ``longtail`` -- build TinyImageNet-LT (the paper's Table 6) as a ``folder:`` dataset of links.

``python -m core longtail --dataset tinyimagenet:PATH --imbalance 100 --out DIR`` writes
``DIR/train/<wnid>/*`` (the exponential long-tailed profile), ``DIR/test/<wnid>/*`` (the balanced val
images) and ``DIR/longtail.json``; train on it with ``--dataset folder:DIR``. See ``core.data.longtail``.
"""

from __future__ import annotations

import argparse
from typing import Any


def cmd_longtail(args: argparse.Namespace) -> dict[str, Any]:
    """``longtail``: :func:`core.data.longtail.build_longtail`; prints the manifest without the class lists."""
    from core.data.longtail import build_longtail

    out = build_longtail(args.dataset, args.imbalance, args.out, seed=args.seed, data_root=args.data_root)
    return {k: v for k, v in out.items() if k not in ("class_order", "train_counts")}


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``longtail``."""
    p.add_argument("--dataset", required=True, help="tinyimagenet or tinyimagenet:PATH (the tiny-imagenet-200 folder)")
    p.add_argument("--imbalance", type=float, default=100.0, help="R = n_max / n_min of the exponential profile")
    p.add_argument("--out", required=True, help="the folder to build (train on it with --dataset folder:OUT)")
    p.add_argument("--seed", type=int, default=0, help="seed of the class order and of the kept images")
    p.add_argument("--data-root", help="where plain `tinyimagenet` is looked up (default $HARDPAIRS_DATA or data/)")
    p.set_defaults(func=cmd_longtail)
