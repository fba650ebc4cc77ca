"""The glossary: one definition per term, in the README verbatim, every score and loss mode defined,
and the README's page URLs equal to app.py's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.analysis.scoretable import SCORE_NAMES, SCORES
from core.glossary import GLOSSARY, GROUPS, define, markdown, terms
from core.training.lossmodes import LOSS_MODES

ROOT = Path(__file__).resolve().parents[1]


def test_readme_glossary_is_generated_from_core_glossary():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- glossary:start -->\n(.*?)\n<!-- glossary:end -->", text, flags=re.S)
    assert block, "README.md lacks the glossary markers"
    assert block.group(1) == markdown(), (
        "README glossary differs from core/glossary.py; regenerate it with "
        "python -c 'from core.glossary import markdown; print(markdown())'"
    )


def test_every_score_loss_mode_and_bound_is_defined_once():
    defined = set(terms())
    assert terms("score") == list(SCORE_NAMES)  # the score table's rows, in its order, with its help
    assert all(define(s.name) == s.help for s in SCORES)
    modes = {m if m not in defined or GLOSSARY[m][0] == "loss mode" else f"{m} (loss)" for m in LOSS_MODES}
    assert modes <= set(terms("loss mode")), modes - set(terms("loss mode"))
    assert {"alpha", "beta", "gamma", "error bound", "removal threshold"} <= set(terms("theory"))
    assert {g for g, _ in GLOSSARY.values()} == set(GROUPS)
    assert len(set(GLOSSARY.values())) == len(GLOSSARY)  # no definition repeated under two names


def test_definitions_match_the_code():
    assert "c2 - c1" in define("prototype") and "<= 0" in define("prototype")
    assert "(no removal)" in define("combined")
    assert "8%" in define("beta") and "smallest linear-probe margin" in define("beta")
    assert "above 1 is vacuous" in define("error bound")
    with pytest.raises(KeyError, match="unknown glossary group"):
        markdown(["scores"])


def test_readme_lists_the_page_urls_of_app_py():
    app = (ROOT / "app.py").read_text()
    pages = re.findall(r'st\.Page\("pages/\w+\.py", title="([^"]+)".*?url_path="([^"]+)"(, default=True)?', app)
    assert len(pages) == len(re.findall(r"st\.Page\(", app)) >= 8  # every page declared is listed
    readme = (ROOT / "README.md").read_text()
    for title, path, default in pages:
        url = "/" if default else f"/{path}"
        assert f"| **{title}** (`{url}`) |" in readme, title
