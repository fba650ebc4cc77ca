"""Static checks run by plain ``python -m pytest``: lint, format, types, import contracts, code size.

The tools are pinned in requirements-dev.txt and configured in pyproject.toml. A missing tool fails
(it does not skip), so CI cannot pass without running the check.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 300
INSTALL_HINT = "pip install -r requirements-dev.txt"


def _tool(name: str) -> str:
    """Path of a console script: next to this interpreter first (a venv), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is not installed. Install the pinned dev tools: {INSTALL_HINT}")
    return found


def _run(args: list[str], fix: str, timeout: float = 600) -> None:
    """Run a tool in the repository root; fail with its output and ``fix`` when it exits non-zero."""
    cmd = [_tool(args[0]), *args[1:]]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` failed (exit {proc.returncode}). {fix}\n\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )


def _py_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    """``path`` relative to the repository root (its name when it lies outside)."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def test_ruff_check():
    _run(["ruff", "check", "."], "Fix the lint below (`ruff check --fix .` fixes the safe ones).")


def test_ruff_format():
    _run(["ruff", "format", "--check", "."], "Run `ruff format .` and commit the result.")


@pytest.mark.slow
def test_mypy_strict_on_core():
    _run(["mypy"], "Add the type annotations mypy asks for ([tool.mypy] in pyproject.toml: strict on core/).")


def test_import_contracts():
    _run(["lint-imports"], "Break the imports listed below ([tool.importlinter] in pyproject.toml says why).")


def test_missing_tool_fails_with_install_advice():
    with pytest.raises(pytest.fail.Exception, match=r"pip install -r requirements-dev\.txt"):
        _tool("hardpairs-no-such-tool")


# --- pages import only ui, core, the standard library and installed packages -------------------------


def _module_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) for every import in ``tree``; relative imports come back as ``.name``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.lineno, "." * node.level + (node.module or "")))
    return out


def _is_installed_package(top: str) -> bool:
    """True when ``top`` is importable and lives outside this repository (a third-party package)."""
    spec = importlib.util.find_spec(top)
    if spec is None:
        return False
    where = [spec.origin] if spec.origin else list(spec.submodule_search_locations or [])
    return all(w and not Path(w).resolve().is_relative_to(ROOT) for w in where)


def page_import_problems(page: Path) -> list[str]:
    """Why each import of a page file is not allowed; [] when it imports only ui/core/stdlib/third-party.

    A page may not import another page, ``app``, or any other module of this repository outside ``ui``
    and ``core`` (``pages/`` is not a package, so such an import would also depend on ``sys.path``).
    """
    own = {p.stem for p in (ROOT / "pages").glob("*.py")} | {p.stem for p in ROOT.glob("*.py")}
    problems = []
    for line, name in _module_names(ast.parse(page.read_text(), str(page))):
        top = name.split(".")[0]
        if name.startswith("."):
            why = "relative import"
        elif top in ("ui", "core") or top in sys.stdlib_module_names:
            continue
        elif top in own or top == "pages":
            why = "imports another page or the app"
        elif _is_installed_package(top):
            continue
        else:
            why = "neither ui, core, the standard library nor an installed package"
        problems.append(f"{_rel(page)}:{line}: import {name} ({why})")
    return problems


def test_pages_import_only_ui_core_stdlib_and_third_party():
    pages = sorted((ROOT / "pages").glob("*.py"))
    assert pages, "no page files found under pages/"
    problems = [p for page in pages for p in page_import_problems(page)]
    assert not problems, (
        "Pages may import only ui.*, core.*, the standard library and third-party packages; move the shared "
        "code into ui/ (or core/):\n" + "\n".join(problems)
    )


def test_page_import_check_flags_pages_app_and_relative_imports(tmp_path):
    assert (ROOT / "pages" / "theory_bounds.py").exists()
    bad = tmp_path / "bad_page.py"
    bad.write_text(
        "import json\nimport numpy\nfrom ui import figures\nfrom theory import x\nimport app\nfrom . import y\n"
        "import core.training.lossmodes\nimport bench\n"
    )
    assert [p.split(": ", 1)[0] for p in page_import_problems(bad)] == [
        "bad_page.py:4",
        "bad_page.py:5",
        "bad_page.py:6",
        "bad_page.py:8",
    ]


# --- size limits in core/ ----------------------------------------------------------------------------


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length) of every function in ``path`` longer than ``limit`` lines.

    Length is ``end_lineno - lineno + 1`` of the ``def`` (decorators excluded), nested functions and
    methods included.
    """
    out = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    n = child.end_lineno - child.lineno + 1
                    if n > limit:
                        out.append((name, child.lineno, n))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), str(path)), "")
    return out


def test_no_function_in_core_over_80_lines():
    offenders = [
        f"{_rel(p)}:{line} {name}: {n} lines" for p in _py_files("core") for name, line, n in long_functions(p)
    ]
    assert not offenders, f"Split these functions to at most {MAX_FUNCTION_LINES} lines:\n" + "\n".join(offenders)


def test_long_function_counter_counts_def_to_last_line(tmp_path):
    fits = "\n".join(f"    x{i} = {i}" for i in range(79))  # def line + 79 = 80 lines: allowed
    long = "\n".join(f"        x{i} = {i}" for i in range(80))  # def line + 80 = 81 lines: too long
    src = tmp_path / "m.py"
    src.write_text(f"@staticmethod\ndef fits():\n{fits}\n\n\nclass C:\n    def long(self):\n{long}\n")
    # fits starts on line 2 (after its decorator), C on line 84, C.long on line 85
    assert long_functions(src) == [("C.long", 85, 81)]
    assert long_functions(src, limit=79) == [("fits", 2, 80), ("C.long", 85, 81)]


def test_no_module_in_core_over_300_lines():
    offenders = [f"{_rel(p)}: {n} lines" for p in _py_files("core") if (n := len(p.read_text().splitlines())) > 300]
    assert not offenders, f"Split these modules to at most {MAX_MODULE_LINES} lines:\n" + "\n".join(offenders)


# --- loss modes are listed in one place ----------------------------------------------------------------


def _names_mode(node: ast.AST, modes: frozenset[str]) -> bool:
    """A string constant naming a mode, or a call whose first argument is one (``LossMode("margin", ...)``)."""
    if isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    return isinstance(node, ast.Constant) and node.value in modes


def mode_collections(path: Path, modes: frozenset[str]) -> list[int]:
    """Lines of the tuple/list/set displays and dict keys in ``path`` that list two or more loss modes.

    A display lists modes when two or more of its items name a mode (see :func:`_names_mode`) and none
    of its string items is something else: ``("margin", "combined")`` does, a dict of config fields
    that happens to hold the ``removal`` knob next to other fields does not, nor do the monitor keys
    ``{"ucl", "hard_ucl", ...}`` (``ucl`` is not a mode).
    """
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = list(node.elts)
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        strings = [i for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
        if sum(_names_mode(i, modes) for i in items) >= 2 and all(i.value in modes for i in strings):
            lines.append(node.lineno)
    return sorted(lines)


def test_loss_modes_are_listed_only_in_lossmodes():
    from core.training.lossmodes import LOSS_MODES

    modes = frozenset(LOSS_MODES)
    found = {_rel(p): lines for p in _py_files("core", "ui", "pages") if (lines := mode_collections(p, modes))}
    assert "core/training/lossmodes.py" in found, "the mode table in core/training/lossmodes.py was not recognised"
    others = {f: lines for f, lines in found.items() if f != "core/training/lossmodes.py"}
    assert not others, (
        "These files list loss modes; derive the list from core.training.lossmodes (MODES, LOSS_MODES, "
        "SELECTING_MODES, get_mode(...).knobs) instead:\n"
        + "\n".join(f"{f}: lines {', '.join(map(str, lines))}" for f, lines in sorted(others.items()))
    )


def test_mode_collection_scan_finds_lists_dicts_and_tables(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        'A = ("margin", "combined")\n'
        'B = {"removal": 1, "scl": 2}\n'
        'C = [LossMode("baseline"), LossMode("hard_scl")]\n'
        'D = ("margin", "sigma")\n'
        'E = mode in ("margin",)\n'
        'F = {"ucl": 1.0, "hard_ucl": 2.0, "scl": 3.0}\n'
        'G = {"margin": "Eq. 14", "combined": "Eq. 16"}\n'
    )
    assert mode_collections(src, frozenset({"margin", "combined", "removal", "scl", "baseline", "hard_scl"})) == [
        1,
        2,
        3,
        7,
    ]
