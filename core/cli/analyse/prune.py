"""CLI: ``prune --run-dir R --score S --ratio F`` or ``prune --run-dir R --tag NAME`` [``--train`` ...].

- ``--score S --ratio F``: ``keep.npy``, ``pruned.npy`` and ``per_class.csv`` in
  ``R/prune/<S>_<F>_seed<seed>/`` (``core.runs.pruning.prune_run``); ``S`` is a row of
  ``core.analysis.scoretable``.
- ``--tag NAME``: keep every sample not tagged NAME (``core.audit.tagprune.prune_by_tag``).

``--train`` retrains on the kept samples as a new run that records its parent, score and ratio (in this
process), with the parent's settings unless a retrain flag overrides them. These handlers only parse.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from core.analysis.scoretable import SCORE_NAMES, cli_help
from core.cli.checks import add_runs_root_flag, int_at_least, number_in, run_in_root
from core.errors import HardpairsError
from core.runs.pruning import RETRAIN_FIELDS, prune_run
from core.training import lossmodes


def _retrain(args: argparse.Namespace) -> dict[str, Any]:
    """The retrain overrides given (``None`` = the parent's value)."""
    return {name: getattr(args, name, None) for name in RETRAIN_FIELDS}


def cmd_prune(args: argparse.Namespace) -> dict[str, Any]:
    """``prune``: :func:`core.runs.pruning.prune_run` (``--train`` retrains in this process); ``--tag``: by a tag."""
    if args.tag is not None:
        return _prune_tag(args)
    if args.score is None or args.ratio is None:
        raise HardpairsError("prune needs --score S --ratio F (or --tag NAME to prune the samples carrying a tag)")
    _check_prune_flags(args)
    return prune_run(
        args.run_dir,
        args.score,
        args.ratio,
        seed=args.seed,
        out=args.out,
        train=args.train,
        retrain=_retrain(args),
        analyse=args.analyse,
        match_steps=args.match_steps,
    )


def _prune_tag(args: argparse.Namespace) -> dict[str, Any]:
    """``prune --tag NAME``: :func:`core.audit.tagprune.prune_by_tag` (refuses --score/--ratio/--out)."""
    from core.audit.tagprune import prune_by_tag

    run_in_root(args.run_dir, args.runs_root)  # containment: only runs inside the runs root
    clash = [f for f, v in (("--score", args.score), ("--ratio", args.ratio), ("--out", args.out)) if v is not None]
    if clash:
        raise HardpairsError(f"--tag prunes exactly the tagged samples; drop {', '.join(clash)}")
    if args.seed is not None and not 0 <= args.seed < 2**32:  # before the prune folder is written
        raise HardpairsError(f"--seed must be in [0, 2**32) (got {args.seed})")
    int_at_least("--epochs", args.epochs, 1)
    return prune_by_tag(
        args.run_dir, args.tag, seed=args.seed, train=args.train, retrain=_retrain(args), analyse=args.analyse
    )


def _check_prune_flags(args: argparse.Namespace) -> None:
    """The prune flags, before any file is read or written (the retrain's own flags are checked by its config)."""
    if args.score not in SCORE_NAMES:
        raise HardpairsError(f"--score: unknown score {args.score!r}; use one of {', '.join(SCORE_NAMES)}")
    number_in("--ratio", args.ratio, 0.0, 1.0, high_open=True)
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise HardpairsError(f"--seed must be in [0, 2**32) (got {args.seed})")
    int_at_least("--epochs", args.epochs, 1)
    for knob in lossmodes.RETRAIN_KNOBS:
        value = getattr(args, knob, None)
        if value is not None and not math.isfinite(value):
            raise HardpairsError(f"--{knob.replace('_', '-')} must be a finite number (got {value})")


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``prune``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument("--score", help=f"{cli_help()}; or --tag")
    p.add_argument("--ratio", type=float, help="share to remove, in [0, 1) (with --score)")
    p.add_argument("--tag", metavar="NAME", help="instead of --score/--ratio: remove the samples tagged NAME")
    p.add_argument(
        "--seed", type=int, default=None, help="tie-breaking seed, also the retrain seed (default: the run's)"
    )
    p.add_argument("--out", default=None, help="output folder (default R/prune/<score>_<ratio>_seed<seed>)")
    p.add_argument("--train", action="store_true", help="retrain on the kept samples as a new run")
    p.add_argument(
        "--loss-mode", metavar="MODE", help="retrain loss mode (default: the parent's); " + lossmodes.cli_help()
    )
    for flag in (k.replace("_", "-") for k in lossmodes.RETRAIN_KNOBS):
        p.add_argument("--" + flag, type=float, help=f"retrain --{flag} (default: the parent's)")
    p.add_argument("--epochs", type=int, help="retrain epochs (default: the parent's)")
    p.add_argument(
        "--match-steps",
        action="store_true",
        help="retrain for the parent's number of optimiser steps (more epochs on the fewer kept samples) instead "
        "of its number of epochs; the child's manifest records both step counts",
    )
    p.add_argument("--analyse", action="store_true", help="also score and map the retrained run")
    add_runs_root_flag(p)
    p.set_defaults(func=cmd_prune)
