"""CLI: ``score``, ``pairs`` and ``prune`` over a run's features.

- ``score --run-dir R``: per-sample difficulty scores -> ``R/scores.csv`` (``index,label``, one
  column per score, ``mixed`` for a contaminated dataset) and ``R/scores.json`` (the parameters,
  the band thresholds, and each score's AUROC at finding the mixed images). Cached: a second call
  with the same parameters and the same ``features.npz`` returns the stored result.
- ``pairs --run-dir R``: the hardest cross-class pairs -> ``pairs.csv``; the class x class map
  -> ``class_pairs.npz`` (``difficult_counts``, ``mean_similarity``, ``t_hi``, ``t_lo``). Cached
  in ``pairs.json`` like ``score``; ``--force`` recomputes.
- ``prune --run-dir R --score S --ratio F``: ``keep.npy``, ``pruned.npy`` and
  ``per_class.csv`` in ``R/prune/<S>_<F>_seed<seed>/``; ``--train`` retrains on the kept samples
  as a new run that records its parent, score and ratio (in this process).

The work is done by ``core.runs.analysis`` and ``core.runs.pruning``; these handlers only parse.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from core.analysis.prune import ORACLE_SCORES
from core.analysis.sampled import APPROX_MIN_N, KNN_METHODS
from core.analysis.scores import FREE_SCORES, LABEL_SCORES
from core.cli.checks import int_at_least, number_in
from core.errors import HardpairsError
from core.runs.analysis import pairs_for_run, scores_for_run
from core.runs.pruning import RETRAIN_FIELDS, prune_run
from core.training.lossmodes import RETRAIN_KNOBS, cli_help


def cmd_score(args: argparse.Namespace) -> dict[str, Any]:
    """``score``: :func:`core.runs.analysis.scores_for_run`."""
    int_at_least("--k", args.k, 1, " neighbours per side")
    int_at_least("--band-reference", args.band_reference, 2, " reference samples")
    int_at_least("--seed", args.seed, 0)
    return scores_for_run(
        args.run_dir, k=args.k, band_reference=args.band_reference, seed=args.seed, force=args.force, knn=args.knn
    )


def cmd_pairs(args: argparse.Namespace) -> dict[str, Any]:
    """``pairs``: :func:`core.runs.analysis.pairs_for_run`."""
    int_at_least("--top", args.top, 1, " pairs written to pairs.csv")
    int_at_least("--k", args.k, 1, " other-class neighbours per sample")
    return pairs_for_run(args.run_dir, top=args.top, k=args.k, force=args.force, knn=args.knn)


def cmd_prune(args: argparse.Namespace) -> dict[str, Any]:
    """``prune``: :func:`core.runs.pruning.prune_run` (``--train`` retrains in this process); ``--tag``: by a tag."""
    if args.tag is not None:
        from core.cli.tags import cmd_prune_tag

        return cmd_prune_tag(args)
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
        retrain={name: getattr(args, name, None) for name in RETRAIN_FIELDS},
        analyse=args.analyse,
    )


def _check_prune_flags(args: argparse.Namespace) -> None:
    """The prune flags, before any file is read or written (the retrain's own flags are checked by its config)."""
    scores = (*FREE_SCORES, *LABEL_SCORES, *ORACLE_SCORES)
    if args.score not in scores:
        raise HardpairsError(f"--score: unknown score {args.score!r}; use one of {', '.join(scores)}")
    number_in("--ratio", args.ratio, 0.0, 1.0, high_open=True)
    int_at_least("--seed", args.seed, 0)
    int_at_least("--epochs", args.epochs, 1)
    for knob in RETRAIN_KNOBS:
        value = getattr(args, knob, None)
        if value is not None and not math.isfinite(value):
            raise HardpairsError(f"--{knob.replace('_', '-')} must be a finite number (got {value})")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``score``, ``pairs`` and ``prune`` to the ``python -m core`` parser."""
    p = subparsers.add_parser("score", help="per-sample difficulty scores -> scores.csv")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--k", type=int, default=20, help="neighbours per side for cross_class")
    p.add_argument(
        "--band-reference",
        type=int,
        default=None,
        metavar="N",
        help="estimate band against N random reference samples (large datasets)",
    )
    p.add_argument("--seed", type=int, default=None, help="default: the run's seed")
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.add_argument(
        "--knn",
        choices=KNN_METHODS,
        default="auto",
        help=f"exact (all pairs), approx (IVF kNN + sampled thresholds), auto = approx above {APPROX_MIN_N:,} samples",
    )
    p.set_defaults(func=cmd_score)
    p = subparsers.add_parser("pairs", help="hardest cross-class pairs and the class-pair map")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--top", type=int, default=1000, help="pairs written to pairs.csv")
    p.add_argument("--k", type=int, default=20, help="other-class neighbours per sample")
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.add_argument(
        "--knn",
        choices=KNN_METHODS,
        default="auto",
        help=f"exact (all pairs), approx (IVF kNN + sampled thresholds), auto = approx above {APPROX_MIN_N:,} samples",
    )
    p.set_defaults(func=cmd_pairs)
    p = subparsers.add_parser("prune", help="kept/pruned indices by a score (and retrain)")
    p.add_argument("--run-dir", required=True)
    p.add_argument(
        "--score", help="band, cross_class, margin, prototype, random, mixed (oracle: Mixed-ω runs only); or --tag"
    )
    p.add_argument("--ratio", type=float, help="share to remove, in [0, 1) (with --score)")
    p.add_argument("--tag", metavar="NAME", help="instead of --score/--ratio: remove the samples tagged NAME")
    p.add_argument(
        "--seed", type=int, default=None, help="tie-breaking seed, also the retrain seed (default: the run's)"
    )
    p.add_argument("--out", default=None, help="output folder (default R/prune/<score>_<ratio>_seed<seed>)")
    p.add_argument("--train", action="store_true", help="retrain on the kept samples as a new run")
    p.add_argument("--loss-mode", metavar="MODE", help="retrain loss mode (default: the parent's); " + cli_help())
    for flag in (k.replace("_", "-") for k in RETRAIN_KNOBS):
        p.add_argument("--" + flag, type=float, help=f"retrain --{flag} (default: the parent's)")
    p.add_argument("--epochs", type=int, help="retrain epochs (default: the parent's)")
    p.add_argument("--analyse", action="store_true", help="also score and map the retrained run")
    p.set_defaults(func=cmd_prune)
