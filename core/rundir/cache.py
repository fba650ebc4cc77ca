"""The one cache rule of run-level analyses: (features fingerprint + parameters) -> the stored output.

An analysis ``name`` of a run stores its result as ``<run>/<name>``, a JSON object holding the
result's keys plus ``params`` (the parameters it was computed with) and ``features_sha1`` (the
fingerprint of ``features.npz`` it was computed from). A later call with equal parameters on
unchanged features -- and with every listed output file present -- returns the stored object
with ``cached: True`` instead of computing again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.io import read_json, write_json
from core.rundir.folder import require_features

#: Keys the cache adds to a stored result.
CACHE_KEYS = ("params", "features_sha1")

_FINGERPRINTS: dict[tuple[str, int, int, int], str] = {}


def features_fingerprint(run_dir: str | os.PathLike[str]) -> str:
    """sha1 of the run's ``features.npz`` bytes (memoised per file identity, size and mtime).

    Raises:
        HardpairsError: the run has no features yet (the message names the command that makes them).
    """
    path = require_features(run_dir)
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _FINGERPRINTS:
        h = hashlib.sha1()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
        _FINGERPRINTS[key] = h.hexdigest()
    return _FINGERPRINTS[key]


def stored(run_dir: str | os.PathLike[str], name: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The stored result of ``name`` when it was computed with ``params`` on the current features, else None."""
    old = read_json(Path(run_dir) / name)
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
) -> dict[str, Any]:
    """Compute-or-load the analysis ``name`` of a run.

    Args:
        run_dir: the run folder (must hold ``features.npz``).
        name: the JSON file the result is stored in, e.g. ``"scores.json"``.
        params: every parameter the result depends on (JSON-comparable values).
        compute: makes the result (and writes its ``outputs``) on a miss.
        force: recompute even when the stored result matches.
        outputs: other files (relative to ``run_dir``) the result needs; a missing one is a miss.

    Returns:
        The result with ``params``, ``features_sha1`` and ``cached`` (bool) added.
    """
    run = Path(run_dir)
    old = None if force else stored(run, name, params)
    if old is not None and all((run / o).exists() for o in outputs):
        return old | {"cached": True}
    fingerprint = features_fingerprint(run)
    record = compute() | {"params": params, "features_sha1": fingerprint}
    write_json(run / name, record)
    return record | {"cached": False}
