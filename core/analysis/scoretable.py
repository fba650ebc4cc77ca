"""The one table of per-sample difficulty scores: name, label, help, direction, labels, function.

Pure data (standard library only, no numpy/faiss/numba/scipy), so the CLI's help, the glossary and the
app read it without loading the analysis. ``core.analysis.scores.compute_scores`` computes the
columns of ``scores.csv`` from the rows that are not oracles, in the table's order; ``prune --score``
accepts every row; the prune labels (CLI JSON, prune page, report), the glossary's score
definitions (``core/glossary.py``, hence the README) and the ``--score`` help come from here. A new
score is one row here (its function in ``core/analysis/scores.py`` or its own module) plus its test.

A row's ``function`` is a ``module:callable`` path, imported on first use:

- a computed score (``oracle=False``): ``function(inputs: core.analysis.scores.ScoreInputs) -> (N,)``
  floats from the run's features (and labels when ``needs_labels``);
- an oracle (``oracle=True``: reads the ground truth, not the features; an upper reference, never a
  method): ``function(frame: pandas.DataFrame) -> (N,) float64`` from the ``scores.csv`` frame.

Direction: every column of ``scores.csv`` is oriented so that HIGHER = MORE difficult (pruning removes
the highest first). ``direction`` is +1 when the function returns that already, -1 when it returns
an easiness (``compute_scores`` then negates it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_S = "s = cosine similarity of L2-normalised pre-projector features"
_SCORES = "core.analysis.scores"


@dataclass(frozen=True)
class Score:
    """One score. ``help`` is its glossary definition; ``label`` how the app and the CLI show it."""

    name: str
    label: str
    help: str
    needs_labels: bool
    function: str  # "module:callable" (see the module docstring for the two signatures)
    oracle: bool = False
    direction: int = 1  # +1: the function's value grows with difficulty; -1: it shrinks (negated)

    def resolve(self) -> Callable[..., Any]:
        """The function, imported now (the table itself imports nothing heavy)."""
        module, _, name = self.function.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn


SCORES: tuple[Score, ...] = (
    Score(
        "band",
        "band (label-free)",
        "Label-free. The share of a sample's pairs (with every other training sample) whose similarity lies in the "
        "paper's band Sim_posLow <= s < Sim_posHigh. The thresholds are dataset-level (Eq. 12 lifted from a batch "
        "to the whole set): sort the similarities of all pairs in descending order; Sim_posHigh is the value at "
        f"position pos_high, Sim_posLow the one at position pos_low (fractions of the list; {_S}).",
        False,
        f"{_SCORES}:band_column",
    ),
    Score(
        "cross_class",
        "cross_class (uses labels)",
        "Needs labels. Mean similarity to the k nearest samples of other classes minus the mean similarity to the "
        "k nearest samples of its own class (a missing side counts as -1). High = closer to other classes than to "
        "its own, e.g. an image that mixes two classes.",
        True,
        f"{_SCORES}:cross_class_column",
    ),
    Score(
        "margin",
        "margin (uses labels)",
        "Needs labels. 1 - (p_top1 - p_top2) of a linear probe's class probabilities (fitted on the same features "
        "and labels, App. A.5): a small gap between the two most likely classes = a sample on a decision boundary.",
        True,
        f"{_SCORES}:margin_column",
    ),
    Score(
        "prototype",
        "prototype (label-free)",
        "Label-free. Spherical k-means prototypes (as many as classes; round(1/pos_high) without labels) "
        "are fitted on the features; the score is "
        "c2 - c1, the cosine to the 2nd-nearest prototype minus the cosine to the nearest (always <= 0). Near 0 = "
        "the sample sits on the boundary between two prototypes.",
        False,
        f"{_SCORES}:prototype_column",
    ),
    Score(
        "random",
        "random",
        "Uniform random numbers in [0, 1) (seeded): the baseline that a pruning score must beat at the same ratio.",
        False,
        f"{_SCORES}:random_column",
    ),
    Score(
        "mixed",
        "mixed (oracle: the ground-truth Mixed-ω flag)",
        "Not a score but the ground truth of Mixed-omega data: 1 for the training images replaced by a pixel mix "
        "of two classes, else 0. The AUROC of a score against it says how well the score finds them.",
        False,
        "core.analysis.prune:mixed_oracle",
        oracle=True,
    ),
)

BY_NAME: dict[str, Score] = {s.name: s for s in SCORES}
#: every name ``prune --score`` accepts, in the table's order
SCORE_NAMES: tuple[str, ...] = tuple(BY_NAME)
#: the computed columns of ``scores.csv`` (labelled data), in file order
COMPUTED_SCORES: tuple[str, ...] = tuple(s.name for s in SCORES if not s.oracle)
LABEL_SCORES: tuple[str, ...] = tuple(s.name for s in SCORES if s.needs_labels and not s.oracle)
FREE_SCORES: tuple[str, ...] = tuple(s.name for s in SCORES if not s.needs_labels and not s.oracle)
#: prune scores that read the ground truth, not the features: an upper reference, never a method
ORACLE_SCORES: tuple[str, ...] = tuple(s.name for s in SCORES if s.oracle)
#: the columns of ``scores.csv`` that are not scores (the one place they are listed)
META_COLUMNS = ("index", "label", "mixed")


def score_label(name: str) -> str:
    """The display label of a score (an oracle's names the ground truth it reads); unknown names as they are."""
    row = BY_NAME.get(name)
    return row.label if row else name


def cli_help() -> str:
    """One line for ``--score``: every score, the oracles marked."""
    free = [s.name for s in SCORES if not s.oracle]
    oracles = [s.name for s in SCORES if s.oracle]
    return f"{', '.join(free + oracles)} (oracle: Mixed-ω runs only)"
