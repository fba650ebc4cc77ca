"""The glossary in the app: ``help=`` texts for selectors and one "Glossary" expander per page.

Every text comes from ``core.glossary`` (one definition per term); pages of other helpers call
``glossary_expander(["score", ...])`` with the groups that apply to them.
"""

from __future__ import annotations

import streamlit as st

from core.glossary import GLOSSARY, define, markdown


def help_for(term: str, fallback: str = "") -> str:
    """The glossary definition of ``term`` for a widget's ``help=`` (``fallback`` when the term is unknown)."""
    return define(term) if term in GLOSSARY else fallback


def glossary_expander(groups: list[str]) -> None:
    """One collapsed "Glossary" expander with the definitions of ``groups`` (see ``core.glossary.GROUPS``)."""
    with st.expander("Glossary", icon=":material/menu_book:"):
        st.markdown(markdown(groups))
