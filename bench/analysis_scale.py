"""Scale of the analysis commands: ``score`` (all scores) and ``pairs`` at N = 10k ... 1M.

Features (d = 512, rows L2-normalised, the class as the label):
- ``--data isotropic`` (the issue-3 figures): 10 Gaussian clusters with isotropic noise in all 512
  dimensions. Nearest neighbours there are barely closer than random pairs, so no approximate
  index finds them: use it for the exact path only.
- ``--data structured`` (default): 10 classes x 8 sub-clusters on a 24-dimensional latent mapped
  into 512 dimensions, plus small isotropic noise -- low intrinsic dimension, like an encoder's.

``--knn exact|approx|auto`` picks the path (auto = approx above 100k). The features are written to
a temporary ``features.npz`` and memory-mapped (``core.io.map_npz``) as the analysis does. With
``--check-thresholds`` the exact band thresholds are also computed (the quadratic sweep, slow) and
the sampled ones compared with them. Each size runs in a fresh subprocess (its own peak RSS).

    python bench/analysis_scale.py --knn approx --sizes 200000 1000000 --check-thresholds
    python bench/analysis_scale.py --data isotropic --knn exact --sizes 10000 50000
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


def structured_features(n: int, d: int = 512, classes: int = 10, seed: int = 0):
    """(n, d) float32 unit rows: class + sub-cluster centres on a 24-dim latent, mapped to d, + noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    latent, sub = 24, 8
    cc = rng.standard_normal((classes, latent)).astype(np.float32) * 1.2
    sc = rng.standard_normal((classes, sub, latent)).astype(np.float32) * 0.8
    w = rng.standard_normal((latent, d)).astype(np.float32) / np.sqrt(latent)
    y, s = rng.integers(0, classes, n), rng.integers(0, sub, n)
    x = np.empty((n, d), np.float32)
    for a in range(0, n, 16384):
        b = min(a + 16384, n)
        z = cc[y[a:b]] + sc[y[a:b], s[a:b]] + rng.standard_normal((b - a, latent), dtype=np.float32)
        c = z @ w + 0.25 * rng.standard_normal((b - a, d), dtype=np.float32)
        x[a:b] = c / np.linalg.norm(c, axis=1, keepdims=True)
    return x, y


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_one(n: int, k: int, knn: str = "exact", data: str = "structured", check: bool = False) -> dict:
    """Time score + pairs + class map on n memory-mapped samples in this process."""
    import tempfile

    import numpy as np

    from core.analysis.band import band_sweep
    from core.analysis.neighbors import class_split_knn, l2_normalise
    from core.analysis.pairs import class_pair_matrix, hardest_pairs
    from core.analysis.scores import ScoreConfig, compute_scores
    from core.io import map_npz, save_npz

    make = structured_features if data == "structured" else clustered_features
    x, y = make(n)
    tmp = tempfile.mkdtemp(prefix="bench_scale_")
    save_npz(Path(tmp) / "features.npz", train=x, y_train=y)
    del x
    x = map_npz(Path(tmp) / "features.npz")["train"]
    # warm the numba kernels (compiled and cached on first use) outside the timings
    compute_scores(np.asarray(x[:500]), y[:500], ScoreConfig(k=k, knn="exact"))
    rss_data = _peak_rss_mb()
    c0, t0 = _cpu_s(), time.perf_counter()
    cfg = ScoreConfig(k=k, knn=knn)
    graph = None
    if knn != "exact":
        from core.analysis.approx.graphtune import tuned_class_split_knn

        graph = tuned_class_split_knn(l2_normalise(x), y, k)
    t_graph = time.perf_counter() - t0
    df = compute_scores(x, y, cfg, graph=graph)
    t_score, c_score = time.perf_counter() - t0, _cpu_s() - c0
    rss_score = _peak_rss_mb()
    c0, t1 = _cpu_s(), time.perf_counter()
    xn = l2_normalise(x)
    g = graph[0] if graph is not None else class_split_knn(xn, y, k)
    hardest_pairs(xn, y, top=1000, k=k, graph=g, normalised=True)
    th = (df.attrs["t_hi"], df.attrs["t_lo"])
    class_pair_matrix(xn, y, 10, 0.15, 0.22, k=k, thresholds=th, graph=g, normalised=True)
    t_pairs, c_pairs = time.perf_counter() - t1, _cpu_s() - c0
    out = {
        "n": n,
        "knn": df.attrs["knn"],
        "graph_s": t_graph,
        "score_s": t_score,
        "pairs_s": t_pairs,
        "score_cpu_s": c_score,
        "pairs_cpu_s": c_pairs,
        "rss_before_mb": rss_data,
        "peak_rss_score_mb": rss_score,
        "peak_rss_mb": _peak_rss_mb(),
        "load": os.getloadavg()[0],
        "t_hi": th[0],
        "t_lo": th[1],
    }
    if check:
        t2 = time.perf_counter()
        ex = band_sweep(xn, 0.15, 0.22)
        out.update(exact_t_hi=ex["t_hi"], exact_t_lo=ex["t_lo"], exact_sweep_s=time.perf_counter() - t2)
        out["t_err"] = max(abs(ex["t_hi"] - th[0]), abs(ex["t_lo"] - th[1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--knn", choices=("exact", "approx", "auto"), default="auto")
    parser.add_argument("--data", choices=("structured", "isotropic"), default="structured")
    parser.add_argument("--check-thresholds", action="store_true", help="also run the exact sweep and compare")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.k, args.knn, args.data, args.check_thresholds), default=float))
        return
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, d=512, {args.data} data, 10 classes, k={args.k}, --knn {args.knn}"
    )
    print(
        "| N | path | score, all 5 scores: wall s (CPU s) [graph s] | pairs + class map: wall s (CPU s) "
        "| peak RSS (MB) | kNN recall@k (measured on 500 queries) | threshold error vs exact | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--k", str(args.k), "--knn", args.knn, "--data", args.data]
            + (["--check-thresholds"] if args.check_thresholds else []),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode != 0:
            print(f"| {n} | failed: {out.stderr.strip().splitlines()[-1:]} |||||||", flush=True)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"<!-- {json.dumps(r, default=float)} -->", flush=True)  # the raw record, kept with the table
        kn = r["knn"]
        recall = (
            f"{kn['knn_recall']:.3f} (same {kn['knn_recall_same']:.3f} / other {kn['knn_recall_other']:.3f}; "
            f"probes {kn['knn_probe_same']} / {kn['knn_probe_other']} of {kn['knn_groups']} groups, "
            f"d' {kn['knn_dims']})"
            if "knn_recall" in kn
            else "exact"
        )
        err = f"{r['t_err']:.4f} (sampled +-{kn.get('t_error', 0):.4f})" if "t_err" in r else "-"
        print(
            f"| {r['n']:,} | {kn['method']} | {r['score_s']:.1f} ({r['score_cpu_s']:.0f}) [{r['graph_s']:.1f}] "
            f"| {r['pairs_s']:.1f} ({r['pairs_cpu_s']:.0f}) | {r['peak_rss_mb']:.0f} | {recall} | {err} "
            f"| {r['load']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
