"""The Compare page's "Beside the paper" expander: the chosen runs next to the paper's numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from core.paper.numbers import beside_paper_for


def paper_table(run_dirs: list[str | Path]) -> Any:
    """The :func:`core.paper.numbers.beside_paper_for` frame of these run folders."""
    return beside_paper_for(run_dirs)


def paper_expander(root: str | Path, run_ids: list[str]) -> None:
    """Render "Beside the paper" for the runs under ``root`` named by the recipes (``<table>-<row>-s<seed>``)."""
    run_dirs: list[str | Path] = [Path(root) / r for r in run_ids]
    with st.expander("Beside the paper"):
        frame = paper_table(run_dirs)
        if frame.empty:
            st.caption(
                "No run here is named like a recipe row (<table>-<row>-s<seed>, e.g. table1-cifar10-baseline-s0). "
                "Run one: `python -m core reproduce table1 --dry-run` lists the commands."
            )
            return
        st.dataframe(frame.round(2), hide_index=True)
        st.caption(
            "paper: the published mean of 3 runs; mean, std and the 95% Student-t interval over our seeds; "
            "delta = our mean - the paper's (percentage points), only for runs probed with the paper's protocol "
            "(`--protocol paper`, minibatch SGD); runs probed otherwise are listed as not comparable."
        )
