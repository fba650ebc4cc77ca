"""Files: the repository root, atomic writes and the JSON/NPZ readers every layer of ``core`` uses.

This is the bottom of ``core`` (it imports only ``core.errors``), so that data, training and
analysis code can write files atomically without importing the run-folder layer (every caller imports
these names from here).
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import struct
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import HardpairsError

REPO_ROOT = Path(__file__).resolve().parents[1]

PathLike = str | os.PathLike[str]


def current_umask() -> int:
    """The process umask (read from ``/proc/self/status`` where possible, so it is never changed, not even briefly)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc: the classic read-by-setting (restored at once)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """Mode of a new regular file under the current umask, as ``open()`` would make it (0o644 under 0o022)."""
    return 0o666 & ~current_umask()


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half of it.

    The file gets the user's umask (0o644 under the usual 0o022), not ``mkstemp``'s private 0o600.
    """
    with _replacing(Path(path), ".tmp") as (fd, _):
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


@contextmanager
def _replacing(path: Path, suffix: str) -> Iterator[tuple[int, str]]:
    """``(fd, name)`` of a new temporary file beside ``path`` with the user's umask mode (the caller closes
    ``fd``); renamed over ``path`` when the block ends, removed when it fails (a full disk as a clear error)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        os.fchmod(fd, new_file_mode())
        yield fd, tmp
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in _FULL:
            raise disk_error(path, err) from None
        raise


#: errno values that mean "no space left" (a full disk, or a full quota) and "read-only file system"
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def disk_error(path: PathLike, err: BaseException) -> HardpairsError:
    """The HardpairsError for a write to ``path`` that failed with a full disk (naming the free space)."""
    if getattr(err, "errno", None) == errno.EROFS:
        return HardpairsError(f"cannot write {path}: the file system is read-only; write to another folder")
    try:
        free = f"{shutil.disk_usage(Path(path).parent).free / 1e6:.2f} MB free"
    except OSError:
        free = "free space unknown"
    tail = "nothing was written -- free some space or write to another folder"
    return HardpairsError(f"cannot write {path}: the disk is full ({free} in {Path(path).parent}); {tail}")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as pretty JSON (numpy scalars and arrays allowed)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=True)
    atomic_write_bytes(path, (text + "\n").encode())


def read_json(path: PathLike, default: Any = None) -> Any:
    """Read a JSON file; return ``default`` when it does not exist."""
    path = Path(path)
    if not path.exists():
        return default
    with open(path) as fh:
        return json.load(fh)


def save_npz(path: PathLike, **arrays: Any) -> None:
    """Atomically write arrays to an uncompressed ``.npz`` (mode from the user's umask, like every write here).

    A value that is not an ndarray but has ``shape``, ``dtype`` and ``chunks()`` (a
    ``core.data.shards.ShardedArray``) is streamed into its member block by block, so assembling
    sharded features never holds them whole in memory.
    """
    with _replacing(Path(path), ".npz") as (fd, tmp):  # the user's umask, not mkstemp's 0o600 (savez keeps it)
        os.close(fd)
        named: dict[str, Any] = dict(arrays)  # keyword names are array names, not savez options
        if all(isinstance(v, np.ndarray) or not hasattr(v, "chunks") for v in named.values()):
            np.savez(tmp, **named)
        else:
            _savez_streamed(tmp, named)


def _savez_streamed(tmp: str, arrays: dict[str, Any]) -> None:
    """``np.savez`` for members that are ndarrays or chunked arrays (written block by block)."""
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
                if not hasattr(arr, "chunks") or isinstance(arr, np.ndarray):
                    np.lib.format.write_array(out, np.asanyarray(arr), allow_pickle=False)
                    continue
                dtype = np.dtype(arr.dtype)
                header = {
                    "descr": np.lib.format.dtype_to_descr(dtype),
                    "fortran_order": False,
                    "shape": tuple(arr.shape),
                }
                np.lib.format.write_array_header_1_0(out, header)
                for _, block in arr.chunks():
                    out.write(np.ascontiguousarray(block, dtype=dtype).tobytes())


def append_jsonl(path: PathLike, obj: Any) -> None:
    """Append one JSON line (a line is written whole with a single write call)."""
    line = json.dumps(obj, sort_keys=True, default=_json_default) + "\n"
    try:
        with open(path, "a") as fh:
            fh.write(line)
            fh.flush()
    except OSError as err:
        if err.errno in _FULL:
            raise disk_error(path, err) from None
        raise


def read_jsonl(path: PathLike) -> list[dict[str, Any]]:
    """Read a JSON-lines file, skipping a torn last line; [] when missing."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def write_csv(path: str | os.PathLike[str], df: pd.DataFrame) -> None:
    """Atomically write a DataFrame as CSV (no index column).

    Text cells and column names starting with ``= + - @`` (or a tab / carriage return) that are not
    numbers get a leading ``'``, so a spreadsheet shows a class name like ``=HYPERLINK(...)`` as text.
    """
    buf = io.StringIO()
    text_cols = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype)]
    safe = df.assign(**{str(c): df[c].map(_as_text) for c in text_cols}) if text_cols else df
    safe.rename(columns=_as_text).to_csv(buf, index=False)
    atomic_write_bytes(path, buf.getvalue().encode())


def _as_text(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is a string a spreadsheet would run as a formula."""
    if not isinstance(value, str) or value[:1] not in ("=", "+", "-", "@", "\t", "\r"):
        return value
    try:
        float(value)  # -0.5: a number, not a formula
    except ValueError:
        return "'" + value
    return value


def save_npy(path: str | os.PathLike[str], arr: np.ndarray) -> None:
    """Atomically write one array as ``.npy``."""
    buf = io.BytesIO()
    np.save(buf, arr)
    atomic_write_bytes(path, buf.getvalue())


def read_json_line(line: str) -> dict[str, Any] | None:
    """One text line parsed as a JSON object (a CLI result line); None when it is not one."""
    line = line.strip()
    if not (line.startswith("{") and line.endswith("}")):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def run_log(run_dir: str | os.PathLike[str] | None, message: str, echo: bool = True) -> None:
    """Append ``HH:MM:SS message`` to ``run_dir/log.txt`` (the file created when missing) and echo it to stderr.

    Args:
        run_dir: the run folder (never created here), or None to only echo.
        message: the text (may span several lines; only the first gets the time stamp).
        echo: also print ``message`` to stderr (False when a progress bar owns the terminal).
    """
    if echo:
        print(message, file=sys.stderr, flush=True)
    if run_dir is None:
        return
    path = Path(run_dir)
    if not path.is_dir():  # deleted while its job ran: never re-create a folder holding only log.txt
        return
    try:
        with open(path / "log.txt", "a") as fh:
            fh.write(time.strftime("%H:%M:%S ") + message + "\n")
    except OSError as err:
        if err.errno not in _FULL:
            raise  # a full disk loses a log line (the message was echoed), not the command


def _npz_member(path: Path, fh: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray[Any, Any]:
    """One stored ``.npy`` member as a read-only memmap (or loaded, when compressed)."""
    if info.compress_type != zipfile.ZIP_STORED:
        with fh.open(info) as member:
            return np.asarray(np.lib.format.read_array(member, allow_pickle=False))
    with open(path, "rb") as raw:
        raw.seek(info.header_offset)
        local = raw.read(30)
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"bad zip header for {info.filename}")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        raw.seek(start)
        version = np.lib.format.read_magic(raw)
        fmt = np.lib.format
        header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = header(raw)
        if dtype.hasobject:
            raise ValueError(f"{info.filename} holds Python objects")
        offset = raw.tell()
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def map_npz(path: PathLike, required: tuple[str, ...] = (), hint: str = "") -> dict[str, np.ndarray[Any, Any]]:
    """The arrays of an ``.npz`` file, each stored (uncompressed) member as a read-only ``np.memmap``.

    ``save_npz`` writes uncompressed members, so an ``.npz`` of ours is paged in as it is read, never
    loaded whole (a compressed member is read into memory). ``required`` keys must be present.

    Raises:
        HardpairsError: the file is unreadable or lacks a required key (the message ends with ``hint``).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as fh:
            arrays = {info.filename.removesuffix(".npy"): _npz_member(path, fh, info) for info in fh.infolist()}
        missing = [k for k in required if k not in arrays]
        if missing:
            raise ValueError(f"it lacks {', '.join(missing)}")
    except Exception as err:  # noqa: BLE001 - zip, EOF and format errors all mean "unreadable"
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise HardpairsError(f"{path} is unreadable ({reason}){'; ' + hint if hint else ''}") from None
    return arrays
