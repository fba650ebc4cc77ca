"""One definition per term, shared by the app (help texts, glossary expanders), the README and the report.

``GLOSSARY`` maps a term to ``(group, definition)``; groups are ``score``, ``loss mode``, ``knob``,
``pairs``, ``theory`` and ``statistics`` (``GROUPS``). Every definition was checked against the code
that computes it: scores ``core/analysis/scores.py`` (their definitions are the ``help`` of
``core/analysis/scoretable.py``, read from there), loss modes ``core/training/loss.py`` /
``hardneg.py`` / ``lossmodes.py``, alpha/beta/gamma ``core/analysis/theory.py``, bounds
``core/analysis/bounds.py``, pairs ``core/analysis/pairs.py``. Loss-mode terms are the mode names of
``core.training.lossmodes`` with the suffix `` (loss)`` where a score has the same name (``margin``).
:func:`markdown` renders a group for the README (``tests/test_glossary.py`` checks the README holds it).
Pure data: no imports beyond the standard library and the (equally pure) score table.
"""

from __future__ import annotations

from core.analysis.scoretable import SCORES

GROUPS = ("score", "loss mode", "knob", "pairs", "theory", "statistics")
HEADINGS = {
    "score": "Scores",
    "loss mode": "Loss modes",
    "knob": "Training knobs",
    "pairs": "Difficult pairs",
    "theory": "Theory: alpha, beta, gamma and the bounds",
    "statistics": "Statistics",
}

GLOSSARY: dict[str, tuple[str, str]] = {
    # --- per-sample scores: the rows of core/analysis/scoretable.py; higher = more difficult
    **{score.name: ("score", score.help) for score in SCORES},
    # --- loss modes (core/training/lossmodes.py; formulas in loss.py, hardneg.py)
    "baseline": (
        "loss mode",
        "SimCLR's NT-Xent (InfoNCE) loss with logits s/tau; difficult pairs get nothing special.",
    ),
    "removal": (
        "loss mode",
        "Eq. 13: the logit of a difficult pair is set to 0 (it stays in the denominator as exp(0) = 1 but gives no "
        "gradient); with removal='mask' the pair is dropped from the denominator instead. Difficult pairs are "
        "found in each batch (Eq. 12, thresholds per anchor row).",
    ),
    "margin (loss)": (
        "loss mode",
        "Loss mode 'margin', Eq. 14: a margin sigma is added to the similarity of difficult pairs, logit "
        "(s + sigma)/tau, so the loss pushes them apart harder.",
    ),
    "temperature": (
        "loss mode",
        "Eq. 15: difficult pairs get the temperature rho * tau, logit s/(rho tau) (rho < 1 sharpens their gradient).",
    ),
    "combined": (
        "loss mode",
        "Eq. 16, the paper's method: margin and temperature together, logit (s + sigma)/(rho tau) for difficult "
        "pairs (no removal).",
    ),
    "hard_ucl": (
        "loss mode",
        "H-UCL (Jiang et al.): unsupervised contrastive loss whose negatives are weighted by exp(beta s), so the "
        "most similar negatives count most; tau_plus > 0 debiases for same-class negatives.",
    ),
    "scl": (
        "loss mode",
        "Supervised contrastive loss: uses the labels (same-class samples are not negatives); "
        "an upper reference, not an unsupervised method.",
    ),
    "hard_scl": (
        "loss mode",
        "H-SCL: supervised contrastive loss with negatives weighted by exp(beta s) (uses labels).",
    ),
    "hard_scl_thr": (
        "loss mode",
        "Threshold H-SCL (Jiang et al.): SCL whose negatives are only the other-label views in "
        "H(x,f,t) = {x- : e^(s/tau) >= t}, each weighted 1; hard_threshold is log t (uses labels).",
    ),
    "hard_ucl_thr": (
        "loss mode",
        "Threshold H-UCL (Jiang et al.): UCL whose negatives are only the views in H(x,f,t) = {x- : e^(s/tau) >= t}, "
        "each weighted 1; hard_threshold is log t.",
    ),
    # --- knobs (TrainConfig fields)
    "tau": ("knob", "Temperature of the contrastive softmax; every logit is divided by it."),
    "pos_high / pos_low": (
        "knob",
        "Positions (fractions, pos_high < pos_low) in the descending list of similarities that give the band's "
        "edges Sim_posHigh and Sim_posLow (Eq. 12), e.g. 0.15 and 0.22 for CIFAR-10.",
    ),
    "sigma": ("knob", "The margin added to difficult-pair similarities (modes margin, combined)."),
    "rho": ("knob", "The factor on the temperature of difficult pairs (modes temperature, combined)."),
    "beta (H-UCL/H-SCL)": (
        "knob",
        "Hardening strength of hard_ucl / hard_scl (negatives weighted by exp(beta s)); not the theory's beta.",
    ),
    "tau_plus": ("knob", "H-UCL's class prior for debiasing (the share of negatives assumed to be same-class)."),
    # --- pairs (core/analysis/pairs.py, Hard pairs page)
    "difficult pair": (
        "pairs",
        "Two samples of different classes whose representations are very similar. The Hard pairs page offers two "
        "definitions and says which one every view uses: 'band' or 'top K'.",
    ),
    "band (pairs)": (
        "pairs",
        "A cross-class pair, among one sample's k most similar other-class samples, whose similarity lies in the "
        "band Sim_posLow <= s < Sim_posHigh (the same thresholds as the band score). File: pairs_band.csv.",
    ),
    "top K (pairs)": (
        "pairs",
        "The K most similar pairs of samples with different labels. File: pairs.csv; K is `pairs --top K`.",
    ),
    "Sim_posHigh / Sim_posLow": (
        "pairs",
        "The band's similarity thresholds (Eq. 12), one name everywhere: the similarities at the positions "
        "pos_high and pos_low of all pair similarities sorted from the most similar; a band pair has "
        "Sim_posLow <= s < Sim_posHigh. The flags `--pos-high` / `--pos-low` set the positions; class_pairs.npz "
        "and the `pairs` command's output store the values as t_hi / t_lo.",
    ),
    "k (neighbours)": (
        "pairs",
        "How many most similar other-class samples each sample is linked to (the other-class kNN graph); the "
        "band's pairs are edges of this graph, and the top-K ranking reads it. `pairs --k k`.",
    ),
    # --- theory (core/analysis/theory.py, bounds.py)
    "alpha": ("theory", "Mean cosine similarity of pairs of different samples from the same class (App. A.5)."),
    "beta": (
        "theory",
        "Mean similarity of cross-class pairs in which neither sample is difficult. Here a difficult sample is one "
        "of the 8% per class with the smallest linear-probe margin (App. A.5) -- not the Hard pairs definitions.",
    ),
    "gamma": (
        "theory",
        "Mean similarity of cross-class pairs with a difficult sample. The model assumes "
        "0 <= beta <= gamma < alpha < 1; a Welch t-test says whether gamma > beta in the data.",
    ),
    "error bound": (
        "theory",
        "Upper bounds on the linear-probe error, all of the form 4 delta/(1 - lambda) + 8 delta (HaoChen et al., "
        "Thm B.3): clean data (Thm 3.3), with difficult examples (Thm 3.4), after removing them (Cor 4.1) and with "
        "temperature scaling (Thm 4.5). A bound above 1 is vacuous -- it says nothing about an error rate; only "
        "which bound is smaller carries information.",
    ),
    "removal threshold": (
        "theory",
        "The gap gamma - beta above which the bound after removal (Cor 4.1) is below the bound with difficult "
        "examples kept (Thm 3.4): 'removal wins'.",
    ),
    # --- statistics
    "95% interval": (
        "statistics",
        "Student-t interval over seeds for a mean accuracy, or a paired bootstrap interval over test samples for "
        "a difference. 'Within noise' means the interval of the difference includes zero.",
    ),
    "McNemar test": (
        "statistics",
        "Paired test on the test images that exactly one of two models classifies correctly; its p-value says "
        "how surprising the split of those disagreements would be if both models were equally accurate.",
    ),
}


def define(term: str) -> str:
    """The definition of ``term`` (KeyError if unknown)."""
    return GLOSSARY[term][1]


def terms(group: str | None = None) -> list[str]:
    """Terms of one group (all when ``group`` is None), in the table's order."""
    return [t for t, (g, _) in GLOSSARY.items() if group is None or g == group]


def markdown(groups: list[str] | tuple[str, ...] = GROUPS) -> str:
    """The glossary of ``groups`` as Markdown: one ``**group**`` line per group, then ``- **term**: definition``."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise KeyError(f"unknown glossary group(s) {unknown}; use {list(GROUPS)}")
    blocks = []
    for group in groups:
        lines = [f"**{HEADINGS[group]}**"]
        lines += [f"- **{t}**: {define(t)}" for t in terms(group)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
