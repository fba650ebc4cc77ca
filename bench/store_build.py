"""Image store build rate: images/s (and per worker process) of ``core.data.folder.folder_stored`` vs a plain
single-process PIL decode loop over the same synthetic JPEG folder.

    python bench/store_build.py --n 5000 --size 256 --store-size 224 --workers 1 2

Generates ``--n`` JPEGs of ``--size`` px (10 classes, smooth random content so their size is realistic, about
15-20 KB each at quality 90) in a temporary folder, then times (1) the baseline: ``Image.open`` -> ``convert("RGB")``
-> ``resize(BILINEAR)`` -> copy into one preallocated uint8 array, one process; (2) a fresh store build with
``$HARDPAIRS_STORE_WORKERS`` = each ``--workers`` value (header pass, plan, workers, markers, sha1, rename:
everything a user waits for). Prints one JSON line per row and a markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_folder(root: Path, n: int, size: int) -> None:
    """``n`` JPEGs of ``size`` px in ``root/c<k>/`` (10 classes): an 8x8 random image upsampled (smooth)."""
    rng = np.random.default_rng(0)
    for i in range(n):
        small = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        im = small.resize((size, size), Image.Resampling.BICUBIC)
        folder = root / f"c{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        im.save(folder / f"{i:07d}.jpg", quality=90)


def baseline(files: list[str], size: int) -> float:
    """Seconds of a plain PIL decode + resize loop into one array (one process)."""
    out = np.empty((len(files), 3, size, size), np.uint8)
    start = time.perf_counter()
    for i, path in enumerate(files):
        with Image.open(path) as src:
            im = src.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        out[i] = np.asarray(im).transpose(2, 0, 1)
    return time.perf_counter() - start


def store_build(root: Path, size: int, workers: int) -> float:
    """Seconds of a fresh ``folder_stored`` build with ``workers`` worker processes."""
    from core.data.folder import folder_stored
    from core.data.storebuild import WORKERS_ENV

    cache = Path(tempfile.mkdtemp(prefix="store-bench-"))
    os.environ[WORKERS_ENV] = str(workers)
    try:
        start = time.perf_counter()
        stored = folder_stored(root, size, cache)
        seconds = time.perf_counter() - start
        assert len(stored.x_train) + len(stored.x_test) == len(list(root.rglob("*.jpg")))
        del stored
        return seconds
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--size", type=int, default=256, help="source JPEG size (px)")
    ap.add_argument("--store-size", type=int, default=224, help="stored size (px)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="store-bench-src-"))
    try:
        t0 = time.perf_counter()
        make_folder(tmp, args.n, args.size)
        print(f"generated {args.n} JPEGs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        files = sorted(str(p) for p in tmp.rglob("*.jpg"))
        rows = [{"what": "PIL loop, 1 process", "workers": 1, "seconds": baseline(files, args.store_size)}]
        for w in args.workers:
            rows.append(
                {"what": f"store build, {w} worker(s)", "workers": w, "seconds": store_build(tmp, args.store_size, w)}
            )
        base = rows[0]["seconds"]
        print("| what | workers | seconds | images/s | images/s per worker | vs PIL loop |\n|---|---|---|---|---|---|")
        for r in rows:
            rate = args.n / r["seconds"]
            r |= {"n": args.n, "images_per_s": round(rate, 1), "per_worker": round(rate / r["workers"], 1)}
            print(json.dumps(r), file=sys.stderr)
            print(
                f"| {r['what']} | {r['workers']} | {r['seconds']:.2f} | {rate:.0f} | {rate / r['workers']:.0f} "
                f"| {base / r['seconds']:.2f}x |"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
