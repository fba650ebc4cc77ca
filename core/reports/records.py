"""Run records: the one loader every many-run view reads (compare, the report, the CSVs, the Compare page).

A *record* is ``core.rundir.folder.run_summary(run_dir)`` with ``config``, ``manifest`` and ``metrics``
(the run's JSON files, ``{}`` when missing or unreadable: the summary's ``state``/``message`` then say
``unreadable``) and ``probe`` (:func:`probe_signature`, how the run was probed). A run folder is one
run however it is named: the same folder given twice (``R``, ``R/``, a symlink, a relative path) is
loaded once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.rundir.folder import list_runs, read_run_json, require_run, run_summary

#: config keys that do not make two runs different configurations (the seed, and how a run was run).
IGNORED_CONFIG = frozenset(
    {"seed", "created", "device", "keep", "parent", "checkpoint_every", "log_every", "compile", "monitor"}
)


def load_records(root: str | Path | None = None, runs: Sequence[str | Path] | None = None) -> list[dict[str, Any]]:
    """Records of ``runs`` (each must be a run folder), default every run under ``root`` (newest first).

    Duplicate folders are kept once, in the order first given (see the module docstring).
    """
    rows = [run_summary(require_run(r)) for r in runs] if runs else list_runs(root)
    records = []
    for row in distinct(rows):
        path = Path(row["run_dir"])
        rec = {**row, **{key: safe_json(path, f"{key}.json") for key in ("config", "manifest", "metrics")}}
        rec["probe"] = probe_signature(rec["metrics"])
        records.append(rec)
    return records


def distinct(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` without repeats of one run folder (compared by resolved path), first occurrence kept."""
    seen: set[str] = set()
    out = []
    for row in rows:
        key = str(Path(row["run_dir"]).resolve())
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def safe_json(path: Path, name: str) -> dict[str, Any]:
    """``path/name`` parsed; {} when missing or unreadable (the run summary already says "unreadable")."""
    try:
        return read_run_json(path, name)
    except HardpairsError:
        return {}


def config_of(rec: dict[str, Any]) -> dict[str, Any]:
    """The record's ``config.json`` (read from its folder when the record came without one)."""
    cfg = rec.get("config")
    if isinstance(cfg, dict):
        return cfg
    return safe_json(Path(rec["run_dir"]), "config.json") if rec.get("run_dir") else {}


def probe_signature(metrics: dict[str, Any]) -> str:
    """``"lbfgs · kNN k=20 t=0.07"``: how a run was probed (older runs: L-BFGS, the kNN values they recorded)."""
    probe = metrics.get("probe")
    info: dict[str, Any] = probe if isinstance(probe, dict) else {}
    protocol = metrics.get("protocol") or info.get("protocol") or "lbfgs"
    return f"{protocol} · kNN k={info.get('knn_k', 20)} t={info.get('knn_t', 0.07):g}"


def one_per_source(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` where imports of one checkpoint into one configuration count once.

    An import records its checkpoint's sha1 (manifest ``checkpoint_sha1``) and path (``imported_from``):
    a second import of the same file, or an import of a listed run's own ``checkpoints/last.pt``, with the
    same configuration (every config key but ``IGNORED_CONFIG``) is the same run, not another seed.
    """

    def cfg_of(rec: dict[str, Any]) -> str:
        return json.dumps({k: v for k, v in config_of(rec).items() if k not in IGNORED_CONFIG}, sort_keys=True)

    def ckpt(rec: dict[str, Any]) -> str:
        return str(Path(rec["run_dir"]).resolve() / "checkpoints" / "last.pt") if rec.get("run_dir") else ""

    runs = {(ckpt(r), cfg_of(r)) for r in records}  # each listed run is the source of imports of its checkpoint
    seen: set[tuple[str, str]] = set()
    out = []
    for rec in records:
        manifest = rec.get("manifest")
        manifest = manifest if isinstance(manifest, dict) else {}
        origin, sha1 = manifest.get("imported_from"), manifest.get("checkpoint_sha1")
        if isinstance(origin, str) and (origin, cfg_of(rec)) in runs:
            continue  # an import of a listed run's own checkpoint: that run already counts
        if isinstance(sha1, str):
            if (sha1, cfg_of(rec)) in seen:
                continue
            seen.add((sha1, cfg_of(rec)))
        out.append(rec)
    return out
