"""User vs system CPU time of folder training, with and without the allocator fix.

Builds (once) an MNIST-like folder: 3,000 28x28 grayscale PNGs, the 8x8 digits upscaled with a
little noise, in 10 class folders. Then runs ``python -m core train --dataset folder:... --epochs E``
twice as a child process -- ``HARDPAIRS_KEEP_FREED=0`` (glibc's default: large freed blocks are
unmapped) and the default (``core.training.allocator.keep_freed_memory``) -- in alternating order
over ``--rounds``, and reads each child's rusage (user, system, minor page faults, involuntary
context switches) from ``os.wait4``. Prints a markdown table; the figures are in BENCHMARKS.md.

    python bench/folder_systime.py --folder /tmp/mnistlike --epochs 3 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_mnistlike(root: Path, n: int = 3000) -> None:
    """``root/<digit>/<i>.png``: n 28x28 uint8 grayscale images from sklearn's digits (upscaled + noise)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    if root.is_dir() and sum(1 for _ in root.rglob("*.png")) == n:
        return
    d = load_digits()
    rng = np.random.default_rng(0)
    for i in range(n):
        j = i % len(d.images)
        im = Image.fromarray((d.images[j] / 16.0 * 255).astype(np.uint8), "L").resize((28, 28), Image.BILINEAR)
        a = np.asarray(im).astype(np.int16) + rng.integers(-8, 9, (28, 28))
        (root / str(d.target[j])).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L").save(root / str(d.target[j]) / f"{i:05d}.png")


def run_once(folder: Path, epochs: int, keep_freed: bool, runs_root: str, extra: list[str]) -> dict[str, float]:
    """One ``train`` child process; its rusage."""
    env = {**os.environ, "HARDPAIRS_KEEP_FREED": "1" if keep_freed else "0"}
    cmd = [sys.executable, "-m", "core", "train", "--dataset", f"folder:{folder}", "--epochs", str(epochs)]
    cmd += ["--runs-root", runs_root, *extra]
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"train failed (status {status}): {' '.join(cmd)}")
    cpu = ru.ru_utime + ru.ru_stime
    return {
        "wall": time.time() - t0,
        "user": ru.ru_utime,
        "sys": ru.ru_stime,
        "sys_share": ru.ru_stime / cpu,
        "minflt": ru.ru_minflt,
        "nivcsw": ru.ru_nivcsw,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", default="/tmp/hardpairs-mnistlike", help="built here when missing")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `train` flags")
    args = ap.parse_args()
    folder = Path(args.folder)
    make_mnistlike(folder)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hp-systime-") as runs:
        run_once(folder, 1, True, runs, args.extra)  # decode the folder into the dataset cache first
        for r in range(args.rounds):
            for keep in (False, True) if r % 2 == 0 else (True, False):
                rows.append((keep, run_once(folder, args.epochs, keep, runs, args.extra)))
    print("| allocator | wall s | user s | system s | system / CPU | minor faults | invol. ctx sw |")
    print("|---|---|---|---|---|---|---|")
    for keep, m in rows:
        name = "keep freed (fix)" if keep else "glibc default"
        print(
            f"| {name} | {m['wall']:.0f} | {m['user']:.1f} | {m['sys']:.1f} | {100 * m['sys_share']:.1f} % "
            f"| {m['minflt'] / 1e6:.2f}M | {m['nivcsw']} |"
        )


if __name__ == "__main__":
    main()
