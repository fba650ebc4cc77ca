"""The approximate path of the analysis for large N: the screened kNN graph (``ivf``) tuned to a recall
(``graphtune``), sampled band thresholds (``sampled``) and a map fitted on a subsample (``mapscale``)."""
