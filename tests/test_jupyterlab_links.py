"""JupyterLab started at the repository root: a click on an exercise notebook's link to the book opens the book's
section in a new browser tab, styled, with its math rendered (autograder.book_server serves it at /course-book/)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.book_build import REPO, BuiltBook

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "course-test-token-5b8f"
LINK_TEXT = "Gradient clipping: what torch does, exactly"
SECTION = "sec-clip-torch-semantics"


def _free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def lab(built_book: BuiltBook, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`jupyter lab --no-browser` on 127.0.0.1 with a token, its root a copy of the repository's layout (the
    clipping exercise and the built book in _build/); the extension is enabled by the packaged config file only."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (see tests/test_browser.py)")
    if built_book.returncode != 0:
        pytest.fail("the book did not build; see test_book.py")
    root, home = tmp_path_factory.mktemp("lab-root"), tmp_path_factory.mktemp("lab-home")
    shutil.copytree(REPO / "exercises" / "clipping", root / "exercises" / "clipping")
    (root / "_build").symlink_to(built_book.html.parent, target_is_directory=True)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_CONFIG_PATH": str(REPO / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTER_DATA_DIR": str(home / "data"), "IPYTHONDIR": str(home / "ipython")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
               "--ServerApp.allow_root=True", "--LabApp.news_url=", f"--LabApp.workspaces_dir={home / 'ws'}"]
    log = home / "lab.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        deadline = time.monotonic() + 90
        while "is running at" not in log.read_text() and "http://127.0.0.1" not in log.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    assert "course book:" in log.read_text(), "autograder.book_server was not loaded from jupyter-config/"


def test_notebook_link_opens_the_section_rendered_in_a_new_tab(lab: str) -> None:
    """Clicking the link opens a new tab showing the book page with its theme, math and scripts, at the section."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{lab}/lab/tree/exercises/clipping/clipping.ipynb?token={TOKEN}")
        link = page.get_by_role("link", name=LINK_TEXT)
        link.wait_for(timeout=60_000)
        failed: list[str] = []
        with context.expect_page(timeout=30_000) as opened:
            link.click()
        book = opened.value
        book.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        book.wait_for_load_state("load")
        book.evaluate("() => document.fonts.ready.then(() => true)")  # the math fonts (failed ones land in `failed`)
        state = book.evaluate("""(id) => ({
            url: location.href,
            themeCss: [...document.styleSheets].some(s => (s.href || '').includes('pydata-sphinx-theme.css')
                                                          && s.cssRules.length > 100),
            sidebar: document.querySelector('.bd-sidebar-primary').getBoundingClientRect().width,
            math: document.querySelectorAll('mjx-container').length,
            sectionTop: document.getElementById(id).getBoundingClientRect().top,
            scrolled: window.scrollY,
            labTabs: document.querySelectorAll('.jp-HTMLViewer').length,
        })""", SECTION)
        lab_viewers = page.locator(".jp-HTMLViewer").count()
        browser.close()
    assert state["url"] == f"{lab}/course-book/book/clipping.html#{SECTION}"
    assert state["themeCss"] and state["sidebar"] > 150, f"the page is not styled: {state}"
    assert state["math"] > 0, "no typeset formula on the page"
    assert state["scrolled"] > 0 and -5 < state["sectionTop"] < 200, f"not at the section: {state}"
    assert failed == [], f"book assets failed to load: {failed}"
    assert lab_viewers == 0, "JupyterLab also opened the page in its own HTML viewer"
