"""Do the label-error suggestions find flipped labels? Ours vs cleanlab on the same out-of-fold probabilities.

    python bench/label_errors.py --root /tmp/bench-runs --seeds 0 1 2 --weight-decay 1e-2 1e-4

Per seed S: a digits run trained with ``--label-noise 0.1 --seed S --mix-seed S`` (``python -m core train
--dataset digits --preset quick``; trained into ``--root`` when missing, reused otherwise). Ground truth: the
training labels of the run's features that differ from the clean digits labels (the flipped ones). On the
run's train features: the out-of-fold probe probabilities (5 folds, ``core.analysis.labelerrors``; one table per
``--weight-decay`` of that probe: 1e-2 is the default, 1e-4 the accuracy probe's) and the kNN votes (k 20, t 0.07),
then

- ``ours``: ``suggest_labels`` with the defaults (probe_weight 0.5, self-confidence), and the variants
  ``probe only`` (w = 1: plain self-confidence), ``kNN only`` (w = 0) and ``margin`` (w = 0.5, margin ranking);
- ``cleanlab``: ``cleanlab.filter.find_label_issues(labels, pred_probs, return_indices_ranked_by=
  "self_confidence")`` on the SAME out-of-fold probabilities (it flags a set; its list is ranked).

Precision and recall at k = 50, 100, 200 (cleanlab's list can be shorter than k: then its whole list), precision
at k = the number of flipped labels (R-precision), and "at equal recall": our precision at the smallest k whose
recall reaches cleanlab's full-list recall. Prints a markdown table of mean ± std over the seeds; ``--json`` keeps
every number. cleanlab is needed only here (``pip install cleanlab``), not by the project.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corecli import run_core  # noqa: E402

from core.analysis.labelerrors import knn_votes, out_of_fold_proba, precision_recall_at, suggest_labels  # noqa: E402
from core.analysis.probe import ProbeConfig  # noqa: E402
from core.data.sources import load_dataset  # noqa: E402
from core.rundir.featurefile import open_features  # noqa: E402

KS = (50, 100, 200)
VARIANTS = {
    "ours (w 0.5, self-confidence)": (0.5, "self_confidence"),
    "probe only (w 1)": (1.0, "self_confidence"),
    "kNN only (w 0)": (0.0, "self_confidence"),
    "ours, margin ranking": (0.5, "margin"),
}


def train(root: Path, seed: int, noise: float) -> Path:
    run = root / f"digits-noise{noise:g}-seed{seed}"
    if not (run / "features.npz").exists():
        argv = ["train", "--dataset", "digits", "--preset", "quick", "--label-noise", str(noise)]
        run_core(*argv, "--seed", str(seed), "--mix-seed", str(seed), "--run-dir", str(run))
    return run


def ranked_metrics(ranked: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in KS:
        out[f"P@{k}"], out[f"R@{k}"] = precision_recall_at(ranked, truth, k)
    out["P@noisy"] = precision_recall_at(ranked, truth, int(truth.sum()))[0]
    return out


def precision_at_recall(ranked: np.ndarray, truth: np.ndarray, recall: float) -> tuple[float, int]:
    """Precision of the shortest prefix of ``ranked`` whose recall reaches ``recall``, and its length."""
    hits = np.cumsum(truth[ranked])
    k = int(np.searchsorted(hits, np.ceil(recall * truth.sum() - 1e-9))) + 1
    return float(hits[k - 1] / k), k


def one_seed(run: Path, weight_decay: float) -> dict[str, dict[str, float]]:
    from cleanlab.filter import find_label_issues

    feats = open_features(run)
    x, y = np.asarray(feats["train"], np.float32), feats["y_train"]
    truth = load_dataset("digits").y_train != y
    t0 = time.perf_counter()
    proba = out_of_fold_proba(x, y, 10, folds=5, seed=0, cfg=ProbeConfig(weight_decay=weight_decay))
    votes, _ = knn_votes(x, y, 10)
    seconds = time.perf_counter() - t0
    cl = np.asarray(find_label_issues(y, proba, return_indices_ranked_by="self_confidence"), np.int64)
    cl_p, cl_r = precision_recall_at(cl, truth, len(cl))
    res = {"cleanlab": ranked_metrics(cl, truth) | {"n_flagged": len(cl), "P(all)": cl_p, "R(all)": cl_r}}
    for name, (w, ranking) in VARIANTS.items():
        s = suggest_labels(proba, votes, y, w, ranking)
        ranked = np.argsort(s.rank)
        p_eq, k_eq = precision_at_recall(ranked, truth, cl_r)
        res[name] = ranked_metrics(ranked, truth) | {"P@cleanlab recall": p_eq, "k@cleanlab recall": k_eq}
        res[name]["n_flagged"] = int(s.flagged.sum())
    res["_run"] = {"n": len(y), "n_noisy": int(truth.sum()), "seconds_signals": round(seconds, 2)}
    return res


def mean_sd(values: list[float], digits: int = 3) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def table(per_seed: list[dict[str, dict[str, float]]]) -> str:
    cols = [f"{m}@{k}" for k in KS for m in ("P", "R")] + ["P@noisy", "flagged", "P at cleanlab's recall (k)"]
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name in ["cleanlab", *VARIANTS]:
        rows = [r[name] for r in per_seed]
        cells = [mean_sd([r[c] for r in rows]) for c in cols[: 2 * len(KS) + 1]]
        cells.append(mean_sd([r["n_flagged"] for r in rows], 1))
        if name == "cleanlab":
            cells.append(f"{mean_sd([r['P(all)'] for r in rows])} (R {mean_sd([r['R(all)'] for r in rows])})")
        else:
            k_eq = mean_sd([r["k@cleanlab recall"] for r in rows], 1)
            cells.append(f"{mean_sd([r['P@cleanlab recall'] for r in rows])} (k {k_eq})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, required=True, help="folder of the trained runs (git-ignored, e.g. /tmp)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--weight-decay", nargs="+", type=float, default=[1e-2], help="of the out-of-fold probe")
    ap.add_argument("--json", type=Path, help="write every per-seed number here")
    args = ap.parse_args()
    runs = [train(args.root, seed, args.noise) for seed in args.seeds]
    results = {}
    for wd in args.weight_decay:
        per_seed = [one_seed(run, wd) for run in runs]
        for seed, res in zip(args.seeds, per_seed, strict=True):
            print(f"weight decay {wd:g}, seed {seed}: {json.dumps(res['_run'])}", file=sys.stderr)
        results[f"{wd:g}"] = per_seed
        print(f"\nOut-of-fold probe weight decay {wd:g} ({len(runs)} seeds, mean ± std):\n\n{table(per_seed)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
