"""The dataset audit on one run: tags (``tags``) and pruning by them (``tagprune``), ground truth and
per-score AUROC (``groundtruth``), label-error suggestions (``labelerrors``), find similar (``similar``) and saved
views (``views``)."""
