"""One definition per term, shared by the app (help texts, glossary expanders), the README and the report.

``GLOSSARY`` maps a term to ``(group, definition)``; groups are ``score``, ``loss mode``, ``theory``,
``pairs`` and ``statistics``. Pure data: no imports beyond the standard library.
"""

from __future__ import annotations

GLOSSARY: dict[str, tuple[str, str]] = {
    "band": (
        "score",
        "Share of a sample's similarities that fall in the paper's difficult band Sim_posLow <= s < Sim_posHigh "
        "(Eq. 12: thresholds at the posHigh and posLow quantiles of all pairwise cosine similarities). "
        "Label-free; high = the sample sits close to many samples that are probably of another class.",
    ),
    "cross_class": (
        "score",
        "Mean cosine similarity to the k nearest samples of other classes minus the mean to the k nearest "
        "of its own class. Needs labels; high = closer to other classes than to its own.",
    ),
    "margin": (
        "score",
        "1 - (p_top1 - p_top2) of the linear probe's class probabilities: a small gap between the two most "
        "likely classes means the sample sits on a decision boundary.",
    ),
    "prototype": (
        "score",
        "1 - cosine similarity to the nearest of k-means prototypes fitted on the features (label-free): "
        "high = far from every cluster centre, an atypical sample.",
    ),
    "random": ("score", "A uniform random score (seeded): the baseline any pruning score must beat at the same ratio."),
    "mixed": (
        "score",
        "Oracle: 1 for the samples that Mixed-omega replaced by a mix of two classes, else 0. Only exists for "
        "Mixed-omega data, where the ground truth is known; pruning by it is an upper bound, not a method.",
    ),
    "baseline": ("loss mode", "Plain SimCLR NT-Xent loss (Eq. 1), no special treatment of difficult pairs."),
    "removal": (
        "loss mode",
        "Difficult pairs (similarity between Sim_posLow and Sim_posHigh in the batch) are removed from the "
        "loss: their logit is set to 0 (Eq. 13) or masked out of the denominator.",
    ),
    "margin_loss": (
        "loss mode",
        "mode 'margin': a margin sigma is added to the logits of difficult pairs (Eq. 14), pushing them apart harder.",
    ),
    "temperature": (
        "loss mode",
        "Difficult pairs get a lower temperature rho * tau with rho < 1 (Eq. 15), sharpening their gradient.",
    ),
    "combined": ("loss mode", "Removal, margin and temperature together (Eq. 16)."),
    "difficult pair": (
        "pairs",
        "Two samples of different classes whose representations are very similar. On the Hard pairs page it "
        "means either the paper's band (similarity between the Eq. 12 thresholds) or the k most similar "
        "cross-class pairs; the page says which one it uses.",
    ),
    "alpha": ("theory", "alpha: mean cosine similarity of pairs of samples from the same class (Sec. 3)."),
    "beta": ("theory", "beta: mean similarity of pairs from different classes that are not difficult."),
    "gamma": (
        "theory",
        "gamma: mean similarity of difficult cross-class pairs; the paper's theory needs gamma > beta.",
    ),
    "error bound": (
        "theory",
        "Thm 3.x upper bounds on the linear-probe error of the learned representation with difficult pairs kept, "
        "removed, or given a margin / temperature. A bound above 1 is vacuous (it says nothing about an error "
        "rate); only the comparison between bounds carries information.",
    ),
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
