"""UMAP scale benchmark: random-but-clustered d=512 features at N = 10k, 50k (200k with --large).

Each N runs in its own process so peak RSS is per size. Times: exact cosine kNN (faiss, k = 14),
UMAP cold (first call in the process: includes numba JIT compilation), UMAP warm (same call
again, seeded, single-threaded optimisation) and UMAP warm with ``seed=None`` (parallel, not
repeatable). Prints markdown rows for BENCHMARKS.md;
"load avg" is the 1-minute load when the row finished (other processes share the cores).

    python bench/umap_scale.py            # 10k, 50k
    python bench/umap_scale.py --large    # also 200k
    python bench/umap_scale.py --sizes 20000 --epochs 100
    python bench/umap_scale.py --scaled --sizes 1000000   # fit 50k + place the rest (issue 13)

``--scaled``: the path of ``python -m core umap`` above ``MapConfig.fit_size`` (50k): features
memory-mapped from a temporary ``features.npz``, UMAP (seeded) fitted on a 50k subsample, every
other point placed from its 5 nearest fitted points (``core.analysis.approx.mapscale``). Times the whole
map (fit kNN + UMAP + placement) once numba is warm, and the placement alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def clustered(n: int, d: int = 512, clusters: int = 100, seed: int = 0) -> np.ndarray:
    """(n, d) float32: Gaussian clusters with unit-variance noise around N(0, 1) centres (ReLU'd like CNN features)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    x = np.empty((n, d), np.float32)
    for a in range(0, n, 65_536):  # in blocks: a float64 (1M, 512) temporary alone would be 4 GB
        b = min(a + 65_536, n)
        x[a:b] = np.maximum(centres[labels[a:b]] + rng.normal(size=(b - a, d)).astype(np.float32), 0.0)
    return x


def exact_knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """core.analysis.neighbors.knn when present, else a flat faiss inner-product search (self dropped)."""
    try:
        from core.analysis.neighbors import knn
    except ImportError:
        import faiss

        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        index = faiss.IndexFlatIP(xn.shape[1])
        index.add(xn)
        sims, idx = index.search(xn, k + 1)
        return sims[:, 1:], idx[:, 1:]
    return knn(x, k, exclude_self=True)


def one(n: int, epochs: int | None) -> dict:
    from core.analysis.embedmap import MapConfig, effective_epochs, umap_embedding

    x = clustered(n)
    cfg = MapConfig(n_epochs=epochs)
    t = time.perf_counter()
    graph = exact_knn(x, cfg.n_neighbors - 1)
    out = {"n": n, "knn_s": time.perf_counter() - t}
    parallel = MapConfig(n_epochs=epochs, seed=None)
    for name, c in (("cold_s", cfg), ("warm_s", cfg), ("warm_parallel_s", parallel)):
        if c is parallel:  # compile the parallel code path on a small problem first
            umap_embedding(x[:2000], parallel, exact_knn(x[:2000], cfg.n_neighbors - 1))
        t = time.perf_counter()
        umap_embedding(x, c, graph)
        out[name] = time.perf_counter() - t
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    out["threads"] = os.cpu_count()
    out["epochs"] = effective_epochs(n, cfg)
    out["load"] = os.getloadavg()[0]
    return out


def scaled(n: int, fit_size: int) -> dict:
    import tempfile

    from core.analysis.approx.mapscale import scaled_layout
    from core.analysis.embedmap import MapConfig, umap_embedding
    from core.io import map_npz, save_npz

    tmp = Path(tempfile.mkdtemp(prefix="bench_umap_"))
    x = clustered(n)
    save_npz(tmp / "features.npz", train=x)
    del x
    feats = map_npz(tmp / "features.npz")["train"]
    cfg = MapConfig(fit_size=fit_size)
    umap_embedding(np.asarray(feats[:2000]), cfg)  # warm: numba compiled outside the timing
    t = time.perf_counter()
    stamps: dict[str, float] = {}

    def embed(rows: np.ndarray) -> np.ndarray:
        t_fit = time.perf_counter()
        coords = umap_embedding(rows, cfg)
        stamps["fit_s"] = time.perf_counter() - t_fit
        stamps["fit_end"] = time.perf_counter()
        return coords

    coords, fitted = scaled_layout(feats, np.arange(n), fit_size, embed)
    total = time.perf_counter() - t
    return {
        "n": n,
        "n_fitted": int(fitted.sum()),
        "total_s": total,
        "fit_s": stamps["fit_s"],
        "place_s": time.perf_counter() - stamps["fit_end"],
        "finite": bool(np.isfinite(coords).all()),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--large", action="store_true", help="also N = 200k")
    parser.add_argument("--epochs", type=int, default=None, help="UMAP n_epochs (default: umap-learn's)")
    parser.add_argument("--scaled", action="store_true", help="fit a subsample, place the rest (issue 13)")
    parser.add_argument("--fit-size", type=int, default=50_000)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(scaled(args.one, args.fit_size) if args.scaled else one(args.one, args.epochs)))
        return
    if args.scaled:
        print("| N | fitted | map total (s) | UMAP fit incl. kNN (s) | placement (s) | peak RSS (GB) | load avg |")
        print("|---|---|---|---|---|---|---|")
        for n in args.sizes or [1_000_000]:
            cmd = [sys.executable, __file__, "--one", str(n), "--scaled", "--fit-size", str(args.fit_size)]
            r = json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            )
            print(
                f"| {n:,} | {r['n_fitted']:,} | {r['total_s']:.1f} | {r['fit_s']:.1f} | {r['place_s']:.1f} "
                f"| {r['peak_rss_gb']:.2f} | {r['load']:.1f} |",
                flush=True,
            )
        return
    sizes = args.sizes or ([10_000, 50_000] + ([200_000] if args.large else []))
    print(
        "| N | d | epochs | kNN (s) | UMAP cold (s) | UMAP warm seeded (s) | UMAP warm seed=None (s) "
        "| peak RSS (GB) | CPUs | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        cmd = [sys.executable, __file__, "--one", str(n)] + (["--epochs", str(args.epochs)] if args.epochs else [])
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        print(
            f"| {n:,} | 512 | {r['epochs']} | {r['knn_s']:.1f} | {r['cold_s']:.1f} | {r['warm_s']:.1f} "
            f"| {r['warm_parallel_s']:.1f} | {r['peak_rss_gb']:.2f} | {r['threads']} | {r['load']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
