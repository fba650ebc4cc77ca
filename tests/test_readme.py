"""The README's two commands stay true: CI runs the test command verbatim, and the app command
starts the app with the committed config."""

import re
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    head = text.split("---", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", head, flags=re.S)


def test_readme_starts_with_exactly_two_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    assert "streamlit run app.py" in commands[0]
    assert "python -m pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in ci


def _requirements(name: str) -> list[str]:
    """The requirement lines of ``name`` (comments, blank lines and ``-r`` includes left out)."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-r")]


def _pins(name: str) -> dict[str, str]:
    """``{package: version}`` of the ``package==version`` lines of a requirements file."""
    return dict(line.split("==", 1) for line in _requirements(name) if "==" in line)


def test_requirements_pin_torch_and_every_package():
    for name in ("requirements.txt", "requirements-dev.txt"):
        reqs = _requirements(name)
        assert [r for r in reqs if "==" not in r] == [], name
    names = set(_pins("requirements.txt"))
    assert {"torch", "torchvision", "streamlit", "umap-learn", "plotly", "faiss-cpu"} <= names
    assert {"scikit-learn", "scipy", "numba"} <= names


def test_the_tests_run_on_the_pinned_versions():
    """What the README's install command gives is what the tests ran on (local tags like ``+cpu`` aside)."""
    pins = _pins("requirements.txt") | _pins("requirements-dev.txt")
    installed = {name: version(name).split("+", 1)[0] for name in pins}
    assert {n: v for n, v in installed.items() if v != pins[n]} == {}


def test_streamlit_config_is_local_and_private():
    cfg = (ROOT / ".streamlit" / "config.toml").read_text()
    assert re.search(r'address\s*=\s*"127\.0\.0\.1"', cfg)
    assert re.search(r"gatherUsageStats\s*=\s*false", cfg)
    assert re.search(r"enforceSerializableSessionState\s*=\s*true", cfg)
