"""Analysis of frozen features: neighbours, band sweep, scores, pairs, pruning, maps, theory, bounds, probes."""
