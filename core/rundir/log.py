"""The trainer's progress printer: epoch lines to stderr and the run's ``log.txt`` (written by ``core.io.run_log``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.io import run_log


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
