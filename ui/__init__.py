"""Streamlit helpers shared by the pages: the frame (``ui.frame``), cached readers (``ui.readers``),
messages (``ui.feedback``), forms and views (``ui.lossform``, ``ui.runforms``, ``ui.retrain``, ...)."""
