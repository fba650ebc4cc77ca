"""The loss-mode part of both app forms (Runs: train; Prune & retrain: retrain), read from the one table.

Which modes exist, their labels and help, which knob widgets a mode shows and which ``--flags``
it passes all come from :mod:`core.training.lossmodes`; this module only adds the widget
metadata of each knob (label, range, step, help), keyed by the ``TrainConfig`` field names the
table uses, and takes the knob defaults from ``TrainConfig``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import HardpairsError
from core.training import lossmodes
from core.training.config import TrainConfig
from core.training.loss import REMOVAL_VARIANTS


@dataclass(frozen=True)
class NumberKnob:
    """A float knob's ``st.number_input``: label, range, step and help."""

    label: str
    lo: float
    hi: float
    step: float
    help: str


@dataclass(frozen=True)
class ChoiceKnob:
    """A string knob's ``st.selectbox``: label, options and help."""

    label: str
    options: tuple[str, ...]
    help: str


#: widget metadata per knob (``TrainConfig`` field names, as in ``LossMode.knobs``)
KNOB_WIDGETS: dict[str, NumberKnob | ChoiceKnob] = {
    "pos_high": NumberKnob(
        "posHigh",
        0.0,
        1.0,
        0.005,
        "Top share of each row's similarities treated as probable same-class, never flagged.",
    ),
    "pos_low": NumberKnob(
        "posLow", 0.0, 1.0, 0.005, "Pairs between posHigh and posLow are the difficult (cross-class) ones."
    ),
    "sigma": NumberKnob("margin σ", 0.0, 5.0, 0.01, "Margin added to difficult-pair logits (paper 0.03-0.1)."),
    "rho": NumberKnob(
        "temperature factor ρ", 0.01, 5.0, 0.05, "Difficult pairs use temperature ρ·τ (< 1 sharpens; paper 0.6-0.7)."
    ),
    "beta": NumberKnob("β (hardness)", 0.0, 10.0, 0.1, "Weight exp(β·s/τ) on negatives; 0 = no tilt."),
    "tau_plus": NumberKnob("τ+ (class prior)", 0.0, 0.99, 0.01, "Class prior of the debiasing estimator (H-UCL)."),
    "hard_threshold": NumberKnob(
        "threshold log t",
        -10.0,
        10.0,
        0.1,
        "Negatives are the views with s/τ ≥ log t (Jiang et al.: t = e^-0.5: -0.5).",
    ),
    "removal": ChoiceKnob(
        "removal variant",
        tuple(REMOVAL_VARIANTS),
        "zero: a difficult pair's logit is set to 0 (Eq. 13); mask: it is dropped from the denominator.",
    ),
}

#: knobs ``python -m core prune --train`` hands on to the retrain (defined once, in the mode table)
RETRAIN_KNOBS: tuple[str, ...] = lossmodes.RETRAIN_KNOBS

MODE_NAMES: tuple[str, ...] = lossmodes.LOSS_MODES
#: ``format_func`` of the mode selectbox (a dict lookup: picklable, as AppTest needs)
MODE_LABELS: dict[str, str] = {m.name: f"{m.name} — {m.help}" for m in lossmodes.MODES}
_CONFIG_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def mode_knobs(mode: str, passable: Iterable[str] | None = None) -> tuple[str, ...]:
    """The knobs ``mode`` reads, in table order; only those in ``passable`` when given."""
    knobs = lossmodes.get_mode(mode).knobs
    if passable is None:
        return knobs
    allowed = set(passable)
    return tuple(k for k in knobs if k in allowed)


def knob_default(name: str, values: Mapping[str, Any]) -> Any:
    """``values[name]`` (a preset or a run's config) when set, else the ``TrainConfig`` default."""
    value = values.get(name)
    return _CONFIG_DEFAULTS[name] if value is None else value


def flag_value(value: Any) -> str:
    """A flag's value as the CLI takes it: floats with ``:g`` (``0.2``, ``2``), others as ``str``."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def loss_flags(loss: Mapping[str, Any], passable: Iterable[str] | None = None) -> list[str]:
    """``--loss-mode M`` plus ``--knob value`` for each knob of M (restricted to ``passable``)."""
    mode = str(loss["loss_mode"])
    flags = ["--loss-mode", mode]
    for name in mode_knobs(mode, passable):
        flags += ["--" + name.replace("_", "-"), flag_value(loss[name])]
    return flags


def check_band(loss: Mapping[str, Any]) -> None:
    """Raise HardpairsError when a pair-selecting mode's band is empty (posLow <= posHigh)."""
    if not lossmodes.get_mode(str(loss["loss_mode"])).selects_pairs:
        return
    high, low = float(loss["pos_high"]), float(loss["pos_low"])
    if low <= high:
        raise HardpairsError(
            f"posLow ({low:g}) must be above posHigh ({high:g}): the flagged band is (posHigh, posLow]; "
            "raise posLow or lower posHigh."
        )


def mode_select(container: Any, default: Any, *, key: str, help: str | None = None) -> str:
    """The loss-mode selectbox in ``container`` (every mode of the table, labelled ``name — help``);
    ``default`` when it is a mode, else the first."""
    modes = list(MODE_NAMES)
    index = modes.index(default) if default in modes else 0
    label = MODE_LABELS.__getitem__
    return str(container.selectbox("Loss mode", modes, index=index, key=key, format_func=label, help=help))


def knob_inputs(
    knobs: Sequence[str], defaults: Mapping[str, Any], *, key: Callable[[str], str], columns: Sequence[Any]
) -> dict[str, Any]:
    """One widget per knob, spread over ``columns``; returns ``{knob: value}``.

    Args:
        knobs: knob names (``mode_knobs``).
        defaults: preset values or a run's config (missing knobs fall back to ``TrainConfig``).
        key: widget key of a knob.
        columns: containers the widgets go in, cycled.
    """
    values: dict[str, Any] = {}
    for i, name in enumerate(knobs):
        col = columns[i % len(columns)]
        widget = KNOB_WIDGETS[name]
        default = knob_default(name, defaults)
        if isinstance(widget, ChoiceKnob):
            options = list(widget.options)
            index = options.index(default) if default in options else 0
            values[name] = col.selectbox(widget.label, options, index=index, key=key(name), help=widget.help)
        else:
            values[name] = float(
                col.number_input(
                    widget.label,
                    widget.lo,
                    widget.hi,
                    min(max(float(default), widget.lo), widget.hi),
                    widget.step,
                    key=key(name),
                    help=widget.help,
                    format="%.3f",
                )
            )
    return values
