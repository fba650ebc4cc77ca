"""The one writer of a run's human-readable log: ``<run>/log.txt``, one timestamped line per message."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_log(run_dir: str | os.PathLike[str] | None, message: str, echo: bool = True) -> None:
    """Append ``HH:MM:SS message`` to ``run_dir/log.txt`` (created when missing) and echo it to stderr.

    Args:
        run_dir: the run folder, or None to only echo.
        message: the text (may span several lines; only the first gets the time stamp).
        echo: also print ``message`` to stderr (False when a progress bar owns the terminal).
    """
    if echo:
        print(message, file=sys.stderr, flush=True)
    if run_dir is None:
        return
    path = Path(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "log.txt", "a") as fh:
        fh.write(time.strftime("%H:%M:%S ") + message + "\n")


def progress_printer(run_dir: Path, epochs: int) -> Callable[[dict[str, Any]], None]:
    """An ``on_event`` callback of the trainer: epoch lines to stderr and ``log.txt`` (a bar on a terminal)."""
    bar: Any = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=epochs, desc="train", unit="epoch", file=sys.stderr)

    def on_event(event: dict[str, Any]) -> None:
        if event["kind"] != "epoch":
            return
        if bar is not None:
            bar.n = event["epoch"]
            bar.set_postfix(loss=f"{event['loss']:.3f}", ips=f"{event['images_per_s']:.0f}")
            if event["epoch"] >= epochs:
                bar.close()
        msg = (
            f"epoch {event['epoch']}/{epochs} loss {event['loss']:.4f} lr {event['lr']:.2e} "
            f"{event['images_per_s']:.0f} img/s flagged {event['flagged_share']:.3f}"
        )
        run_log(run_dir, msg, echo=bar is None)

    return on_event
