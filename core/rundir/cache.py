"""The one cache rule of run-level analyses: (features fingerprint + parameters) -> the stored output.

An analysis ``name`` of a run stores its result as ``<run>/<name>``, a JSON object holding the
result's keys plus ``params`` (the parameters it was computed with) and ``features_sha1`` (the
fingerprint of the run's features, :func:`features_fingerprint`: the sha1 of the bytes of the
features the run's reader reads). A later call with equal parameters on unchanged features -- with
every listed output file present and, when given, ``valid`` accepting the stored record -- returns
the stored object with ``cached: True`` instead of computing again. Every analysis of a run (scores,
pairs, the map, theory, the kNN graph) uses this rule, so ``features_sha1`` means the same everywhere;
a record stored under another meaning (an older map sidecar) simply does not match and is recomputed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.io import read_json, write_json
from core.rundir.featurefile import NPZ, require_features

#: Keys the cache adds to a stored result.
CACHE_KEYS = ("params", "features_sha1")

_FILE_SHA1: dict[tuple[str, int, int, int], str] = {}


def file_sha1(path: Path) -> str:
    """sha1 of a file's bytes (memoised per file identity, size and mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _FILE_SHA1:
        h = hashlib.sha1()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
        _FILE_SHA1[key] = h.hexdigest()
    return _FILE_SHA1[key]


def features_fingerprint(run_dir: str | os.PathLike[str]) -> str:
    """THE cache key of a run's features: a sha1 of the bytes the features reader reads.

    ``features.npz``: the sha1 of the file. A shard folder (``features/``): the sha1 of its
    ``index.json`` followed by the sha1 of every other ``.npy`` in it (shards and labels), by name.

    Raises:
        HardpairsError: the run has no features yet (the message names the command that makes them).
    """
    source = require_features(run_dir)
    if source.name == NPZ:
        return file_sha1(source)
    h = hashlib.sha1()
    for path in [source / "index.json", *sorted(source.glob("*.npy"))]:
        h.update(f"{path.name}:{file_sha1(path)}\n".encode())
    return h.hexdigest()


def stored(run_dir: str | os.PathLike[str], name: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The stored result of ``name`` when it was computed with ``params`` on the current features, else None.

    A missing, corrupt or foreign record is None (a miss), never an error.
    """
    try:
        old = read_json(Path(run_dir) / name)
    except (OSError, ValueError):
        return None
    if not isinstance(old, dict) or old.get("params") != params:
        return None
    if old.get("features_sha1") != features_fingerprint(run_dir):
        return None
    return old


def cached(
    run_dir: str | os.PathLike[str],
    name: str,
    params: dict[str, Any],
    compute: Callable[[], dict[str, Any]],
    *,
    force: bool = False,
    outputs: Iterable[str] = (),
    valid: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Compute-or-load the analysis ``name`` of a run.

    Args:
        run_dir: the run folder (must hold features, either format).
        name: the JSON file the result is stored in, e.g. ``"scores.json"``.
        params: every parameter the result depends on (JSON-comparable values).
        compute: makes the result (and writes its ``outputs``) on a miss.
        force: recompute even when the stored result matches.
        outputs: other files (relative to ``run_dir``) the result needs; a missing one is a miss.
        valid: a further check of a stored record (e.g. an output's checksum); False is a miss.

    Returns:
        The result with ``params``, ``features_sha1`` and ``cached`` (bool) added.
    """
    run = Path(run_dir)
    old = None if force else stored(run, name, params)
    if old is not None and all((run / o).exists() for o in outputs) and (valid is None or valid(old)):
        return old | {"cached": True}
    fingerprint = features_fingerprint(run)
    record = compute() | {"params": params, "features_sha1": fingerprint}
    write_json(run / name, record)
    return record | {"cached": False}
