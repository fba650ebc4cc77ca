"""CLI: ``probe`` (a run's linear probe and kNN), ``import`` (a checkpoint as a new run) and ``runs``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.runs.folder import list_runs, read_json, require_run, run_summary, update_status, write_json
from core.training.config import make_config


def cmd_probe(args: argparse.Namespace) -> dict[str, Any]:
    from core.runs.pipeline import probe_run

    run_dir = require_run(args.run_dir)
    metrics = probe_run(run_dir)
    return {"run_dir": str(run_dir), "linear_acc": metrics["linear_acc"], "knn_acc": metrics["knn_acc"]}


def cmd_import(args: argparse.Namespace) -> dict[str, Any]:
    """Import a foreign or own checkpoint into a new run folder, then extract features and probe."""
    from core.runs.manifest import make_manifest
    from core.runs.pipeline import load_run_data, new_run_dir, probe_run
    from core.training.checkpoints import FORMAT, load_backbone_state, save_checkpoint
    from core.training.features import pick_device

    arch, in_ch, state, saved_cfg = load_backbone_state(args.checkpoint)
    if args.arch not in (None, "auto") and args.arch != arch:
        raise HardpairsError(
            f"--arch {args.arch} given, but the checkpoint is a {arch}; drop --arch or pass --arch {arch}"
        )
    base = {k: v for k, v in (saved_cfg or {}).items() if k != "created"}
    overrides = {
        "arch": arch,
        "dataset": args.dataset or base.get("dataset", "digits"),
        "epochs": base.get("epochs", 1),
    }
    if args.out_size:
        overrides["out_size"] = args.out_size
    cfg = make_config(
        overrides.pop("dataset"),
        base.get("preset"),
        **{**{k: v for k, v in base.items() if k not in ("dataset", "preset")}, **overrides},
    )
    data = load_run_data(cfg, download=args.download)
    if data.x_train.shape[1] != in_ch:
        raise HardpairsError(
            f"the checkpoint expects {in_ch}-channel images but {data.spec} has {data.x_train.shape[1]}; "
            "choose a dataset with matching channels"
        )
    run_dir = new_run_dir(cfg, args.run_dir, args.name, args.runs_root)
    write_json(run_dir / "config.json", cfg.to_dict())
    manifest = make_manifest(run_dir.name, cfg.to_dict(), data, None, pick_device(cfg.device))
    manifest["imported_from"] = str(Path(args.checkpoint).resolve())
    write_json(run_dir / "manifest.json", manifest)
    save_checkpoint(
        run_dir / "checkpoints" / "last.pt",
        {
            "format": FORMAT,
            "version": 1,
            "config": cfg.to_dict(),
            "epoch": 0,
            "model": {f"backbone.{k}": v for k, v in state.items()},
            "optimizer": {},
            "metrics": {},
        },
    )
    update_status(run_dir, state="running", message="extracting features and probing")
    out: dict[str, Any] = {"run_dir": str(run_dir), "arch": arch}
    if (data.y_train >= 0).all():
        metrics = probe_run(run_dir, data)
        out.update(linear_acc=metrics["linear_acc"], knn_acc=metrics["knn_acc"])
    else:
        from core.runs.pipeline import extract_run_features

        extract_run_features(run_dir, data)
    update_status(run_dir, state="done", message="imported")
    return out


def cmd_runs(args: argparse.Namespace) -> dict[str, Any]:
    if args.show:
        summary = run_summary(require_run(args.show))
        summary["config"] = read_json(Path(args.show) / "config.json")
        summary["manifest"] = read_json(Path(args.show) / "manifest.json")
        summary["metrics"] = read_json(Path(args.show) / "metrics.json")
        return summary
    rows = list_runs(args.runs_root)
    for r in rows:
        acc = f"{r['linear_acc']:.4f}" if r["linear_acc"] is not None else "-"
        print(f"{r['run_id']:<55} {str(r['state']):<9} {str(r['loss_mode']):<11} acc {acc}", file=sys.stderr)
    return {"runs": rows}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("probe", help="linear-probe and kNN accuracy of a run's frozen features")
    p.add_argument("--run-dir", required=True)
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser(
        "import", help="import a checkpoint (Hardpairs, torchvision ResNet-18, SSL-library layouts) as a run"
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
