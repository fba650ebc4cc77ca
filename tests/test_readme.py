"""The README's two commands stay true: CI runs the test command verbatim, and the app command
starts the app with the committed config."""

import re
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


def test_requirements_pin_torch_and_every_package():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    reqs = [line for line in lines if line and not line.startswith("#")]
    assert "torch==2.14.1" in reqs and "torchvision==0.29.1" in reqs
    assert all("==" in r for r in reqs)
    names = {r.split("==")[0] for r in reqs}
    assert {"streamlit", "umap-learn", "plotly", "faiss-cpu", "diskcache", "scikit-learn"} <= names


def test_streamlit_config_is_local_and_private():
    cfg = (ROOT / ".streamlit" / "config.toml").read_text()
    assert re.search(r'address\s*=\s*"127\.0\.0\.1"', cfg)
    assert re.search(r"gatherUsageStats\s*=\s*false", cfg)
    assert re.search(r"enforceSerializableSessionState\s*=\s*true", cfg)
