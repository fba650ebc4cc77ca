"""The per-run audit of the reviewer report: what was measured, on what, how sure, what it means.

:func:`audit_section` reads one run (a ``core.reports.records.load_records`` record) into the parts that the
template ``templates/blocks.html.j2`` (macro ``audit``) renders as a ``<section>``, each under ``data-section``:
``provenance`` (every ``config.json`` key and the manifest's provenance, key/value lists), ``definitions`` (both
pair definitions with this run's parameters, ``pairs.json``; the terms are in the report's one glossary),
``map`` (``umap_2d.csv`` by the Embeddings page's ``core.figures.maps.map_figure``), ``heatmap`` (the top-K
pairs of ``pairs.csv`` per class pair, by the Hard pairs page's ``core.figures.pairs.pair_heatmap``: the pairs
listed below it; the band definition's count beside it), ``pairs`` (the hardest of them with their images),
``pruning`` (this run's own rows of ``core.reports.compare.pair_table``: a retrain against its parent and
random twin, a parent's retrains against it), ``theory`` (``theory.json``) and ``auroc`` (a run whose config
has a Mixed-ω share or label noise says so even while its scores are pending). A missing artefact is named
with the command that makes it. Pure reads of the run folder.

A part is ``{"key", "title", "blocks"}``; a block is a dict whose ``kind`` picks its macro: ``kv`` (rows of
key, value), ``note`` (text), ``missing`` (what, command), ``terms`` (entries: term, text), ``grid``
(``core.reports.report_tables.grid_block``), ``figure`` (name, json: plotly JSON), ``pairs`` (entries,
images). Text from data stays text: the template escapes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.audit.groundtruth import describe, run_aurocs
from core.errors import HardpairsError
from core.figures.layout import printable
from core.figures.maps import map_figure
from core.figures.pairs import definitions_figure, pair_heatmap
from core.io import read_json
from core.rundir.featurefile import feature_labels

MAP_POINTS = 4000  #: most points drawn in the map (a seeded subsample beyond that keeps the file small)
TOP_PAIRS = 8  #: hardest pairs shown with their images
#: manifest keys shown under the settings (hashes cut to HASH_CHARS characters).
MANIFEST_KEYS = (
    "run_id", "dataset", "fingerprint", "n_train", "n_test", "n_kept", "n_mixed", "keep_sha1", "parent", "prune",
    "git_commit", "device", "hostname", "wall_time_s", "versions",
)  # fmt: skip
HASH_KEYS, HASH_CHARS = ("fingerprint", "keep_sha1", "git_commit"), 12
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
    """Every ``config.json`` key (``report_tables.SETTINGS_KEYS`` first, then the rest by name) and the
    manifest's provenance (:data:`MANIFEST_KEYS`), as key/value lists (hashes cut to ``HASH_CHARS``)."""
    from core.reports.report_tables import SETTINGS_KEYS

    cfg, man = dict(record.get("config") or {}), record.get("manifest") or {}
    if isinstance(cfg.get("created"), (int, float)):
        cfg["created"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(cfg["created"]))
    keys = [k for k in SETTINGS_KEYS if k in cfg] + sorted(k for k in cfg if k not in SETTINGS_KEYS)
    shown = {k: (Path(str(v)).name if k == "parent" and v else v) for k, v in man.items()}
    prov = [(k, _fmt(shown[k])[:HASH_CHARS] if k in HASH_KEYS else _fmt(shown[k])) for k in MANIFEST_KEYS
            if shown.get(k) is not None]  # fmt: skip
    return [_note("Settings (config.json):"), _kv([(k, _fmt(cfg[k])) for k in keys]),
            _note("Provenance (manifest.json):"), _kv(prov)]  # fmt: skip


def definitions(run: Path, scores: list[str]) -> list[Block]:
    """The two pair definitions with this run's parameters (``pairs.json``) and the scores it has; the
    terms are defined once, in the glossary at the end of the report."""
    defs = (read_json(run / "pairs.json", {}) or {}).get("definitions") or {}
    rows = [(name, f"{d.get('text')} ({d.get('file')}, {d.get('n_pairs')} pairs)") for name, d in
            (("top-K", defs.get("top") or {}), ("band", defs.get("band") or {})) if d]  # fmt: skip
    terms: list[Block] = [{"kind": "terms", "entries": rows}]
    blocks = terms if rows else _missing("pair definitions", f"python -m core pairs --run-dir {run}")
    listed = ", ".join(scores) if scores else "none yet"
    return [*blocks, _note(f"Scores computed: {listed}. Every term is defined in the glossary at the end.")]


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
    hover = [names[c] if 0 <= c < len(names) else str(c) for c in codes.tolist()]
    fig = map_figure(idx, frame["x"].to_numpy(), frame["y"].to_numpy(), codes, categories=names,
                     hover_label=hover, title="", height=400)  # fmt: skip
    fig.update_layout(dragmode=False, margin={"t": 10}, legend_title_text="class")
    note = f"{len(frame)} of {len(labels)} training samples (UMAP of the frozen features)."
    return [figure_block("map", fig), _note(note)]


def heatmap(run: Path) -> list[Block]:
    """The top-K pairs of ``pairs.csv`` per class pair (``core.analysis.pairs.pair_counts``): the same
    pairs as the list below it; the band definition's count and range are given beside it."""
    from core.analysis.pairs import pair_counts

    path, npz = run / "pairs.csv", run / "class_pairs.npz"
    if not path.exists() or not npz.exists():
        return _missing("class-pair map", f"python -m core pairs --run-dir {run}")
    top = pd.read_csv(path)
    with np.load(npz, allow_pickle=False) as data:
        band, classes = data["difficult_counts"], [str(c) for c in data["classes"]]
        t_hi, t_lo = float(data["t_hi"]), float(data["t_lo"])
        hist = (data["hist_edges"], data["hist_cross"]) if "hist_cross" in data.files else None
    counts = pair_counts(top["label_i"].to_numpy(), top["label_j"].to_numpy(), len(classes))
    fig = pair_heatmap(
        counts, classes, title=f"Top-K pairs per class pair (K = {len(top)})", value_name="pairs", upper=True
    )
    fig.update_layout(height=min(int(fig.layout.height or 460), 460))
    once = int(np.triu(counts, k=1).sum()) == len(top) and np.array_equal(counts, counts.T)  # drawn: upper half
    twice = "; each pair is counted once, in the cell above the diagonal (the cells sum to K)" * once
    n_band = int((read_json(run / "pairs.json", {}) or {}).get("difficult_pairs") or band.sum() // 2)
    low, high = (float(top["similarity"].min()), float(top["similarity"].max())) if len(top) else (0.0, 0.0)
    notes = [
        f"Top-K definition, as the list below: the {len(top)} most similar pairs of samples with different "
        f"labels (pairs.csv), similarity {low:.3f} to {high:.3f}{twice}.",
        f"The band definition (Eq. 12) counts other pairs: {n_band} pairs whose similarity lies in "
        f"{t_lo:.3f} ≤ s < {t_hi:.3f} (pairs_band.csv; the Hard pairs page draws both).",
    ]
    if len(top) and high >= t_hi:
        notes.append(f"The band ends at {t_hi:.3f}, below the most similar top-K pairs: it leaves them out.")
    blocks = [figure_block("heatmap", fig), *(_note(n) for n in notes)]
    if hist is not None:  # the Hard pairs page's picture of where each definition sits
        axis = definitions_figure(hist[0], hist[1], t_lo, t_hi, low if len(top) else None, len(top))
        filled = np.flatnonzero(np.asarray(hist[1]) > 0)  # the x axis spans the pairs there are
        if len(filled):
            axis.update_xaxes(range=[float(hist[0][filled[0]]), float(max(hist[0][-1], high + 0.005))])
        blocks.append(figure_block("axis", axis.update_layout(margin={"r": 140})))
    return blocks


def _thumb_urls(record: dict[str, Any], ids: list[int]) -> dict[int, str]:
    """``{id: data URL}`` of the run's training images (empty when the dataset cannot be loaded)."""
    from core.data.thumbs import ThumbnailCache
    from core.runs.pipeline import load_run_data, run_config

    try:  # the images as the run trained on them (Mixed-omega with its mix seed, label noise)
        data = load_run_data(run_config(record["run_dir"]))
    except (HardpairsError, OSError, ValueError, KeyError):
        return {}
    thumbs = ThumbnailCache(data.x_train, size=64)
    return {i: u for i, u in zip(ids, thumbs.data_urls(ids), strict=True)}


def hardest_pairs(run: Path, record: dict[str, Any], classes: list[str]) -> list[Block]:
    """The TOP_PAIRS most similar cross-class pairs of ``pairs.csv`` (top-K, as the heatmap) with both images."""
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
    note = _note(f"The {len(items)} most similar of the {len(pd.read_csv(path))} top-K pairs counted above.")
    return [note, {"kind": "pairs", "entries": items, "images": bool(urls)}]


def pruning(run: Path, pairs: pd.DataFrame, ids: dict[str, str]) -> list[Block]:
    """This run's own paired comparisons (``pair_table`` rows): as a pruned retrain against its parent
    and its random twin, and as a parent its retrains against it; in percent and points."""
    from core.reports.report_tables import grid_block, pair_notes, pairs_display

    if pairs.empty:
        return [_note("No pruned retrain with a probed parent among these runs.")]
    own = pairs[pairs["run_id"] == run.name]
    kids = pairs[(pairs["other_id"] == run.name) & (pairs["against"] == "parent")]
    blocks: list[Block] = []
    for rows, text in ((own, "This retrain against its parent and its random-pruning twin:"),
                       (kids, "The pruned retrains of this run against it:")):  # fmt: skip
        if not rows.empty:
            blocks.append(grid_block(pairs_display(rows, ids), text=("vs",), caption=text))
            blocks += [_note(n) for n in pair_notes(rows, ids)]
    return blocks or [_note("Neither a pruned retrain nor the parent of a probed retrain among these runs.")]


def theory(run: Path) -> list[Block]:
    """alpha, beta, gamma, the t-test (p as ``< 0.001``), n and n_d (labelled as means) and the bounds of
    ``theory.json``; a bound of 1 or more says nothing about the error, and the note says so."""
    from core.reports.summary import format_p

    th = read_json(run / "theory.json")
    if not isinstance(th, dict):
        return _missing("theory estimates", f"python -m core theory --run-dir {run}")
    shown = {k: _fmt(th.get(k)) for k in (*THEORY_KEYS, *BOUND_KEYS) if k in th}
    if "p" in shown:
        shown["p"] = format_p(th.get("p"))
    for k in ("n", "n_d"):
        if k in shown and isinstance(th.get(k), float) and not float(th[k]).is_integer():
            shown[k] += " (mean per class)"
    notes = [str(th.get("delta_note") or "")]
    bounds = [float(th[k]) for k in BOUND_KEYS[:-1] if isinstance(th.get(k), (int, float))]
    if bounds and min(bounds) >= 1:
        notes.append("Every bound is 1 or more: as bounds on an error rate they are vacuous here.")
    return [_kv(list(shown.items())), *(_note(n) for n in notes if n)]


def auroc(run: Path) -> list[Block]:
    """Each score's AUROC at finding the ground truth (``core.audit.groundtruth.run_aurocs``); a note otherwise."""
    found = run_aurocs(run)
    cfg = read_json(run / "config.json", {}) or {}
    truth = [f"{what} {cfg[k]:g}" for k, what in (("mix", "Mixed-ω share"), ("label_noise", "label noise"))
             if isinstance(cfg.get(k), (int, float)) and cfg[k] > 0]  # fmt: skip
    if not found and truth:
        note = _note(f"This run has ground truth ({', '.join(truth)}); its AUROCs are pending until its scores exist.")
        return [note, *_missing("AUROC", f"python -m core score --run-dir {run}")]
    if not found:
        return [_note("Not a Mixed-ω dataset and no label noise: there is no ground truth of difficult samples.")]
    return [
        _kv([(k, f"{float(v):.4f}") for k, v in found[0].items()]),
        _note(f"Ground truth: {describe(found[1])[0]}."),
    ]


def audit_section(record: dict[str, Any], pairs: pd.DataFrame, ids: dict[str, str]) -> dict[str, Any]:
    """One run's audit: ``{"name": run folder name, "short": its short name, "label", "parts": [{"key", "title",
    "blocks"}]}`` (module docstring). ``pairs``: ``pair_table`` of the runs in view; ``ids``: their short names."""
    run = Path(record["run_dir"])
    classes = [str(c) for c in ((record.get("manifest") or {}).get("classes") or [])]
    scores_json = read_json(run / "scores.json") or {}
    score_names = list(scores_json.get("scores") or (scores_json.get("result") or {}).get("scores") or [])
    parts = [
        ("provenance", "Settings and provenance", provenance(record)),
        ("definitions", "Definitions used in this run", definitions(run, score_names)),
        ("map", "The map", embedding_map(run, classes)),
        ("heatmap", "Class-pair heatmap (top-K pairs)", heatmap(run)),
        ("pairs", "Hardest pairs (top-K)", hardest_pairs(run, record, classes)),
        ("pruning", "Pruning comparisons", pruning(run, pairs, ids)),
        ("theory", "α, β, γ and the bounds", theory(run)),
        ("auroc", "AUROC against the ground truth", auroc(run)),
    ]
    return {
        "name": run.name,
        "short": ids.get(run.name, run.name),
        "parts": [{"key": k, "title": t, "blocks": b} for k, t, b in parts],
    }
