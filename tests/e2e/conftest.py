"""Real-browser fixtures: a headless ``streamlit run app.py`` on a free localhost port with its own
runs folder, and Debian's Chromium driven by playwright-python.

Chromium comes from the system (``/usr/bin/chromium``, or ``$HARDPAIRS_CHROMIUM``); Playwright's
own browser download is never used. Tests skip with a clear reason when it is missing.
Screenshots go to ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from core.jobs import records

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    """The system Chromium, or None."""
    for cand in (
        os.environ.get("HARDPAIRS_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if cand and Path(cand).exists():
            return cand
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(runs_root: Path, log_path: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run app.py`` headless; return (process, base URL) once /_stcore/health is ok."""
    port = port or free_port()
    env = {**os.environ, "HARDPAIRS_RUNS": str(runs_root), "PYTHONUNBUFFERED": "1"}
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.read().decode().strip() == "ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"streamlit did not become healthy in 90 s; see {log_path}")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def e2e_root() -> Path:
    """The runs folder of the server under test (and of the jobs it starts).

    Not under pytest's basetemp: other pytest sessions on the machine prune old basetemp
    folders (only the last 3 are kept), which could delete it in the middle of this test.
    """
    base = Path(tempfile.mkdtemp(prefix="hardpairs-e2e-"))
    root = base / "runs"
    root.mkdir()
    yield root
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def app_url(e2e_root):
    """Base URL of a live app; the server (and any job it started) is stopped at the end."""
    if chromium_path() is None:
        pytest.skip(
            "Chromium not found: install Debian's `chromium` package (apt-get install chromium) "
            "or set HARDPAIRS_CHROMIUM to its path"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    proc, url = start_server(e2e_root, ARTIFACTS / "streamlit-server.log")
    yield url
    stop_server(proc)
    from core.jobs import queue as jobs

    for job in records.list_jobs(e2e_root):
        if job.active:
            jobs.cancel(job.job_id, e2e_root)


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found: install Debian's `chromium` package or set HARDPAIRS_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _new_page(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    return context, pg


@pytest.fixture
def page(browser):
    context, pg = _new_page(browser, 1440, 1000)
    yield pg
    context.close()


@pytest.fixture
def small_page(browser):
    """A 1280x800 page: the size of the README's screenshots."""
    context, pg = _new_page(browser, 1280, 800)
    yield pg
    context.close()


#: True once the app reports no script running and no element was added, removed, re-texted or
#: marked stale for ``quiet`` ms (a MutationObserver, installed on first use in each document).
_SETTLED_JS = """quiet => {
  const now = performance.now();
  if (!window.__hpSettle) {
    window.__hpSettle = {last: now};
    new MutationObserver(() => { window.__hpSettle.last = performance.now(); }).observe(document.body, {
      subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["data-stale"],
    });
  }
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.dataset.testScriptState !== "notRunning") {
    window.__hpSettle.last = now;
    return false;
  }
  return now - window.__hpSettle.last >= quiet;
}"""


def wait_for_app(page, timeout_ms: int = 120_000, quiet_ms: int = 300) -> None:
    """Wait until the script run triggered by the last interaction has finished and its last deltas
    rendered: the app reports ``notRunning`` and the page has not changed for ``quiet_ms``."""
    page.wait_for_function(_SETTLED_JS, arg=quiet_ms, timeout=timeout_ms, polling=100)


def goto_nav(page, title: str) -> None:
    """Click a page in the navigation (keeps the session, like a user); wait for its title, then settle."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNav").locator("a", has_text=title).first.click()
    expect(page.locator("h1").first).to_have_text(title, timeout=120_000)
    wait_for_app(page)


def draw_lasso(page, polygon: list[tuple[float, float]]) -> None:
    """Draw a lasso on the first chart's drag layer through ``polygon`` (fractions of its box), release, wait."""
    drag = page.get_by_test_id("stPlotlyChart").first.locator(".nsewdrag").first
    drag.scroll_into_view_if_needed()
    box = drag.bounding_box()
    assert box, "the map's drag layer is not visible"
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + w * polygon[0][0], y0 + h * polygon[0][1])
    page.mouse.down()
    for fx, fy in polygon[1:]:
        page.mouse.move(x0 + w * fx, y0 + h * fy, steps=8)
    page.mouse.up()
    wait_for_app(page)


def page_problems(page) -> list[str]:
    """Texts of exception and error boxes on the page (empty when the page is clean)."""
    found = []
    for sel in ("[data-testid='stException']", "[data-testid='stAlertContentError']"):
        for el in page.locator(sel).all():
            found.append(f"{sel}: {el.inner_text()[:500]}")
    return found


def shot(page, name: str) -> Path:
    """Full-page screenshot into tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
