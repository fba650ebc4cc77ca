"""The paper's tables as recipes (``recipes``) and its printed numbers set beside ours (``numbers``)."""
