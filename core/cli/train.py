"""CLI: ``train`` (``import``, ``probe`` and ``runs`` are in ``core.cli.runs``).

``train`` prints its config, writes the run folder (config, manifest, status, progress, log,
checkpoints), then extracts features and probes them, and with ``--analyse`` also computes
scores, hardest pairs, the UMAP map and the theory estimates, so every app page has content.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.runs.training import TrainOptions, derive_config, train_run
from core.training import lossmodes
from core.training.config import TrainConfig, make_config

#: train flag -> (type, help). Defaults are None so the preset decides.
_TRAIN_FLAGS: dict[str, tuple[Any, str]] = {
    "epochs": (int, "training epochs (quick digits: 40, paper: 200)"),
    "batch_size": (int, "images per batch (2 views each); paper: 512 on CIFAR"),
    "lr": (float, "peak learning rate after warm-up"),
    "optimizer": (str, "sgd or adamw"),
    "weight_decay": (float, "weight decay (not on BN/bias)"),
    "warmup_epochs": (int, "linear warm-up epochs before the cosine decay"),
    "temperature": (float, "base temperature tau of the contrastive loss (paper: 0.5 CIFAR-10, 0.1 CIFAR-100)"),
    "loss_mode": (str, lossmodes.cli_help()),
    "pos_high": (float, "posHigh: pairs above this top fraction of each row are taken as same-class (~1/classes)"),
    "pos_low": (
        float,
        "posLow: pairs between posHigh and this fraction are 'difficult' (paper: 0.22 CIFAR-10, 0.5 CIFAR-100)",
    ),
    "sigma": (float, "margin added to difficult-pair logits (margin/combined; paper 0.03-0.1)"),
    "rho": (float, "temperature factor on difficult pairs (temperature/combined; paper 0.6-0.7, <1)"),
    "removal": (str, "removal variant: zero (Eq. 13, logit set to 0) or mask (dropped from the denominator)"),
    "beta": (float, "hardening strength of hard_ucl/hard_scl (0 = no tilt)"),
    "tau_plus": (float, "class-prior debiasing of hard_ucl in [0, 1)"),
    "hard_threshold": (float, "hard_scl_thr: only other-label views with cosine >= this are negatives"),
    "selection": (
        str,
        "strict (Eq. 12: s < Sim_posHigh) or inclusive (s <= Sim_posHigh; with --pos-high 0 "
        "--pos-low 1 every pair is flagged: the 'All samples' rows of Tables 2-3)",
    ),
    "select_on": (str, "features the selection ranks: backbone (pre-projector h, the paper's) or projector (Table 7)"),
    "method": (str, "simclr (default) or moco (MoCo v2: momentum encoder + queue; the paper modes act on the queue)"),
    "moco_momentum": (float, "MoCo key-encoder momentum (default 0.99)"),
    "queue_size": (int, "MoCo queue length in negatives (default 4096)"),
    "preset_from": (
        str,
        "with --preset paper: take this dataset's paper values (cifar10, cifar100, stl10, "
        "tinyimagenet, imagenet), e.g. for a folder: dataset",
    ),
    "arch": (str, "small_cnn (tiny images, CPU) or resnet18 (CIFAR stem)"),
    "out_size": (int, "training resolution in pixels"),
    "mix": (float, "Mixed-omega contamination: fraction of train images replaced by a mix with another class"),
    "mix_lambda": (float, "weight of the original image in a mix"),
    "mix_seed": (int, "seed of the Mixed-omega contamination only (default 0: every --seed trains on one mixed set)"),
    "image_size": (int, "resize source images to this size when loading"),
    "seed": (int, "seed for shuffling, augmentation and initialisation (mixing: --mix-seed)"),
    "device": (str, "auto, cpu or cuda[:N]"),
    "checkpoint_every": (int, "write checkpoints/last.pt every this many epochs (and at the end)"),
    "log_every": (int, "log (and sync with the device) every this many steps"),
    "keep": (str, "kept training indices (.npy) for a pruned retrain"),
    "parent": (str, "parent run folder of a pruned retrain (provenance)"),
    "prune_score": (str, "score used to prune (provenance)"),
    "prune_ratio": (float, "pruning ratio (provenance)"),
}


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides = {k: getattr(args, k) for k in _TRAIN_FLAGS if getattr(args, k, None) is not None}
    if args.monitor:
        overrides["monitor"] = True
    if args.compile:
        overrides["compile"] = True
    if args.config:
        return derive_config(args.config, overrides, dataset=args.dataset, preset=args.preset)
    return make_config(args.dataset or "digits", args.preset, **overrides)


def _options(args: argparse.Namespace) -> TrainOptions:
    command = " ".join(["python", "-m", "core", *sys.argv[1:]]) if sys.argv[0].endswith("core") else None
    return TrainOptions(
        run_dir=args.run_dir,
        name=args.name,
        runs_root=args.runs_root,
        resume=args.resume,
        epochs=args.epochs,
        download=args.download,
        probe=not args.no_probe,
        analyse=args.analyse,
        device=args.device,
        command=command,
    )


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    """``python -m core train``: see :func:`core.runs.training.train_run` (torchrun-aware)."""
    from core.training.allocator import keep_freed_memory

    keep_freed_memory()  # freed activations are reused, not unmapped and re-faulted each step
    config = None if args.resume else (lambda: _config_from_args(args))
    return train_run(config, _options(args))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``train`` to the ``python -m core`` parser."""
    p = sub.add_parser(
        "train",
        help="train SimCLR (optionally with the paper's difficult-pair losses), then probe",
        description="Train SimCLR into a new run folder, extract features and probe them.",
    )
    p.add_argument(
        "--dataset",
        help="digits (default, offline), cifar10, cifar100, stl10, stl10+unlabeled, tinyimagenet[:PATH], "
        "imagenet:PATH, folder:PATH, npz:PATH",
    )
    p.add_argument(
        "--preset",
        choices=("quick", "paper"),
        help="quick (CPU-sized; default for digits) or paper (the appendix values)",
    )
    for name, (typ, help_text) in _TRAIN_FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), type=typ, default=None, help=help_text)
    p.add_argument("--config", help="start from a run's config.json (flags override it)")
    p.add_argument("--run-dir", help="the run folder (default: a new folder under the runs root)")
    p.add_argument("--name", help="name of the new run folder under the runs root")
    p.add_argument("--runs-root", help="where run folders live (default $HARDPAIRS_RUNS or cache/runs)")
    p.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --run-dir from its last checkpoint"
    )
    p.add_argument("--analyse", action="store_true", help="after probing, also compute scores, pairs, UMAP and theory")
    p.add_argument("--no-probe", action="store_true", help="skip feature extraction's probe step")
    p.add_argument(
        "--monitor", action="store_true", help="log UCL/H-UCL/SCL/H-SCL values of the training batches (needs labels)"
    )
    p.add_argument("--compile", action="store_true", help="use torch.compile (falls back to eager when unavailable)")
    p.add_argument(
        "--download", action="store_true", help="let torchvision download cifar10/cifar100/stl10 (needs internet)"
    )
    p.set_defaults(func=cmd_train)
