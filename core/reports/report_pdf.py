"""Print the HTML report to PDF with headless Chromium (``python -m core report --pdf``).

Chromium is looked up as ``$HARDPAIRS_CHROMIUM``, ``/usr/bin/chromium``, then ``chromium`` /
``chromium-browser`` on the PATH; none found is a HardpairsError that says how to install it.
The PDF is written to a temporary file beside the target and renamed, so it appears whole or not at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from core.errors import HardpairsError

PDF_TIMEOUT_S = 180


def find_chromium() -> str | None:
    """The Chromium executable, or None."""
    for cand in (os.environ.get("HARDPAIRS_CHROMIUM"), "/usr/bin/chromium"):
        if cand and Path(cand).is_file():
            return cand
    return shutil.which("chromium") or shutil.which("chromium-browser")


def print_pdf(html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str]) -> Path:
    """Render ``html_path`` to ``pdf_path`` with headless Chromium; returns the PDF path.

    Raises:
        HardpairsError: no Chromium, or it failed / produced no PDF (its last output line named).
    """
    chromium = find_chromium()
    if chromium is None:
        raise HardpairsError(
            "--pdf needs Chromium and none was found; install it (Debian: `apt-get install chromium`) or set "
            "HARDPAIRS_CHROMIUM=/path/to/chromium; the HTML report was written anyway"
        )
    target = Path(pdf_path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".pdf", dir=target.parent)
    os.close(fd)
    with tempfile.TemporaryDirectory(prefix="hardpairs-chromium-") as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}",
            Path(html_path).resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PDF_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            Path(tmp).unlink(missing_ok=True)
            raise HardpairsError(f"Chromium could not print the report ({err}); open the HTML and print it") from None
    if proc.returncode != 0 or Path(tmp).stat().st_size == 0:
        Path(tmp).unlink(missing_ok=True)
        last = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise HardpairsError(f"Chromium failed to print the report (exit {proc.returncode}: {last[0][:200]})")
    os.replace(tmp, target)
    return target
