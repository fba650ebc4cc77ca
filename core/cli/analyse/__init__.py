"""Commands that analyse one run's features: score, pairs, prune, umap, theory."""
