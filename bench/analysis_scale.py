"""Scale of the analysis commands: ``score`` (all scores) and ``pairs`` at N = 10k, 50k, 200k.

Features are random but clustered (10 Gaussian clusters, d = 512, rows L2-normalised, the cluster
id as the label), like a trained encoder's. Each size runs in a fresh subprocess so its peak RSS
(``resource.getrusage``) is its own. Prints one markdown table row per size.

    python bench/analysis_scale.py                 # 10k, 50k, 200k
    python bench/analysis_scale.py --sizes 10000 50000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def clustered_features(n: int, d: int = 512, clusters: int = 10, seed: int = 0):
    """(n, d) float32 unit rows around ``clusters`` centres, and (n,) int64 cluster labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    x = np.empty((n, d), np.float32)
    for start in range(0, n, 16384):
        stop = min(start + 16384, n)
        chunk = centres[labels[start:stop]] + 1.5 * rng.standard_normal((stop - start, d), dtype=np.float32)
        x[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return x, labels


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_one(n: int, k: int) -> dict:
    """Time score + pairs on n samples in this process; return the measurements."""
    from core.analysis.neighbors import class_split_knn, l2_normalise
    from core.analysis.pairs import class_pair_matrix, hardest_pairs
    from core.analysis.scores import ScoreConfig, compute_scores

    x, y = clustered_features(n)
    # warm the numba kernels (compiled and cached on first use) outside the timings
    compute_scores(x[:500], y[:500], ScoreConfig(k=k))
    rss_data = _peak_rss_mb()
    c0, t0 = _cpu_s(), time.perf_counter()
    df = compute_scores(x, y, ScoreConfig(k=k))
    t_score, c_score = time.perf_counter() - t0, _cpu_s() - c0
    rss_score = _peak_rss_mb()
    c0, t0 = _cpu_s(), time.perf_counter()
    graph = class_split_knn(l2_normalise(x), y, k)
    hardest_pairs(x, y, top=1000, k=k, graph=graph)
    class_pair_matrix(x, y, 10, 0.15, 0.22, k=k, thresholds=(df.attrs["t_hi"], df.attrs["t_lo"]), graph=graph)
    t_pairs, c_pairs = time.perf_counter() - t0, _cpu_s() - c0
    return {
        "n": n,
        "score_s": t_score,
        "pairs_s": t_pairs,
        "score_cpu_s": c_score,
        "pairs_cpu_s": c_pairs,
        "rss_before_mb": rss_data,
        "peak_rss_score_mb": rss_score,
        "peak_rss_mb": _peak_rss_mb(),
        "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.k)))
        return
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, d=512, 10 clusters, k={args.k}"
    )
    print(
        "| N | score, all 5 scores: wall s (CPU s) | pairs + class map: wall s (CPU s) "
        "| peak RSS (MB) | RSS before scoring (MB) | load avg |"
    )
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--k", str(args.k)], capture_output=True, text=True, cwd=ROOT
        )
        if out.returncode != 0:
            print(f"| {n} | failed: {out.stderr.strip().splitlines()[-1:]} |||||", flush=True)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {r['n']:,} | {r['score_s']:.1f} ({r['score_cpu_s']:.0f}) "
            f"| {r['pairs_s']:.1f} ({r['pairs_cpu_s']:.0f}) | {r['peak_rss_mb']:.0f} "
            f"| {r['rss_before_mb']:.0f} | {r['load']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
