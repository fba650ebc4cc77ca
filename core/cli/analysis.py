"""CLI: ``score``, ``pairs`` and ``prune`` over a run's features.

- ``score --run-dir R``: per-sample difficulty scores -> ``R/scores.csv`` (``index,label``, one
  column per score, ``mixed`` for a contaminated dataset) and ``R/scores.json`` (the parameters,
  the band thresholds, and each score's AUROC at finding the mixed images). Cached: a second call
  with the same parameters and the same ``features.npz`` returns the stored result.
- ``pairs --run-dir R``: the hardest cross-class pairs -> ``pairs.csv``; the class x class map
  -> ``class_pairs.npz`` (``difficult_counts``, ``mean_similarity``, ``t_hi``, ``t_lo``).
- ``prune --run-dir R --score S --ratio F``: ``keep.npy``, ``pruned.npy`` and
  ``per_class.csv`` in ``R/prune/<S>_<F>_seed<seed>/``; ``--train`` retrains on the kept samples
  as a new run that records its parent, score and ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from core.analysis.scores import LABEL_SCORES, ScoreConfig, auroc, compute_scores
from core.errors import HardpairsError
from core.runs.folder import (
    REPO_ROOT,
    atomic_write_bytes,
    load_features,
    read_json,
    require_features,
    require_run,
    save_npz,
    write_json,
)
from core.training.lossmodes import cli_help


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_csv(path: Path, df: pd.DataFrame) -> None:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    atomic_write_bytes(path, buf.getvalue().encode())


def _save_npy(path: Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, arr)
    atomic_write_bytes(path, buf.getvalue())


def _train_labels(feats: dict) -> np.ndarray | None:
    """Train labels, or None when the dataset is (even partly) unlabelled (-1)."""
    y = np.asarray(feats["y_train"], dtype=np.int64)
    return None if (y < 0).any() else y


def _mixed_flags(cfg: dict, n: int) -> tuple[np.ndarray | None, str | None]:
    """(mixed (N,) bool, None) for a contaminated dataset, (None, why) when unavailable."""
    if not cfg.get("mix"):
        return None, None
    try:
        from core.data.sources import load_dataset

        data = load_dataset(
            cfg["dataset"], mix=cfg["mix"], mix_lambda=cfg.get("mix_lambda", 0.5), seed=cfg.get("seed", 0)
        )
    except HardpairsError as err:
        return None, f"mixed flags unavailable: {err}"
    mixed = np.asarray(data.mixed, dtype=bool)
    if len(mixed) != n:
        return None, (
            f"mixed flags unavailable: the dataset has {len(mixed)} train images but "
            f"features.npz has {n}; re-extract features with `python -m core probe`"
        )
    return mixed, None


def cmd_score(args: argparse.Namespace) -> dict:
    run_dir = require_run(args.run_dir)
    feats_path = require_features(run_dir)
    cfg = read_json(run_dir / "config.json", {}) or {}
    seed = args.seed if args.seed is not None else int(cfg.get("seed", 0))
    scfg = ScoreConfig(
        pos_high=float(cfg.get("pos_high", 0.15)),
        pos_low=float(cfg.get("pos_low", 0.22)),
        k=args.k,
        band_reference=args.band_reference,
        seed=seed,
    )
    params = {
        "pos_high": scfg.pos_high,
        "pos_low": scfg.pos_low,
        "k": scfg.k,
        "band_reference": scfg.band_reference,
        "seed": seed,
        "features": _sha1(feats_path),
        "mix": cfg.get("mix", 0.0),
        "mix_lambda": cfg.get("mix_lambda", 0.5),
        "dataset": cfg.get("dataset"),
    }
    cached = read_json(run_dir / "scores.json")
    if not args.force and cached and cached.get("params") == params and (run_dir / "scores.csv").exists():
        return {**cached["result"], "cached": True}
    t0 = time.time()
    feats = load_features(run_dir)
    labels = _train_labels(feats)
    df = compute_scores(feats["train"], labels, scfg)
    names = [c for c in df.columns if c not in ("index", "label")]
    result = {
        "run_dir": str(run_dir),
        "n": len(df),
        "scores": names,
        "t_hi": df.attrs["t_hi"],
        "t_lo": df.attrs["t_lo"],
    }
    if labels is None:
        result["note"] = f"the dataset is unlabelled: only the label-free scores ({', '.join(names)}) are available"
    mixed, why = _mixed_flags(cfg, len(df))
    if mixed is not None:
        df["mixed"] = mixed
        result["auroc"] = {name: auroc(df[name].to_numpy(), mixed) for name in names}
    elif why:
        result["note"] = why
    _write_csv(run_dir / "scores.csv", df)
    result["seconds"] = round(time.time() - t0, 2)
    write_json(run_dir / "scores.json", {"params": params, "result": result})
    return {**result, "cached": False}


def cmd_pairs(args: argparse.Namespace) -> dict:
    from core.analysis.neighbors import class_split_knn, l2_normalise
    from core.analysis.pairs import class_pair_matrix, hardest_pairs

    run_dir = require_run(args.run_dir)
    feats = load_features(run_dir)
    labels = _train_labels(feats)
    if labels is None:
        raise HardpairsError(
            "this dataset is unlabelled, so cross-class pairs are undefined; "
            f"use `python -m core score --run-dir {run_dir}` (band, prototype)"
        )
    cfg = read_json(run_dir / "config.json", {}) or {}
    pos_high, pos_low = float(cfg.get("pos_high", 0.15)), float(cfg.get("pos_low", 0.22))
    manifest = read_json(run_dir / "manifest.json", {}) or {}
    classes = list(manifest.get("classes") or [])
    n_classes = max(len(classes), int(labels.max()) + 1)
    thresholds = None
    stored = read_json(run_dir / "scores.json") or {}
    p = stored.get("params", {})
    if (
        p.get("pos_high") == pos_high
        and p.get("pos_low") == pos_low
        and p.get("band_reference") is None
        and p.get("features") == _sha1(run_dir / "features.npz")
    ):
        thresholds = (stored["result"]["t_hi"], stored["result"]["t_lo"])
    t0 = time.time()
    if not 1 <= args.k < len(labels):
        raise HardpairsError(
            f"k={args.k} neighbours need more than k samples, but there are {len(labels)}; pass a smaller --k"
        )
    graph = class_split_knn(l2_normalise(feats["train"]), labels, args.k)
    top = hardest_pairs(feats["train"], labels, top=args.top, k=args.k, graph=graph)
    mat = class_pair_matrix(
        feats["train"], labels, n_classes, pos_high, pos_low, k=args.k, thresholds=thresholds, graph=graph
    )
    _write_csv(run_dir / "pairs.csv", top)
    save_npz(
        run_dir / "class_pairs.npz",
        difficult_counts=mat["difficult_counts"],
        mean_similarity=mat["mean_similarity"],
        t_hi=np.float32(mat["t_hi"]),
        t_lo=np.float32(mat["t_lo"]),
        classes=np.array(classes or [str(c) for c in range(n_classes)]),
    )
    return {
        "run_dir": str(run_dir),
        "n_pairs": len(top),
        "k": args.k,
        "top_similarity": float(top["similarity"].iloc[0]) if len(top) else None,
        "difficult_pairs": int(mat["difficult_counts"].sum() // 2),
        "t_hi": mat["t_hi"],
        "t_lo": mat["t_lo"],
        "seconds": round(time.time() - t0, 2),
    }


def cmd_prune(args: argparse.Namespace) -> dict:
    from core.analysis.prune import per_class_counts, select_keep

    run_dir = require_run(args.run_dir)
    if not 0.0 <= args.ratio < 1.0:
        raise HardpairsError(f"--ratio {args.ratio} is outside [0, 1); pass e.g. --ratio 0.1")
    if not (run_dir / "scores.csv").exists():
        score_args = argparse.Namespace(run_dir=str(run_dir), k=20, band_reference=None, seed=None, force=False)
        cmd_score(score_args)
    df = pd.read_csv(run_dir / "scores.csv")
    if args.score not in df.columns or args.score in ("index", "label", "mixed"):
        available = [c for c in df.columns if c not in ("index", "label", "mixed")]
        if args.score in LABEL_SCORES:
            raise HardpairsError(
                f"score '{args.score}' needs labels and this dataset is unlabelled; prune by one of {available}"
            )
        raise HardpairsError(f"unknown score '{args.score}'; choose one of {available}")
    seed = args.seed if args.seed is not None else int((read_json(run_dir / "config.json") or {}).get("seed", 0))
    kept, pruned = select_keep(df[args.score].to_numpy(), args.ratio, seed=seed)
    out = Path(args.out) if args.out else run_dir / "prune" / f"{args.score}_{args.ratio:g}_seed{seed}"
    manifest = read_json(run_dir / "manifest.json", {}) or {}
    counts = per_class_counts(df["label"].to_numpy(), pruned, manifest.get("classes"))
    _save_npy(out / "keep.npy", kept)
    _save_npy(out / "pruned.npy", pruned)
    _write_csv(out / "per_class.csv", counts)
    result = {
        "run_dir": str(run_dir),
        "out": str(out),
        "score": args.score,
        "ratio": args.ratio,
        "seed": seed,
        "n": len(df),
        "n_kept": len(kept),
        "n_pruned": len(pruned),
        "per_class": counts.to_dict(orient="records"),
    }
    if "mixed" in df.columns and len(pruned):
        result["mixed_share_pruned"] = float(df["mixed"].to_numpy()[pruned].mean())
    write_json(out / "prune.json", result)
    if args.train:
        result["train"] = _launch_train(run_dir, out / "keep.npy", args, seed)
    return result


#: ``prune --train`` flags handed on to the retrain (``train`` has the same names).
_RETRAIN_FLAGS = ("loss_mode", "pos_high", "pos_low", "sigma", "rho", "beta", "tau_plus", "epochs")


def _launch_train(run_dir: Path, keep: Path, args: argparse.Namespace, seed: int) -> dict:
    """Retrain on ``keep`` as a new run beside the parent, with the parent's config and ``args``' loss flags."""
    cmd = [
        sys.executable,
        "-m",
        "core",
        "train",
        "--config",
        str(run_dir / "config.json"),
        "--keep",
        str(keep),
        "--parent",
        str(run_dir),
        "--prune-score",
        args.score,
        "--prune-ratio",
        str(args.ratio),
        "--seed",
        str(seed),
        "--runs-root",
        str(run_dir.resolve().parent),
    ]
    for name in _RETRAIN_FLAGS:
        if getattr(args, name, None) is not None:
            cmd += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    if args.analyse:
        cmd.append("--analyse")
    print("launching: " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        res = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        res = {}
    if proc.returncode != 0:
        raise HardpairsError(
            f"the pruned retrain failed ({res.get('error', 'no result line')}); "
            f"the kept indices are saved in {keep}, rerun: {' '.join(cmd)}"
        )
    return res


def register(subparsers) -> None:
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
    p.set_defaults(func=cmd_score)
    p = subparsers.add_parser("pairs", help="hardest cross-class pairs and the class-pair map")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--top", type=int, default=1000, help="pairs written to pairs.csv")
    p.add_argument("--k", type=int, default=20, help="other-class neighbours per sample")
    p.set_defaults(func=cmd_pairs)
    p = subparsers.add_parser("prune", help="kept/pruned indices by a score (and retrain)")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--score", required=True, help="band, cross_class, margin, prototype, random")
    p.add_argument("--ratio", type=float, required=True, help="share to remove, in [0, 1)")
    p.add_argument(
        "--seed", type=int, default=None, help="tie-breaking seed, also the retrain seed (default: the run's)"
    )
    p.add_argument("--out", default=None, help="output folder (default R/prune/<score>_<ratio>_seed<seed>)")
    p.add_argument("--train", action="store_true", help="retrain on the kept samples as a new run")
    p.add_argument("--loss-mode", metavar="MODE", help="retrain loss mode (default: the parent's); " + cli_help())
    for flag in ("pos-high", "pos-low", "sigma", "rho", "beta", "tau-plus"):
        p.add_argument("--" + flag, type=float, help=f"retrain --{flag} (default: the parent's)")
    p.add_argument("--epochs", type=int, help="retrain epochs (default: the parent's)")
    p.add_argument("--analyse", action="store_true", help="also score and map the retrained run")
    p.set_defaults(func=cmd_prune)
