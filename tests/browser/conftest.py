"""Browser tests of the operator console: Debian's Chromium driven by pytest-playwright's sync
API against the real engine (its own process, paper exchange, a free loopback port, a temporary
data directory).

The tests are plain synchronous functions: the project runs pytest-trio in trio mode, which
only wraps async tests, and the engine lives in a subprocess, so Playwright's own event loop
and the engine's trio loop never meet. Waits are generous (30 s) and every wait polls a
condition: the suite must pass on a busy 2-core machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.engine_process import ADMIN, ADMIN_PASSWORD, EngineProcess

WAIT_MS = 30_000
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    # Debian's Chromium; never `playwright install` (it downloads a browser)
    return {"executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800},
            "accept_downloads": True}


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """One engine for the session's flows (each test uses its own symbols / timeframes)."""
    proc = EngineProcess(tmp_path_factory.mktemp("browser-engine"),
                         {"execution_pool.max_open_groups": 50}).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def page(page: Page) -> Page:
    page.set_default_timeout(WAIT_MS)
    return page


def login(page: Page, engine: EngineProcess, username: str = ADMIN,
          password: str = ADMIN_PASSWORD, path: str = "/") -> Page:
    page.goto(engine.url + path)
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
    return page


def live(page: Page) -> None:
    """Wait until the live push delivered its first snapshot (the dashboard has data)."""
    page.wait_for_function("() => !document.querySelector('[data-test=live-paused]')")


def mark_document(page: Page) -> None:
    """Tag the loaded document: ``assert_not_reloaded`` proves no navigation replaced it."""
    page.evaluate("() => { window.__noReload = true; }")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("() => window.__noReload === true"), "the page was reloaded"
