"""Pure per-page view models: what each page derives from ``core`` for display (no Streamlit calls)."""
