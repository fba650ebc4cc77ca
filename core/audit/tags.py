"""Named tags of training samples, kept in the run folder, and id lists exported as CSV.

``<run>/tags.csv`` has one row per (sample id, tag): columns ``id,tag``, ids in ``0..N-1`` (the
run's training samples, ``N`` = ``manifest.json`` ``n_train``, else the rows of the run's features),
sorted by tag then id, written atomically. Tag names are one word of letters, digits, ``.``, ``_``
and ``-`` (at most 64 characters, starting with a letter or digit), so they can name a prune
folder (``prune/tag_<name>``) and appear in ``--what tagged:<name>``.

Exports (:func:`export_ids`) write ``id,label`` rows (label when the run has features) for the
selected, tagged, kept or pruned ids to a file the caller names; an existing file is refused
unless ``force``. CLI twins: ``python -m core tag`` and ``python -m core export`` (core/cli/audit/tag.py,
core/cli/audit/export.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import HardpairsError
from core.idsets import complement_ids, unique_ids
from core.io import read_json, write_csv
from core.outputs import check_output
from core.rundir.featurefile import feature_labels
from core.rundir.folder import require_run, runs_root
from core.rundir.lock import edit_lock

TAGS_FILE = "tags.csv"
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PathLike = str | os.PathLike[str]


def check_tag(name: str) -> str:
    """``name`` stripped when it is a valid tag name, else a HardpairsError naming the rule."""
    text = name.strip() if isinstance(name, str) else ""
    if not _TAG.fullmatch(text):
        raise HardpairsError(
            f"tag name {name!r} is not allowed: use one word of letters, digits, '.', '_', '-' "
            "(starting with a letter or digit, at most 64 characters), e.g. suspicious-3"
        )
    return text


def n_samples(run_dir: PathLike) -> int:
    """Number of training samples N of the run (ids are 0..N-1): manifest ``n_train``, features, scores.csv.

    Raises:
        HardpairsError: neither ``manifest.json`` ``n_train`` nor the run's features say it.
    """
    run = Path(run_dir)
    n = (read_json(run / "manifest.json", {}) or {}).get("n_train")
    if isinstance(n, int) and n > 0:
        return n
    labels = feature_labels(run)
    if labels is not None:
        return int(labels.shape[0])
    if (run / "scores.csv").exists():
        return int(len(pd.read_csv(run / "scores.csv", usecols=["index"])))
    raise HardpairsError(f"{run} does not say how many training samples it has (no manifest n_train, no features)")


def check_ids(ids: Iterable[int], n: int) -> np.ndarray:
    """Sorted unique int64 ids, each in ``0..n-1``; a HardpairsError names the first bad one."""
    arr = np.asarray(list(ids), dtype=np.float64).ravel()
    if arr.size == 0:
        raise HardpairsError("no sample ids given; pass e.g. --ids 1,2,3 or --ids-file FILE (one id per line)")
    bad = arr[(arr != np.round(arr)) | (arr < 0) | (arr >= n)]
    if bad.size:
        raise HardpairsError(f"sample id {bad[0]:g} is not a training sample id of this run; ids run from 0 to {n - 1}")
    return unique_ids(arr.astype(np.int64))


def parse_ids(text: str) -> list[int]:
    """``"1,2, 3\\n4"`` -> ``[1, 2, 3, 4]`` (commas, spaces or newlines; a header line ``id`` is skipped)."""
    out = []
    for token in re.split(r"[,\s]+", text.strip()):
        if not token or token.lower() in ("id", "index"):
            continue
        try:
            out.append(int(token))
        except ValueError:
            raise HardpairsError(f"{token!r} is not a sample id; ids are whole numbers like 359") from None
    return out


def read_tags(run_dir: PathLike) -> pd.DataFrame:
    """``tags.csv`` as a frame (``id`` int64, ``tag`` str); empty when there is none.

    Raises:
        HardpairsError: the file is unreadable or lacks the ``id,tag`` columns (named, with the fix).
    """
    path = Path(run_dir) / TAGS_FILE
    if not path.exists():
        return pd.DataFrame({"id": pd.Series(dtype=np.int64), "tag": pd.Series(dtype=str)})
    try:
        df = pd.read_csv(path, dtype={"id": np.int64, "tag": str}, keep_default_na=False)
        if list(df.columns) != ["id", "tag"]:
            raise ValueError(f"columns {list(df.columns)} instead of id,tag")
    except (OSError, ValueError) as err:
        raise HardpairsError(f"{path} is unreadable ({err}); fix or delete it (it only holds tags)") from None
    return df


def _write(run: Path, df: pd.DataFrame) -> None:
    df = df.drop_duplicates().sort_values(["tag", "id"], kind="stable").reset_index(drop=True)
    write_csv(run / TAGS_FILE, df[["id", "tag"]])


def add_tag(run_dir: PathLike, name: str, ids: Iterable[int]) -> dict[str, Any]:
    """Tag ``ids`` with ``name`` (ids already tagged stay); returns ``run_dir, tag, added, n_tagged``."""
    run = require_run(run_dir)
    tag = check_tag(name)
    new = check_ids(ids, n_samples(run))
    with edit_lock(run, "tags"):  # read-modify-write: concurrent adds (CLI, app) lose nothing
        df = read_tags(run)
        before = set(df.loc[df["tag"] == tag, "id"].tolist())
        added = [int(i) for i in new if int(i) not in before]
        _write(run, pd.concat([df, pd.DataFrame({"id": added, "tag": tag})], ignore_index=True))
    return {"run_dir": str(run), "tag": tag, "added": len(added), "n_tagged": len(before) + len(added)}


def remove_tag(run_dir: PathLike, name: str, ids: Iterable[int] | None = None) -> dict[str, Any]:
    """Untag ``ids`` (all of the tag's samples when None); returns ``run_dir, tag, removed, n_tagged``."""
    run = require_run(run_dir)
    tag = check_tag(name)
    remove = None if ids is None else check_ids(ids, n_samples(run))
    with edit_lock(run, "tags"):
        df = read_tags(run)
        mine = df["tag"] == tag
        if not mine.any():
            raise HardpairsError(f"run {run.name} has no tag {tag!r}; its tags: {sorted(list_tags(run)) or 'none'}")
        drop = mine if remove is None else mine & df["id"].isin(remove)
        _write(run, df[~drop])
    return {"run_dir": str(run), "tag": tag, "removed": int(drop.sum()), "n_tagged": int((mine & ~drop).sum())}


def list_tags(run_dir: PathLike) -> dict[str, int]:
    """``{tag: number of samples}``, tags in name order."""
    counts = read_tags(run_dir).groupby("tag")["id"].nunique()
    return {str(k): int(v) for k, v in counts.sort_index().items()}


def tag_ids(run_dir: PathLike, name: str) -> np.ndarray:
    """(K,) int64 sorted ids carrying tag ``name``; a HardpairsError lists the tags when it is unknown."""
    tag = check_tag(name)
    df = read_tags(run_dir)
    ids = unique_ids(df.loc[df["tag"] == tag, "id"].to_numpy(np.int64))
    n = n_samples(run_dir) if ids.size else 0
    if ids.size and (ids[0] < 0 or ids[-1] >= n):  # a planted or stale id: never prune another sample
        bad = int(ids[0] if ids[0] < 0 else ids[-1])
        raise HardpairsError(
            f"{Path(run_dir) / TAGS_FILE} tags sample {bad} as {tag!r}, but this run's ids run from 0 to {n - 1}; "
            "fix or delete that row of tags.csv"
        )
    if ids.size == 0:
        have = sorted(list_tags(run_dir))
        raise HardpairsError(
            f"run {Path(run_dir).name} has no samples tagged {tag!r}; its tags: {', '.join(have) or 'none'} "
            f"(tag samples with `python -m core tag --run-dir {run_dir} --add {tag} --ids 1,2,3`)"
        )
    return ids


def tags_of(run_dir: PathLike, sample_id: int) -> list[str]:
    """The tags of one sample, in name order."""
    df = read_tags(run_dir)
    return sorted(set(df.loc[df["id"] == int(sample_id), "tag"].tolist()))


def _kept_pruned(run: Path, prune_dir: PathLike | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, pruned) int64 ids of a prune output folder, or of the run's own ``keep.npy`` (pruned retrain)."""
    folder = Path(prune_dir) if prune_dir else run
    keep_path = folder / "keep.npy"
    if not keep_path.exists():
        raise HardpairsError(
            f"{folder} has no keep.npy: {run.name} is not a pruned run; export kept/pruned ids from a pruned "
            f"child run, or pass --prune-dir {run / 'prune'}/<score>_<ratio>_seed<seed>"
        )
    try:
        raw = np.load(keep_path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise HardpairsError(f"{keep_path} is unreadable ({err}); re-run the prune that wrote it") from None
    kept = check_ids(raw, n)
    return kept, complement_ids(n, kept)


def select_ids(
    run_dir: PathLike, what: str, ids: Sequence[int] | None = None, prune_dir: PathLike | None = None
) -> np.ndarray:
    """(K,) int64 ids for ``what``: ``selected`` (``ids``), ``tagged:NAME``, ``kept`` or ``pruned``."""
    run = require_run(run_dir)
    n = n_samples(run)
    if what == "selected":
        return check_ids(ids or [], n)
    if what.startswith("tagged:"):
        return tag_ids(run, what.split(":", 1)[1])
    if what in ("kept", "pruned"):
        kept, pruned = _kept_pruned(run, prune_dir, n)
        return kept if what == "kept" else pruned
    raise HardpairsError(f"--what {what!r} is not one of selected, tagged:NAME, kept, pruned")


def ids_frame(run_dir: PathLike, ids: np.ndarray) -> pd.DataFrame:
    """``id`` (and ``label`` when the run has features) for ``ids`` (K,) int64."""
    frame = pd.DataFrame({"id": np.asarray(ids, np.int64)})
    labels = feature_labels(run_dir)
    if labels is not None:
        frame["label"] = labels[frame["id"].to_numpy()]
    return frame


def export_ids(
    run_dir: PathLike,
    what: str,
    out: PathLike,
    *,
    ids: Sequence[int] | None = None,
    prune_dir: PathLike | None = None,
    force: bool = False,
    root: PathLike | None = None,
) -> dict[str, Any]:
    """Write the ids of ``what`` (see :func:`select_ids`) as CSV to ``out``; ``run_dir, what, out, n``.

    Raises:
        HardpairsError: ``out`` breaks the output-path rule (``core.outputs.check_output``).
    """
    path = check_output(out, force=force, runs_root=runs_root(root))  # core.outputs: the one output-path rule
    chosen = select_ids(run_dir, what, ids, prune_dir)
    write_csv(path, ids_frame(run_dir, chosen))
    return {"run_dir": str(Path(run_dir)), "what": what, "out": str(path), "n": int(len(chosen))}
