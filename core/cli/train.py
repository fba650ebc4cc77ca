"""CLI: ``train`` (``import``, ``probe`` and ``runs`` are in ``core.cli.runs``).

``train`` prints its config, writes the run folder (config, manifest, status, progress, log,
checkpoints), then extracts features and probes them, and with ``--analyse`` also computes
scores, hardest pairs, the UMAP map and the theory estimates, so every app page has content.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import HardpairsError
from core.runs.folder import read_json, require_run, update_status, write_json
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
    "arch": (str, "small_cnn (tiny images, CPU) or resnet18 (CIFAR stem)"),
    "out_size": (int, "training resolution in pixels"),
    "mix": (float, "Mixed-omega contamination: fraction of train images replaced by a mix with another class"),
    "mix_lambda": (float, "weight of the original image in a mix"),
    "image_size": (int, "resize source images to this size when loading"),
    "seed": (int, "seed for shuffling, augmentation, initialisation and mixing"),
    "device": (str, "auto, cpu or cuda[:N]"),
    "checkpoint_every": (int, "write checkpoints/last.pt every this many epochs (and at the end)"),
    "log_every": (int, "log (and sync with the device) every this many steps"),
    "keep": (str, "kept training indices (.npy) for a pruned retrain"),
    "parent": (str, "parent run folder of a pruned retrain (provenance)"),
    "prune_score": (str, "score used to prune (provenance)"),
    "prune_ratio": (float, "pruning ratio (provenance)"),
}


def _log(run_dir: Path | None, message: str) -> None:
    print(message, file=sys.stderr, flush=True)
    if run_dir is not None:
        with open(run_dir / "log.txt", "a") as fh:
            fh.write(time.strftime("%H:%M:%S ") + message + "\n")


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides = {k: getattr(args, k) for k in _TRAIN_FLAGS if getattr(args, k, None) is not None}
    if args.monitor:
        overrides["monitor"] = True
    if args.compile:
        overrides["compile"] = True
    if args.config:
        base = read_json(args.config)
        if base is None:
            raise HardpairsError(f"--config {args.config} does not exist; pass a run's config.json")
        base = {k: v for k, v in base.items() if k != "created"}
        if args.dataset:
            base["dataset"] = args.dataset
        if args.preset:
            base["preset"] = args.preset
        for k in ("keep", "parent", "prune_score", "prune_ratio"):
            base.pop(k, None)  # provenance belongs to the new run, never inherited
        base.update(overrides)
        return TrainConfig.from_dict(base)
    return make_config(args.dataset or "digits", args.preset, **overrides)


def cmd_train(args: argparse.Namespace) -> dict:
    """Train; under torchrun rank 0 runs everything below, the other ranks only :func:`_train_rank`."""
    from core.training.distributed import broadcast_object, cleanup_distributed, setup_distributed

    env, _ = setup_distributed(args.device or "auto")
    try:
        if not env.is_main:
            return _train_rank(args, env)
        shared = []

        def share_job(*job: Any) -> None:
            broadcast_object(("ok", *job), env)
            shared.append(True)

        try:
            return _cmd_train_main(args, share_job)
        except HardpairsError as err:
            if env.enabled and not shared:  # the other ranks still wait for the job: tell them why not
                broadcast_object(("error", str(err)), env)
            raise
    finally:
        cleanup_distributed()


def _train_rank(args: argparse.Namespace, env) -> dict:
    """A non-zero torchrun rank: wait for rank 0's run folder and config, train, write nothing."""
    import os

    from core.runs.pipeline import load_run_data
    from core.training.distributed import broadcast_object
    from core.training.loop import TrainingStopped, train

    sys.stdout = open(os.devnull, "w")  # rank 0 prints the result; the others stay silent
    kind, *job = broadcast_object(None, env)
    if kind == "error":
        raise HardpairsError(job[0])
    run_dir, cfg_dict, keep = job
    cfg = TrainConfig.from_dict(cfg_dict)
    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    try:
        train(
            cfg,
            load_run_data(cfg, download=False),
            run_dir,
            keep=keep,
            resume=args.resume,
            should_stop=lambda: stop["flag"],
        )
    except TrainingStopped:
        return {"rank": env.rank, "state": "cancelled"}
    return {"rank": env.rank, "state": "done"}


def _cmd_train_main(args: argparse.Namespace, share_job) -> dict:
    from core.runs.manifest import make_manifest
    from core.runs.pipeline import extract_run_features, load_keep, load_run_data, new_run_dir, probe_run
    from core.training.loop import TrainingStopped, train

    if args.resume:
        if not args.run_dir:
            raise HardpairsError("--resume needs --run-dir RUN (the folder of the interrupted run)")
        run_dir = require_run(args.run_dir)
        saved = read_json(run_dir / "config.json")
        if args.epochs:
            saved["epochs"] = args.epochs
        cfg = TrainConfig.from_dict(saved)
    else:
        cfg = _config_from_args(args)
        run_dir = new_run_dir(cfg, args.run_dir, args.name, args.runs_root)
    _log(run_dir, f"run folder: {run_dir}")
    try:
        data = load_run_data(cfg, download=args.download)
        keep = None
        if cfg.keep:
            keep = load_keep(cfg.keep, len(data.x_train))
            if not args.resume:
                np.save(run_dir / "keep.npy", keep)
                cfg = TrainConfig.from_dict({**cfg.to_dict(), "keep": str(run_dir / "keep.npy")})
        if not args.resume:
            write_json(run_dir / "config.json", cfg.to_dict())
            from core.training.features import pick_device

            write_json(
                run_dir / "manifest.json",
                make_manifest(run_dir.name, cfg.to_dict(), data, keep, pick_device(cfg.device)),
            )
    except HardpairsError:
        if not (run_dir / "config.json").exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing was computed: leave no half-made folder
        raise
    share_job(str(run_dir), cfg.to_dict(), keep)  # other torchrun ranks train the same job
    _log(run_dir, "config:\n" + cfg.to_json())
    _log(
        run_dir,
        f"data: {data.spec} train={len(data.x_train)} test={len(data.x_test)} classes={len(data.classes)} "
        f"mixed={int(data.mixed.sum())} kept={len(keep) if keep is not None else len(data.x_train)}",
    )
    update_status(
        run_dir,
        state="running",
        epoch=0,
        epochs=cfg.epochs,
        message="training",
        pid=_pid(),
        command=" ".join(["python", "-m", "core", *sys.argv[1:]]) if sys.argv[0].endswith("core") else None,
    )

    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    t0 = time.time()
    progress = _progress_printer(run_dir, cfg.epochs)
    try:
        result = train(
            cfg, data, run_dir, keep=keep, resume=args.resume, on_event=progress, should_stop=lambda: stop["flag"]
        )
    except TrainingStopped as err:
        update_status(
            run_dir,
            state="cancelled",
            message=f"cancelled during epoch {err.args[0] + 1}; the last checkpoint is kept "
            f"(resume with `python -m core train --resume --run-dir {run_dir}`)",
        )
        _log(run_dir, "cancelled")
        return {"run_dir": str(run_dir), "state": "cancelled"}
    except HardpairsError as err:
        update_status(run_dir, state="failed", message=str(err))
        _log(run_dir, f"failed: {err}")
        raise
    except BaseException as err:
        update_status(run_dir, state="failed", message=f"{type(err).__name__}: {err}")
        _log(run_dir, traceback.format_exc())
        raise
    _log(
        run_dir,
        f"trained {cfg.epochs} epochs in {result.wall_time_s:.1f} s ({result.images_per_s:.0f} images/s), loss {result.final_loss:.4f}",
    )
    out: dict[str, Any] = {
        "run_dir": str(run_dir),
        "epochs": cfg.epochs,
        "final_loss": result.final_loss,
        "images_per_s": result.images_per_s,
        "train_seconds": result.wall_time_s,
    }
    try:
        update_status(run_dir, message="extracting features")
        extract_run_features(run_dir, data, force=True)
        if not args.no_probe and (data.y_train >= 0).all():
            update_status(run_dir, message="linear probe and kNN")
            metrics = probe_run(run_dir, data)
            out.update(linear_acc=metrics["linear_acc"], knn_acc=metrics["knn_acc"])
            _log(run_dir, f"linear probe {metrics['linear_acc']:.4f}, kNN {metrics['knn_acc']:.4f}")
        if args.analyse:
            out["analysis"] = _analyse(run_dir)
    except BaseException as err:
        update_status(run_dir, state="failed", message=f"after training: {err}")
        raise
    manifest = read_json(run_dir / "manifest.json", {})
    manifest["wall_time_s"] = (manifest.get("wall_time_s") or 0) + time.time() - t0
    write_json(run_dir / "manifest.json", manifest)
    out["wall_time_s"] = manifest["wall_time_s"]
    update_status(run_dir, state="done", message="done", eta_s=0)
    return out


def _pid() -> int:
    import os

    return os.getpid()


def _progress_printer(run_dir: Path, epochs: int):
    """Epoch lines to stderr and log.txt (a bar on a terminal)."""
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=epochs, desc="train", unit="epoch", file=sys.stderr)

    def on_event(event: dict) -> None:
        if event["kind"] != "epoch":
            return
        if bar is not None:
            bar.n = event["epoch"]
            bar.set_postfix(loss=f"{event['loss']:.3f}", ips=f"{event['images_per_s']:.0f}")
            if event["epoch"] >= epochs:
                bar.close()
        msg = (
            f"epoch {event['epoch']}/{epochs} loss {event['loss']:.4f} lr {event['lr']:.2e} "
            f"{event['images_per_s']:.0f} img/s flagged {event['flagged_share']:.3f}"
        )
        if bar is None:
            _log(run_dir, msg)
        else:
            with open(run_dir / "log.txt", "a") as fh:
                fh.write(time.strftime("%H:%M:%S ") + msg + "\n")

    return on_event


def _analyse(run_dir: Path) -> dict:
    """Run score, pairs, umap and theory on a finished run (each is its own CLI command too)."""
    from core.cli import build_parser

    parser = build_parser()
    results = {}
    for command in ("score", "pairs", "umap", "theory"):
        update_status(run_dir, message=f"analysis: {command}")
        try:
            sub = parser.parse_args([command, "--run-dir", str(run_dir)])
        except SystemExit:
            results[command] = {"error": f"command {command} is not available"}
            continue
        t = time.time()
        res = sub.func(sub)
        results[command] = {
            "seconds": round(time.time() - t, 2),
            **{k: v for k, v in res.items() if isinstance(v, (int, float, str, dict))},
        }
        _log(run_dir, f"{command}: done in {time.time() - t:.1f} s")
    return results


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train SimCLR (optionally with the paper's difficult-pair losses), then probe",
        description="Train SimCLR into a new run folder, extract features and probe them.",
    )
    p.add_argument("--dataset", help="digits (default, offline), cifar10, cifar100, stl10, folder:PATH, npz:PATH")
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
