"""The per-run audit of the reviewer report: what was measured, on what, how sure, what it means.

:func:`audit_section` renders one run (a ``core.reports.report_tables.collect`` record) as an HTML
``<section>`` with, each under ``data-section``: ``provenance`` (config and manifest essentials),
``definitions`` (``core.glossary``), ``map`` (inline SVG of ``umap_2d.csv``), ``heatmap``
(``class_pairs.npz``), ``pairs`` (the hardest pairs with their images, base64 PNG), ``pruning``
(this run's children against it, from ``report_tables.parent_deltas``), ``theory``
(``theory.json``: alpha/beta/gamma and the bounds) and ``auroc`` (``scores.json``, Mixed-omega only).
A missing artefact is named with the command that makes it. Pure reads of the run folder.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import HardpairsError
from core.glossary import GLOSSARY
from core.io import read_json
from core.reports.report_svg import heatmap_svg, scatter_svg

#: Most points drawn in the map (a seeded subsample beyond that keeps the file small).
MAP_POINTS = 4000
#: Hardest pairs shown with their images.
TOP_PAIRS = 8
PROVENANCE_KEYS = (
    ("manifest", "run_id"),
    ("manifest", "dataset"),
    ("manifest", "fingerprint"),
    ("manifest", "n_train"),
    ("manifest", "n_test"),
    ("manifest", "n_kept"),
    ("manifest", "keep_sha1"),
    ("manifest", "parent"),
    ("manifest", "prune"),
    ("config", "loss_mode"),
    ("config", "epochs"),
    ("config", "batch_size"),
    ("config", "temperature"),
    ("config", "pos_high"),
    ("config", "pos_low"),
    ("config", "mix"),
    ("config", "seed"),
    ("manifest", "git_commit"),
    ("manifest", "device"),
    ("manifest", "wall_time_s"),
    ("manifest", "versions"),
)
THEORY_KEYS = ("alpha", "beta", "gamma", "gamma_minus_beta", "t", "p", "n", "n_d", "r", "delta", "probe_accuracy")
BOUND_KEYS = ("bound_clean", "bound_difficult", "bound_removal", "bound_temperature", "removal_threshold")


def _esc(text: object) -> str:
    return html.escape(str(text))


def _missing(what: str, command: str) -> str:
    return f"<p class='note'>No {_esc(what)} yet: <code>{_esc(command)}</code></p>"


def _kv(rows: Sequence[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f"<div class='box'><table class='kv'>{body}</table></div>"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return "–" if value is None else str(value)


def provenance(record: dict[str, Any]) -> str:
    """Config and manifest essentials as a two-column table (long hashes break, never widen the page)."""
    src = {"config": record.get("config") or {}, "manifest": record.get("manifest") or {}}
    rows = [(key, _fmt(src[where].get(key))) for where, key in PROVENANCE_KEYS if src[where].get(key) is not None]
    return _kv(rows)


def definitions(scores: list[str]) -> str:
    """The glossary entries of the scores present (all score terms when none) and of the theory terms."""
    wanted = [t for t, (group, _) in GLOSSARY.items() if group == "score" and (not scores or t in scores)]
    wanted += [t for t, (group, _) in GLOSSARY.items() if group == "theory"]
    return "<dl>" + "".join(f"<dt>{_esc(t)}</dt><dd>{_esc(GLOSSARY[t][1])}</dd>" for t in wanted) + "</dl>"


def _labels(run: Path) -> np.ndarray | None:
    scores = run / "scores.csv"
    if scores.exists():
        df = pd.read_csv(scores, usecols=["index", "label"])
        return np.asarray(df.sort_values("index")["label"].to_numpy(), np.int64)
    if (run / "features.npz").exists():
        with np.load(run / "features.npz", allow_pickle=False) as data:
            return np.asarray(data["y_train"], np.int64)
    return None


def embedding_map(run: Path, classes: list[str]) -> str:
    """``umap_2d.csv`` as an SVG scatter coloured by class (at most MAP_POINTS points)."""
    path = run / "umap_2d.csv"
    labels = _labels(run)
    if not path.exists() or labels is None:
        return _missing("map", f"python -m core umap --run-dir {run}")
    frame = pd.read_csv(path)
    if len(frame) > MAP_POINTS:
        frame = frame.sample(MAP_POINTS, random_state=0)
    idx = frame["index"].to_numpy(np.int64)
    note = f"<p class='note'>{len(frame)} of {len(labels)} training samples (UMAP of the frozen features).</p>"
    return scatter_svg(frame["x"].to_numpy(), frame["y"].to_numpy(), labels[idx], classes) + note


def heatmap(run: Path) -> str:
    """``class_pairs.npz`` difficult-pair counts as a labelled SVG heatmap."""
    path = run / "class_pairs.npz"
    if not path.exists():
        return _missing("class-pair map", f"python -m core pairs --run-dir {run}")
    with np.load(path, allow_pickle=False) as data:
        counts, classes = data["difficult_counts"], [str(c) for c in data["classes"]]
        t_hi, t_lo = float(data["t_hi"]), float(data["t_lo"])
    note = (
        f"<p class='note'>Pairs of samples from two classes whose cosine similarity lies in the difficult band "
        f"{t_lo:.3f} ≤ s &lt; {t_hi:.3f} (Eq. 12), among each sample's nearest neighbours.</p>"
    )
    return heatmap_svg(counts, classes) + note


def _thumb_urls(record: dict[str, Any], ids: list[int]) -> dict[int, str]:
    """``{id: data URL}`` of the run's training images (empty when the dataset cannot be loaded)."""
    from core.data.sources import load_dataset
    from core.data.thumbs import ThumbnailCache

    cfg = record.get("config") or {}
    try:
        data = load_dataset(
            str(cfg.get("dataset") or "digits"),
            mix=float(cfg.get("mix") or 0.0),
            mix_lambda=float(cfg.get("mix_lambda") or 0.5),
            seed=int(cfg.get("seed") or 0),
        )
    except (HardpairsError, OSError, ValueError):
        return {}
    thumbs = ThumbnailCache(data.x_train, size=64)
    return {i: u for i, u in zip(ids, thumbs.data_urls(ids), strict=True)}


def hardest_pairs(run: Path, record: dict[str, Any], classes: list[str]) -> str:
    """The TOP_PAIRS most similar cross-class pairs of ``pairs.csv`` with both images."""
    path = run / "pairs.csv"
    if not path.exists():
        return _missing("pairs", f"python -m core pairs --run-dir {run}")
    top = pd.read_csv(path).head(TOP_PAIRS)
    urls = _thumb_urls(record, sorted(set(top["i"].tolist()) | set(top["j"].tolist())))

    def cell(i: int, label: int) -> str:
        name = classes[label] if 0 <= label < len(classes) else label
        img = f"<img src='{urls[i]}' alt='#{i}' width='64' height='64'>" if i in urls else ""
        return f"<figure>{img}<figcaption>#{i} · {_esc(name)}</figcaption></figure>"

    items = "".join(
        f"<div class='pair'>{cell(int(r.i), int(r.label_i))}{cell(int(r.j), int(r.label_j))}"
        f"<div class='note'>rank {k + 1} · cos {float(r.similarity):.3f}</div></div>"
        for k, r in enumerate(top.itertuples(index=False))
    )
    missing = "" if urls else "<p class='note'>(images unavailable: the dataset could not be loaded here)</p>"
    return f"<div class='pairs'>{items}</div>{missing}"


def pruning(run: Path, deltas: pd.DataFrame) -> str:
    """This run's pruned children against it (rows of ``report_tables.parent_deltas`` whose parent is this run)."""
    mine = deltas[deltas["parent"] == run.name] if not deltas.empty else deltas
    if mine.empty:
        return "<p class='note'>No pruned retrain of this run has metrics yet.</p>"
    return f"<div class='box'>{mine.drop(columns=['parent']).to_html(index=False, na_rep='–')}</div>"


def theory(run: Path) -> str:
    """alpha, beta, gamma, the t-test and the bounds of ``theory.json``."""
    th = read_json(run / "theory.json")
    if not isinstance(th, dict):
        return _missing("theory estimates", f"python -m core theory --run-dir {run}")
    rows = [(k, _fmt(th.get(k))) for k in (*THEORY_KEYS, *BOUND_KEYS) if k in th]
    note = f"<p class='note'>{_esc(th.get('delta_note') or '')}</p>"
    return _kv(rows) + note


def auroc(run: Path) -> str:
    """Each score's AUROC at finding the Mixed-omega images (``scores.json``); a note otherwise."""
    stored = read_json(run / "scores.json") or {}
    values = stored.get("auroc") or (stored.get("result") or {}).get("auroc")
    if not values:
        return "<p class='note'>Not a Mixed-ω dataset: there is no ground truth of difficult samples.</p>"
    return _kv([(k, f"{float(v):.4f}") for k, v in values.items()])


def audit_section(record: dict[str, Any], deltas: pd.DataFrame) -> str:
    """One run's audit as an HTML ``<section>`` (see the module docstring for its parts)."""
    run = Path(record["run_dir"])
    classes = [str(c) for c in ((record.get("manifest") or {}).get("classes") or [])]
    scores_json = read_json(run / "scores.json") or {}
    score_names = list(scores_json.get("scores") or (scores_json.get("result") or {}).get("scores") or [])
    parts = [
        ("provenance", "Provenance", provenance(record)),
        ("definitions", "What the scores mean", definitions(score_names)),
        ("map", "The map", embedding_map(run, classes)),
        ("heatmap", "Class-pair heatmap", heatmap(run)),
        ("pairs", "Hardest pairs", hardest_pairs(run, record, classes)),
        ("pruning", "Pruning comparisons", pruning(run, deltas)),
        ("theory", "α, β, γ and the bounds", theory(run)),
        ("auroc", "AUROC against the ground truth", auroc(run)),
    ]
    body = "".join(f"<div data-section='{k}'><h3>{_esc(t)}</h3>{h}</div>" for k, t, h in parts)
    return f"<section class='audit' data-run='{_esc(run.name)}'><h2>Run {_esc(run.name)}</h2>{body}</section>"
