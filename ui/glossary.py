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


def help_for_options(options: list[str], intro: str = "") -> str:
    """``help=`` for a selector over glossary terms: ``intro`` then one line per option that has a definition."""
    lines = [f"- **{o}**: {define(o)}" for o in options if o in GLOSSARY]
    return "\n".join([intro, *lines] if intro else lines)


def glossary_expander(groups: list[str]) -> None:
    """One collapsed "Glossary" expander with the definitions of ``groups`` (see ``core.glossary.GROUPS``)."""
    with st.expander("Glossary", icon=":material/menu_book:"):
        st.markdown(markdown(groups))
