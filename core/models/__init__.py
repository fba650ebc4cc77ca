"""Backbones and their weights: the architectures (``models``), checkpoints ours and foreign (``checkpoints``, with
the key layouts of other projects in ``layouts`` and inert stand-ins for pickled objects in ``standins``), and
feature extraction from a backbone (``features``)."""
