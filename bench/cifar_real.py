"""Real CIFAR-10 on this CPU: does removing or re-weighting difficult pairs help on real photographs?

Sized for a 2-core machine (about two hours in all): a class-balanced subset of the real CIFAR-10
training images at 32 px, the small CNN, the full 10,000-image test set. Every run goes through the
public CLI (``python -m core ...``), so the run folders are ordinary Hardpairs runs that the app opens.

Stages (each resumable: a run whose ``metrics.json`` exists is not trained again)::

    python bench/cifar_real.py --source DIR subset   # symlink a balanced subset into data/cifar-bench
    python bench/cifar_real.py clean                 # baseline / removal / combined x 3 seeds
    python bench/cifar_real.py mixed                 # Mixed-omega 0.2: baseline, then oracle / band / random pruning
    python bench/cifar_real.py probe                 # re-probe every run with the paper protocol too (if available)
    python bench/cifar_real.py summary               # mean +- std, 95% intervals, paired tests -> results.json

``DIR`` is the extracted ``cifar10-jpg.tar.gz`` (``train/<class>/*.jpg``, ``test/<class>/*.jpg``).
Everything is written under ``data/cifar-bench`` (git-ignored). No test depends on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as `python bench/cifar_real.py`: the summary imports core
ROOT = REPO / "data" / "cifar-bench"
RUNS = ROOT / "runs"
SUBSET = ROOT / "cifar10-subset"
SEEDS = (0, 1, 2)
MODES = ("baseline", "removal", "combined")
RATIO = 0.2
#: Quick preset (small CNN, AdamW) with CIFAR-10's paper values for tau and the difficult-pair knobs.
COMMON = [
    "--preset", "quick", "--arch", "small_cnn", "--out-size", "32",
    "--temperature", "0.5", "--pos-high", "0.15", "--pos-low", "0.22", "--sigma", "0.03", "--rho", "0.6",
]  # fmt: skip


def cli(*args: str) -> dict:
    """Run ``python -m core ARGS``; return its last-line JSON (raise on failure)."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "core", *args], cwd=REPO, capture_output=True, text=True)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "{}"
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): python -m core {' '.join(args)}\n{proc.stderr[-2000:]}")
    print(f"[{time.time() - t0:6.0f} s] python -m core {' '.join(args)}", flush=True)
    return json.loads(tail)


def done(name: str) -> bool:
    return (RUNS / name / "metrics.json").exists()


def subset(source: Path, per_class: int) -> None:
    """Symlink ``per_class`` training images of each class and the whole test set into SUBSET."""
    for cls in sorted(p.name for p in (source / "train").iterdir()):
        dst = SUBSET / "train" / cls
        dst.mkdir(parents=True, exist_ok=True)
        for f in sorted((source / "train" / cls).iterdir())[:per_class]:
            if not (dst / f.name).exists():
                (dst / f.name).symlink_to(f.resolve())
    test = SUBSET / "test"
    if not test.exists():
        test.symlink_to((source / "test").resolve())
    n = sum(1 for _ in (SUBSET / "train").rglob("*.jpg"))
    print(f"subset: {n} training images in {SUBSET}")


def train(name: str, epochs: int, *extra: str) -> None:
    if not done(name):
        cli("train", "--dataset", f"folder:{SUBSET}", *COMMON, "--epochs", str(epochs),
            "--runs-root", str(RUNS), "--name", name, *extra)  # fmt: skip


def clean(epochs: int) -> None:
    for seed in SEEDS:
        for mode in MODES:
            train(f"c10_{mode}_s{seed}", epochs, "--loss-mode", mode, "--seed", str(seed))


def _mix_args(seed: int) -> list[str]:
    helptext = subprocess.run(
        [sys.executable, "-m", "core", "train", "--help"], cwd=REPO, capture_output=True, text=True
    )
    fixed = ["--mix-seed", "0"] if "--mix-seed" in helptext.stdout else []
    return ["--mix", "0.2", *fixed, "--seed", str(seed)]


def mixed(epochs: int) -> None:
    for seed in SEEDS:
        name = f"mix20_baseline_s{seed}"
        train(name, epochs, *_mix_args(seed))
        parent = RUNS / name
        if not (parent / "scores.csv").exists():
            cli("score", "--run-dir", str(parent))
        for score in ("band", "random", "mixed"):  # mixed = the oracle: the ground-truth contaminated images
            child = f"mix20_prune_{'oracle' if score == 'mixed' else score}_s{seed}"
            if not done(child):
                res = cli(
                    "prune", "--run-dir", str(parent), "--score", score, "--ratio", str(RATIO), "--seed", str(seed)
                )
                keep = Path(res["out"]) / "keep.npy"
                train(child, epochs, *_mix_args(seed), "--keep", str(keep), "--parent", str(parent),
                      "--prune-score", score, "--prune-ratio", str(RATIO))  # fmt: skip


def probe_paper() -> None:
    helptext = subprocess.run(
        [sys.executable, "-m", "core", "probe", "--help"], cwd=REPO, capture_output=True, text=True
    )
    if "--protocol" not in helptext.stdout:
        raise SystemExit("this checkout has no `probe --protocol`; nothing to do")
    for run in sorted(p for p in RUNS.iterdir() if (p / "metrics.json").exists()):
        cli("probe", "--run-dir", str(run), "--protocol", "paper")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["subset", "clean", "mixed", "probe", "summary"])
    ap.add_argument("--source", type=Path, default=Path(os.environ.get("CIFAR10_JPG", "/work/data")))
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=5)
    a = ap.parse_args()
    t0 = time.time()
    if a.stage == "subset":
        subset(a.source, a.per_class)
    elif a.stage == "clean":
        clean(a.epochs)
    elif a.stage == "mixed":
        mixed(a.epochs)
    elif a.stage == "probe":
        probe_paper()
    else:
        from bench.cifar_summary import summary  # the statistics, kept apart from the driver

        summary(RUNS, ROOT / "results.json")
    print(f"stage {a.stage}: {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
