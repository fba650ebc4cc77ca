"""Docs that cannot drift: every code reference in README.md and docs/*.md names something that exists.

A reference is an inline code span (fenced blocks are commands, not references) that starts with one
of our roots and looks like code: a path ``core/x/y.py``, ``core/x/y.py:name``, ``core/x/y.py::name``
(``name`` may be ``Class.attr``; a trailing ``(...)`` signature or command-line arguments are ignored), or a dotted
``core.x.y.name`` / ``ui.x.name``. The file must exist; a name must be defined in that module (a
module-level def, class or assignment, also under a module-level ``if``/``try``) and ``Class.attr``
must be defined in the class body. A name a module only imports is not defined there: cite the
module that defines it.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]

_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_PATH_REF = re.compile(rf"^((?:core|ui|pages|tests|bench)/[\w/.-]*\.py|app\.py)(?:(::?)({_NAME}))?(?:\(.*|\s.*)?$")
_DOTTED_REF = re.compile(rf"^((?:core|ui)\.{_NAME})(?:\(.*)?(?:\s*->.*)?$")
_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)


def references(text: str) -> list[str]:
    """The code references of a markdown text, in order (fenced code blocks left out)."""
    spans = _SPAN.findall(_FENCE.sub("", text))
    return [s.strip() for s in spans if _PATH_REF.match(s.strip()) or _DOTTED_REF.match(s.strip())]


def _defined(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    """Names bound by the statements of a module or class body (descending into if/try/with)."""
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names[leaf.id] = node
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for part in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                names.update(_defined(part))
            for handler in getattr(node, "handlers", []):
                names.update(_defined(handler.body))
    return names


@functools.cache
def _module_names(path: Path) -> dict[str, ast.stmt]:
    return _defined(ast.parse(path.read_text(), filename=str(path)).body)


def _name_problem(path: Path, name: str, root: Path) -> str | None:
    """None when ``name`` (``n`` or ``Class.attr``) is defined in the module at ``path``; else why not."""
    shown = path.relative_to(root).as_posix()
    head, *rest = name.split(".")
    node = _module_names(path).get(head)
    if node is None:
        return f"{head!r} is not defined in {shown}"
    for attr in rest:
        if not isinstance(node, ast.ClassDef):
            return f"{head!r} in {shown} is not a class, so it has no {attr!r}"
        found = _defined(node.body).get(attr)
        if found is None:
            return f"class {node.name} in {shown} defines no {attr!r}"
        node = found
    return None


def _module_file(root: Path, dotted: list[str]) -> Path | None:
    base = root.joinpath(*dotted)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def check_reference(ref: str, root: Path = ROOT) -> str | None:
    """None when ``ref`` names something that exists under ``root``; else the problem, in words."""
    if m := _PATH_REF.match(ref):
        path = root / m[1]
        if not path.is_file():
            return f"no file {m[1]}"
        return _name_problem(path, m[3], root) if m[3] else None
    parts = _DOTTED_REF.match(ref)[1].split(".")
    for cut in range(len(parts), 0, -1):  # the longest prefix that is a module or package
        module = _module_file(root, parts[:cut])
        if module is not None:
            return _name_problem(module, ".".join(parts[cut:]), root) if cut < len(parts) else None
    return f"no module {parts[0]}"


def stale_references(docs: list[str], root: Path = ROOT) -> list[str]:
    """``doc: `ref`: problem`` for every reference in ``docs`` (paths relative to ``root``) that does not resolve."""
    out = []
    for doc in docs:
        for ref in references((root / doc).read_text()):
            if (problem := check_reference(ref, root)) is not None:
                out.append(f"{doc}: `{ref}`: {problem}")
    return out


def test_every_code_reference_in_the_docs_exists():
    stale = stale_references(DOCS)
    assert stale == [], "\n".join(stale)


def test_the_readme_datasets_table_lists_every_dataset_spec():
    from core.data.sources import list_sources

    text = (ROOT / "README.md").read_text()
    table = text[text.index("### Datasets") :].split("\n\n", 2)[1]
    cited = {spec for row in table.splitlines()[2:] for spec in re.findall(r"`([^`]+)`", row.split(" | ")[0])}
    assert cited == {line.split(" -- ", 1)[0] for line in list_sources()}


def test_the_docs_cite_code_at_all():
    """Guards the checker itself: the docs cite many modules and names, and it sees them."""
    refs = [ref for doc in DOCS for ref in references((ROOT / doc).read_text())]
    assert len(refs) > 100
    assert any("::" in r for r in refs) and any(re.match(r"core/\S+\.py:\w", r) for r in refs)
    assert any(r.startswith("core.") for r in refs)


def test_the_checker_fails_on_a_renamed_name(tmp_path):
    pkg = tmp_path / "core" / "things"
    pkg.mkdir(parents=True)
    (tmp_path / "core" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(
        "from os import path\n"
        "LIMIT = 3\n"
        "def present(x):\n    return x\n"
        "class Box:\n    size: int = 1\n    def open(self):\n        pass\n"
        "try:\n    import fast\nexcept ImportError:\n    fallback = None\n"
    )
    doc = tmp_path / "README.md"
    doc.write_text(
        "Cites `core/things/mod.py`, `core/things/mod.py:present`, `core/things/mod.py::Box.size`,\n"
        "`core.things.mod.LIMIT`, `core.things.mod.Box.open(self)`, `core.things`, `core.things.mod.fallback`,\n"
        "and, renamed or gone: `core/things/mod.py:presnt`, `core.things.mod.Box.close`, `core/things/old.py`,\n"
        "`core.things.mod.path` (only imported there), `core.things.mod.LIMIT.real`, `core.other.name`.\n"
        "Not references: `python -m core train`, `presets.py:_PAPER`, `core/`, ``core.x``, and a block:\n"
        "```\ncore/things/gone.py:nothing\n```\n"
    )
    assert references(doc.read_text())[:3] == [
        "core/things/mod.py",
        "core/things/mod.py:present",
        "core/things/mod.py::Box.size",
    ]
    assert stale_references(["README.md"], tmp_path) == [
        "README.md: `core/things/mod.py:presnt`: 'presnt' is not defined in core/things/mod.py",
        "README.md: `core.things.mod.Box.close`: class Box in core/things/mod.py defines no 'close'",
        "README.md: `core/things/old.py`: no file core/things/old.py",
        "README.md: `core.things.mod.path`: 'path' is not defined in core/things/mod.py",
        "README.md: `core.things.mod.LIMIT.real`: 'LIMIT' in core/things/mod.py is not a class, so it has no 'real'",
        "README.md: `core.other.name`: 'other' is not defined in core/__init__.py",
    ]


def _module_rooms(doc: str) -> dict[str, set[str]]:
    """``{room folder: module file names}`` listed under "Every module, by room" in docs/architecture.md."""
    rooms: dict[str, set[str]] = {}
    room = None
    for line in doc.split("### Every module, by room", 1)[1].splitlines():
        if line.startswith("#### "):
            name = line[5:].strip().strip("`").rstrip("/")
            room = "core" if name.startswith("core (") else name
            rooms.setdefault(room, set())
        elif room and line.startswith("| `") and line.count("`") >= 2:
            rooms[room].add(line.split("`")[1])
    return rooms


def test_architecture_lists_every_module_in_its_room():
    listed = _module_rooms((ROOT / "docs" / "architecture.md").read_text())
    present: dict[str, set[str]] = {}
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/**/*.py"), *ROOT.glob("pages/*.py")]:
        if path.name != "__init__.py" and "__pycache__" not in path.parts:
            present.setdefault(str(path.parent.relative_to(ROOT)), set()).add(path.name)
    assert listed == present
