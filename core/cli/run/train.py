"""CLI: ``train``.

``train`` prints its config, writes the run folder (config, manifest, status, progress, log,
checkpoints), then extracts features and probes them, and with ``--analyse`` also computes
scores, hardest pairs, the UMAP map and the theory estimates, so every app page has content.
Its config flags are made from ``TrainConfig``'s field metadata (:func:`config_flags`); ``--dataset``
lists the specs of ``core.data.sources.DATASET_SPECS``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from core.analysis.probe import PROTOCOLS
from core.data.sources import DATASET_SPECS
from core.runs.training import TrainOptions, derive_config, train_run
from core.training.config import TrainConfig, make_config

_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


def config_flags() -> dict[str, dict[str, Any]]:
    """``TrainConfig`` field -> the ``add_argument`` keywords of its ``train`` flag (the fields with a help).

    The type is the field's annotation without ``| None`` (``bool``: ``store_true``); the default is None,
    so an absent flag leaves the value to the preset (or to ``--config``).
    """
    flags: dict[str, dict[str, Any]] = {}
    for f in dataclasses.fields(TrainConfig):
        if "help" not in f.metadata:
            continue
        kind = _TYPES[str(f.type).split("|")[0].strip()]
        extra = {"action": "store_true"} if kind is bool else {"type": kind}
        flags[f.name] = {**extra, **f.metadata, "default": None}
    return flags


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides = {k: getattr(args, k) for k in config_flags() if k != "preset" and getattr(args, k) is not None}
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
        protocol=args.protocol,
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


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``train``."""
    p.description = "Train SimCLR into a new run folder, extract features and probe them."
    default = TrainConfig.dataset
    specs = [f"{spec} (default, offline)" if spec == default else spec for spec in DATASET_SPECS]
    p.add_argument("--dataset", help=", ".join(specs))
    for name, keywords in config_flags().items():
        p.add_argument("--" + name.replace("_", "-"), **keywords)
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
        "--protocol",
        choices=PROTOCOLS,
        default="lbfgs",
        help="linear-probe protocol after training: lbfgs (fast, default) or paper (the paper's minibatch SGD; "
        "the recipes use it, and only such runs are set beside the paper's numbers)",
    )
    p.add_argument(
        "--download", action="store_true", help="let torchvision download cifar10/cifar100/stl10 (needs internet)"
    )
    p.set_defaults(func=cmd_train)
