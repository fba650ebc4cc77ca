"""Streamlit helpers shared by the pages (``ui.common``) and page components."""
