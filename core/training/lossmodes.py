"""The one table of loss modes: family, pair selection, knobs, label and help.

Pure data, no torch: config validation, the training step, the loss, the CLI help and both app
forms read it, so a new mode is added here (and its formula in ``core/training/loss.py``) and
nowhere else. The knobs are ``TrainConfig`` field names.

Families:

* ``paper``      Zhang et al. (ICLR 2026) Eq. 12-16: SimCLR with in-batch difficult-pair selection.
* ``hard``       hard-negative contrastive learning (Jiang et al., H-UCL / H-SCL).
* ``supervised`` uses the labels (an upper reference, not unsupervised).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LossMode:
    """One loss mode. ``knobs`` are the ``TrainConfig`` fields this mode reads."""

    name: str
    family: str  # "paper", "hard" or "supervised"
    selects_pairs: bool  # runs the Eq. 12 in-batch selection (reads pos_high/pos_low)
    knobs: tuple[str, ...]
    label: str
    help: str

    @property
    def needs_labels(self) -> bool:
        return self.family == "supervised"


_BAND = ("pos_high", "pos_low")

MODES: tuple[LossMode, ...] = (
    LossMode("baseline", "paper", False, (), "SimCLR", "SimCLR (InfoNCE), no special treatment of difficult pairs"),
    LossMode(
        "removal",
        "paper",
        True,
        _BAND + ("removal",),
        "removal (Eq. 13)",
        "remove difficult pairs from the loss (paper Eq. 13)",
    ),
    LossMode(
        "margin",
        "paper",
        True,
        _BAND + ("sigma",),
        "margin (Eq. 14)",
        "add a margin σ to difficult-pair logits (Eq. 14)",
    ),
    LossMode(
        "temperature",
        "paper",
        True,
        _BAND + ("rho",),
        "temperature (Eq. 15)",
        "scale the temperature of difficult pairs by ρ (Eq. 15)",
    ),
    LossMode(
        "combined",
        "paper",
        True,
        _BAND + ("sigma", "rho"),
        "combined (Eq. 16)",
        "margin + temperature scaling: the paper's method (Eq. 16)",
    ),
    LossMode(
        "hard_ucl",
        "hard",
        False,
        ("beta", "tau_plus"),
        "H-UCL",
        "hard-negative UCL (Jiang et al.), strength β, debiasing τ+",
    ),
    LossMode("scl", "supervised", False, (), "SCL", "supervised contrastive (uses labels; an upper reference)"),
    LossMode("hard_scl", "supervised", False, ("beta",), "H-SCL", "hard-negative supervised contrastive (uses labels)"),
    LossMode(
        "hard_scl_thr",
        "supervised",
        False,
        ("hard_threshold",),
        "H-SCL (threshold)",
        "H-SCL whose negatives are the other-label views with s/tau >= --hard-threshold, each weighted 1 "
        "(Jiang et al.'s H(x,f,t) with t = e^threshold; uses labels)",
    ),
    LossMode(
        "hard_ucl_thr",
        "hard",
        False,
        ("hard_threshold",),
        "H-UCL (threshold)",
        "H-UCL whose negatives are the views with s/tau >= --hard-threshold, each weighted 1 "
        "(Jiang et al.'s H(x,f,t) with t = e^threshold)",
    ),
)

BY_NAME: dict[str, LossMode] = {m.name: m for m in MODES}
LOSS_MODES: tuple[str, ...] = tuple(BY_NAME)
PAPER_MODES: tuple[str, ...] = tuple(m.name for m in MODES if m.family == "paper")
SELECTING_MODES: tuple[str, ...] = tuple(m.name for m in MODES if m.selects_pairs)
LABEL_MODES: tuple[str, ...] = tuple(m.name for m in MODES if m.needs_labels)
#: the modes whose hardening function is Jiang et al.'s indicator ``1[e^{g} >= t]`` (``hard_threshold`` = log t)
THRESHOLD_MODES: tuple[str, ...] = tuple(m.name for m in MODES if "hard_threshold" in m.knobs)
#: the knobs a pruned retrain (``prune --train``) may override; the others keep the parent run's values
RETRAIN_KNOBS: tuple[str, ...] = ("pos_high", "pos_low", "sigma", "rho", "beta", "tau_plus")


def get_mode(name: str) -> LossMode:
    """The mode called ``name``; ``KeyError`` names the valid ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown loss mode {name!r}; use one of {', '.join(LOSS_MODES)}") from None


def cli_help() -> str:
    """One line for ``--loss-mode``: every mode with its family."""
    groups = {fam: [m.name for m in MODES if m.family == fam] for fam in ("paper", "hard", "supervised")}
    return (
        f"paper: {', '.join(groups['paper'])}; hard-negative: {', '.join(groups['hard'])}; "
        f"supervised (needs labels): {', '.join(groups['supervised'])}"
    )
