"""The per-run audit of the reviewer report: what was measured, on what, how sure, what it means.

:func:`audit_section` reads one run (a ``core.reports.records.load_records`` record) into the parts
that the template ``templates/blocks.html.j2`` (macro ``audit``) renders as a ``<section>``, each under
``data-section``: ``provenance`` (config and manifest essentials), ``definitions``
(``core.glossary``), ``map`` (``umap_2d.csv`` drawn by the Embeddings page's
``core.figures.maps.map_figure``), ``heatmap`` (``class_pairs.npz`` drawn by the Hard pairs page's
``core.figures.pairs.pair_heatmap``), ``pairs`` (the hardest pairs with their images, base64 PNG),
``pruning`` (this run's children against it, from ``report_tables.parent_deltas``), ``theory``
(``theory.json``: alpha/beta/gamma and the bounds) and ``auroc`` (``scores.json``, Mixed-omega only).
A missing artefact is named with the command that makes it. Pure reads of the run folder.

A part is ``{"key", "title", "blocks"}``; a block is a dict whose ``kind`` picks its macro: ``kv``
(rows of key, value), ``note`` (text), ``missing`` (what, command), ``terms`` (entries: term, text),
``table`` (html: a pandas table), ``figure`` (name, json: plotly JSON), ``pairs`` (entries, images).
Text from data stays text: the template escapes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.errors import HardpairsError
from core.figures.layout import printable
from core.figures.maps import map_figure
from core.figures.pairs import pair_heatmap
from core.glossary import GLOSSARY
from core.io import read_json
from core.rundir.featurefile import feature_labels

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


Block = dict[str, Any]


def _missing(what: str, command: str) -> list[Block]:
    return [{"kind": "missing", "what": what, "command": command}]


def _note(text: str) -> Block:
    return {"kind": "note", "text": text}


def _kv(rows: Sequence[tuple[str, object]]) -> Block:
    return {"kind": "kv", "rows": list(rows)}


def figure_block(name: str, fig: go.Figure) -> Block:
    """A plotly figure as a block: its JSON (WebGL traces as SVG ones, ``core.figures.layout.printable``)."""
    return {"kind": "figure", "name": name, "json": printable(fig).to_json()}


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return "–" if value is None else str(value)


def provenance(record: dict[str, Any]) -> list[Block]:
    """Config and manifest essentials as a two-column table (long hashes break, never widen the page)."""
    src = {"config": record.get("config") or {}, "manifest": record.get("manifest") or {}}
    rows = [(key, _fmt(src[where].get(key))) for where, key in PROVENANCE_KEYS if src[where].get(key) is not None]
    return [_kv(rows)]


def definitions(scores: list[str]) -> list[Block]:
    """The glossary entries of the scores present (all score terms when none) and of the theory terms."""
    wanted = [t for t, (group, _) in GLOSSARY.items() if group == "score" and (not scores or t in scores)]
    wanted += [t for t, (group, _) in GLOSSARY.items() if group == "theory"]
    return [{"kind": "terms", "entries": [(t, GLOSSARY[t][1]) for t in wanted]}]


def _labels(run: Path) -> np.ndarray | None:
    scores = run / "scores.csv"
    if scores.exists():
        df = pd.read_csv(scores, usecols=["index", "label"])
        return np.asarray(df.sort_values("index")["label"].to_numpy(), np.int64)
    return feature_labels(run)


def embedding_map(run: Path, classes: list[str]) -> list[Block]:
    """``umap_2d.csv`` coloured by class (at most MAP_POINTS points), as the Embeddings page draws it."""
    path = run / "umap_2d.csv"
    labels = _labels(run)
    if not path.exists() or labels is None:
        return _missing("map", f"python -m core umap --run-dir {run}")
    frame = pd.read_csv(path)
    if len(frame) > MAP_POINTS:
        frame = frame.sample(MAP_POINTS, random_state=0).sort_index()
    idx = frame["index"].to_numpy(np.int64)
    codes = labels[idx]
    names = classes or [str(c) for c in range(int(labels.max(initial=0)) + 1)]
    fig = map_figure(
        idx,
        frame["x"].to_numpy(),
        frame["y"].to_numpy(),
        codes,
        categories=names,
        hover_label=[names[c] if 0 <= c < len(names) else str(c) for c in codes.tolist()],
        title="",
        height=460,
    )
    fig.update_layout(dragmode=False, margin={"t": 10})
    note = f"{len(frame)} of {len(labels)} training samples (UMAP of the frozen features)."
    return [figure_block("map", fig), _note(note)]


def heatmap(run: Path) -> list[Block]:
    """``class_pairs.npz`` difficult-pair counts as the Hard pairs page's heatmap."""
    path = run / "class_pairs.npz"
    if not path.exists():
        return _missing("class-pair map", f"python -m core pairs --run-dir {run}")
    with np.load(path, allow_pickle=False) as data:
        counts, classes = data["difficult_counts"], [str(c) for c in data["classes"]]
        t_hi, t_lo = float(data["t_hi"]), float(data["t_lo"])
    fig = pair_heatmap(counts, classes, title="Difficult pairs per class pair (band)", value_name="pairs")
    note = (
        f"Pairs of samples from two classes whose cosine similarity lies in the difficult band "
        f"{t_lo:.3f} ≤ s < {t_hi:.3f} (Eq. 12), among each sample's nearest neighbours."
    )
    return [figure_block("heatmap", fig), _note(note)]


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


def hardest_pairs(run: Path, record: dict[str, Any], classes: list[str]) -> list[Block]:
    """The TOP_PAIRS most similar cross-class pairs of ``pairs.csv`` with both images."""
    path = run / "pairs.csv"
    if not path.exists():
        return _missing("pairs", f"python -m core pairs --run-dir {run}")
    top = pd.read_csv(path).head(TOP_PAIRS)
    urls = _thumb_urls(record, sorted(set(top["i"].tolist()) | set(top["j"].tolist())))

    def cell(i: int, label: int) -> dict[str, Any]:
        name = classes[label] if 0 <= label < len(classes) else label
        return {"id": i, "name": name, "url": urls.get(i, "")}

    items = [
        {
            "rank": k + 1,
            "similarity": float(r.similarity),
            "cells": [cell(int(r.i), int(r.label_i)), cell(int(r.j), int(r.label_j))],
        }
        for k, r in enumerate(top.itertuples(index=False))
    ]
    return [{"kind": "pairs", "entries": items, "images": bool(urls)}]


def pruning(run: Path, deltas: pd.DataFrame) -> list[Block]:
    """This run's pruned children against it (rows of ``report_tables.parent_deltas`` whose parent is this run)."""
    mine = deltas[deltas["parent"] == run.name] if not deltas.empty else deltas
    if mine.empty:
        return [_note("No pruned retrain of this run has metrics yet.")]
    return [{"kind": "table", "html": mine.drop(columns=["parent"]).to_html(index=False, na_rep="–")}]


def theory(run: Path) -> list[Block]:
    """alpha, beta, gamma, the t-test and the bounds of ``theory.json``."""
    th = read_json(run / "theory.json")
    if not isinstance(th, dict):
        return _missing("theory estimates", f"python -m core theory --run-dir {run}")
    rows = [(k, _fmt(th.get(k))) for k in (*THEORY_KEYS, *BOUND_KEYS) if k in th]
    return [_kv(rows), _note(str(th.get("delta_note") or ""))]


def auroc(run: Path) -> list[Block]:
    """Each score's AUROC at finding the Mixed-omega images (``scores.json``); a note otherwise."""
    stored = read_json(run / "scores.json") or {}
    values = stored.get("auroc") or (stored.get("result") or {}).get("auroc")
    if not values:
        return [_note("Not a Mixed-ω dataset: there is no ground truth of difficult samples.")]
    return [_kv([(k, f"{float(v):.4f}") for k, v in values.items()])]


def audit_section(record: dict[str, Any], deltas: pd.DataFrame) -> dict[str, Any]:
    """One run's audit: ``{"name": run folder name, "parts": [{"key", "title", "blocks"}]}`` (module docstring)."""
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
    return {"name": run.name, "parts": [{"key": k, "title": t, "blocks": b} for k, t, b in parts]}
