"""CLI: ``label-issues --run-dir R [--top N]`` -- label-error suggestions -> ``R/label_issues.csv``.

"labelled 8, looks like 3 (p = 0.91)" for every training sample, most likely error first, from the linear
probe's out-of-fold probabilities and kNN votes (``core.analysis.labelerrors``). Cached like every
analysis. The top N lines are printed on stderr and listed under ``top`` in the JSON. The review
verdicts are tags (``tag --add mislabelled|ambiguous|label-ok``); prune by them with
``prune --tag mislabelled``. The work is done by ``core.audit.labelerrors.label_issues_for_run``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from core.analysis.labelerrors import RANKINGS, WEIGHT_DECAY
from core.audit.labelerrors import class_list, describe_issue, label_issues_for_run, read_issues
from core.cli.checks import int_at_least, number_in


def cmd_label_issues(args: argparse.Namespace) -> dict[str, Any]:
    """``label-issues``: :func:`core.audit.labelerrors.label_issues_for_run`, then the top ``--top`` rows."""
    int_at_least("--top", args.top, 0)
    int_at_least("--folds", args.folds, 2, " (the out-of-fold probe needs at least 2 folds)")
    int_at_least("--k", args.k, 1, " neighbours")
    number_in("--t", args.t, 0.0, float("inf"), low_open=True, high_open=True)
    number_in("--probe-weight", args.probe_weight, 0.0, 1.0)
    number_in("--weight-decay", args.weight_decay, 0.0, float("inf"), high_open=True)
    result = label_issues_for_run(
        args.run_dir,
        folds=args.folds,
        k=args.k,
        t=args.t,
        probe_weight=args.probe_weight,
        ranking=args.ranking,
        seed=args.seed,
        weight_decay=args.weight_decay,
        force=args.force,
    )
    frame = read_issues(args.run_dir)
    assert frame is not None  # just written
    names = class_list(args.run_dir, frame["label"].to_numpy(np.int64))
    top = frame[frame["flagged"].astype(bool)].head(args.top)
    print(f"{result['n_flagged']} of {result['n']} samples flagged; the top {len(top)}:", file=sys.stderr)
    for row in top.to_dict("records"):
        print(f"{int(row['rank']):>6}  #{int(row['id']):<7} {describe_issue(row, names)}", file=sys.stderr)
    listed = [
        {k: row[k] for k in ("rank", "id", "label", "suggested", "confidence", "p_label")}
        | {"text": describe_issue(row, names)}
        for row in top.to_dict("records")
    ]
    return result | {"top": listed}


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``label-issues``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument("--top", type=int, default=20, help="print the N most likely label errors (default 20)")
    p.add_argument("--folds", type=int, default=5, help="folds of the out-of-fold linear probe (default 5)")
    p.add_argument("--k", type=int, default=20, help="kNN neighbours that vote (default 20)")
    p.add_argument("--t", type=float, default=0.07, help="kNN vote temperature (default 0.07)")
    p.add_argument(
        "--probe-weight",
        type=float,
        default=0.5,
        help="weight of the probe's probabilities against the kNN votes, 0..1 (default 0.5)",
    )
    p.add_argument("--ranking", choices=RANKINGS, default="self_confidence", help="how samples are ranked")
    p.add_argument("--seed", type=int, default=None, help="fold split seed (default: the run's seed)")
    p.add_argument(
        "--weight-decay", type=float, default=WEIGHT_DECAY, help=f"the probe's weight decay (default {WEIGHT_DECAY:g})"
    )
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.set_defaults(func=cmd_label_issues)
