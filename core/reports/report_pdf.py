"""Print the HTML report to PDF with headless Chromium (``python -m core report --pdf``).

Chromium is looked up as ``$HARDPAIRS_CHROMIUM``, ``/usr/bin/chromium``, then ``chromium`` /
``chromium-browser`` on the PATH; none found is a HardpairsError that says how to install it.
Chromium prints into a private temporary folder; the PDF is then written with ``core.io.atomic_write_bytes``,
so it appears whole or not at all and gets the user's umask like every other file (0o644 under 0o022;
Chromium's own output file would keep ``mkstemp``'s 0o600).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from core.errors import HardpairsError
from core.io import atomic_write_bytes

PDF_TIMEOUT_S = 180
#: Chromium's window while it prints: as wide as an A4 page inside its 12 mm margins (186 mm = 703 CSS px),
#: so that plotly draws every figure at a width the page holds (figures are sized when the page loads).
PRINT_WINDOW = "703,1000"


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
    with tempfile.TemporaryDirectory(prefix="hardpairs-chromium-") as work:
        printed = Path(work) / "report.pdf"
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={Path(work) / 'profile'}",
            "--no-pdf-header-footer",
            f"--window-size={PRINT_WINDOW}",
            f"--print-to-pdf={printed}",
            Path(html_path).resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PDF_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise HardpairsError(f"Chromium could not print the report ({err}); open the HTML and print it") from None
        if proc.returncode != 0 or not printed.is_file() or printed.stat().st_size == 0:
            last = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise HardpairsError(f"Chromium failed to print the report (exit {proc.returncode}: {last[0][:200]})")
        atomic_write_bytes(target, printed.read_bytes())
    return target
