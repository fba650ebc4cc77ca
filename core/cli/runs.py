"""CLI: ``probe`` (a run's linear probe and kNN), ``import`` (a checkpoint as a new run) and ``runs``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.errors import HardpairsError
from core.rundir.folder import list_runs, read_run_json, require_run, run_summary


def cmd_probe(args: argparse.Namespace) -> dict[str, Any]:
    from core.runs.pipeline import probe_run

    run_dir = require_run(args.run_dir)
    metrics = probe_run(run_dir, protocol=args.protocol, knn_k=args.knn_k, knn_t=args.knn_t, knn_preset=args.knn_preset)
    return {
        "run_dir": str(run_dir),
        "linear_acc": metrics["linear_acc"],
        "knn_acc": metrics["knn_acc"],
        "protocol": metrics["protocol"],
        "probe": metrics["probe"],
    }


def cmd_import(args: argparse.Namespace) -> dict[str, Any]:
    """``import``: :func:`core.runs.importing.import_run` (a failed import leaves no run folder behind)."""
    from core.runs.importing import import_run

    return import_run(
        args.checkpoint,
        dataset=args.dataset,
        arch=args.arch,
        out_size=args.out_size,
        run_dir=args.run_dir,
        name=args.name,
        runs_root=args.runs_root,
        download=args.download,
    )


def cmd_runs(args: argparse.Namespace) -> dict[str, Any]:
    if args.show:
        summary = run_summary(require_run(args.show))
        for name in ("config", "manifest", "metrics"):
            try:
                summary[name] = read_run_json(args.show, f"{name}.json")
            except HardpairsError:
                summary[name] = None  # the summary's state and message say why
        return summary
    rows = list_runs(args.runs_root)
    for r in rows:
        acc = f"{r['linear_acc']:.4f}" if isinstance(r["linear_acc"], (int, float)) else "-"
        line = f"{r['run_id']:<55} {str(r['state']):<11} {str(r['loss_mode']):<11} acc {acc}"
        if r["state"] in ("unreadable", "interrupted"):
            line += f"  ({r['message']})"
        print(line, file=sys.stderr)
    return {"runs": rows}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("probe", help="linear-probe and kNN accuracy of a run's frozen features")
    p.add_argument("--run-dir", required=True)
    p.add_argument(
        "--protocol",
        choices=("lbfgs", "paper"),
        default="lbfgs",
        help="lbfgs (fast full-batch L-BFGS, default) or paper (minibatch SGD, the paper's batch and lr, "
        "100 epochs cosine); the two give different accuracies",
    )
    p.add_argument("--knn-k", type=int, help="kNN neighbours (default 20; jiang preset 200)")
    p.add_argument("--knn-t", type=float, help="kNN temperature (default 0.07; jiang preset 0.5)")
    p.add_argument("--knn-preset", choices=("default", "jiang"), default="default", help="jiang: k=200, t=0.5")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser(
        "import",
        help="import a checkpoint (Hardpairs; torchvision/timm ResNet-18/50; lightly, solo-learn/Lightning layouts; "
        "timm/DINO ViT) as a run; grayscale data into an RGB backbone repeats the channel",
    )
    p.add_argument(
        "--checkpoint", required=True, help="path of the .pt/.pth/.ckpt file (loaded with weights_only=True)"
    )
    p.add_argument("--dataset", help="dataset to extract features for (default: the checkpoint's own, else digits)")
    p.add_argument("--arch", help="expected architecture (default: detected)")
    p.add_argument("--out-size", type=int, help="input resolution the backbone expects")
    p.add_argument("--run-dir")
    p.add_argument("--name")
    p.add_argument("--runs-root")
    p.add_argument("--download", action="store_true")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("runs", help="list run folders, or show one")
    p.add_argument("--show", metavar="RUN_DIR", help="show one run's summary, config, manifest and metrics")
    p.add_argument("--runs-root")
    p.set_defaults(func=cmd_runs)
