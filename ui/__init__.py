"""The app's Streamlit helpers: the frame (``ui.frame``), cached readers (``ui.readers``), messages
(``ui.feedback``), job widgets, tagging and thumbnails; pure per-page view models live in ``ui.views``."""
