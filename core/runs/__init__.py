"""Per-run operations: train (``training``, ``resume``, ``pipeline``, ``manifest``), import, extract, analyse
(``analysis``, ``knngraph``, ``pairs``, ``maps``, ``theory``), tag and prune (``tags``, ``pruning``, ``tagprune``)."""
