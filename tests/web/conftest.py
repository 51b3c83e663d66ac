"""Fixtures for the page: Debian's Chromium driven by Playwright, and desktop-mode servers.

The browser is the system's ``/usr/bin/chromium`` (never a downloaded build). Each server is
a real ``pixtools desktop`` subprocess, so its consumers really process the jobs. A test can
hold the only standard worker with a *blocker* (a job whose source is a named pipe the test
writes when it chooses), which makes "queued" and "running" observable without sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import free_port, wait_for
from tests.support.pages import (
    CSP_WATCH,
    DESKTOP,
    Server,
)
from tests.support.processes import Process


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (its own cookies: its own owner)."""
    contexts = []

    def open_page(viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or DESKTOP, accept_downloads=True)
        context.set_default_timeout(30_000)
        context.add_init_script(CSP_WATCH)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def desktop(spawn: Callable[..., Process], tmp_path: Path) -> Callable[..., Server]:
    """Start ``pixtools desktop`` on a free port; one standard worker so a blocker holds it."""

    def start(data_dir: Path | None = None, env: dict[str, str] | None = None) -> Server:
        port = free_port()
        data = data_dir or tmp_path / "data"
        process = spawn(
            "desktop", "--no-browser", "--port", str(port), "--data-dir", str(data),
            env={"PIXTOOLS_STANDARD_WORKERS": "1", **(env or {})},
        )
        wait_for(lambda: "running at" in process.output() or process.proc.poll() is not None,
                 timeout=60)
        assert process.proc.poll() is None, process.output()
        return Server(base=f"http://127.0.0.1:{port}", data_dir=data, process=process)

    return start


@pytest.fixture
def client(app: Any) -> Any:
    """The page's tests act as a browser: owner cookie and CSRF token on every request."""
    from tests.support.browser import browser_client

    return browser_client(app)

