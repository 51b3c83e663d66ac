"""Desktop apps set up for webhooks: loopback opened for the test receiver (the
``receiver`` fixture of tests/conftest.py), fast retries and breakers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.support.environment import free_port


@pytest.fixture
def hook_config(desktop_config: dict[str, Any]) -> dict[str, Any]:
    """Desktop settings with loopback opened for the test receiver and fast retries."""
    desktop_config.update(
        webhook_allow_private="127.0.0.1/32",
        webhook_backoff_base_seconds=0.2,
        webhook_backoff_jitter=0,
        webhook_connect_timeout_seconds=1,
        webhook_read_timeout_seconds=1,
        webhook_breaker_threshold=3,
        webhook_breaker_reset_seconds=1,
    )
    return desktop_config


@pytest.fixture
def hook_app(hook_config: dict[str, Any], request: pytest.FixtureRequest) -> Any:
    """The desktop ``app`` fixture, built after ``hook_config`` changed its settings."""
    return request.getfixturevalue("app")


@pytest.fixture
def hook_client(hook_app: Any) -> Any:
    return hook_app.test_client()



@pytest.fixture
def hook_server(server_env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[str]:
    """Server mode tuned for quick retries, the app served over HTTP at its public URL."""
    port = free_port()
    server_env.update({
        "PIXTOOLS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PIXTOOLS_WEBHOOK_BACKOFF_BASE_SECONDS": "0.5",
        "PIXTOOLS_WEBHOOK_BACKOFF_JITTER": "0",
        "PIXTOOLS_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
        "PIXTOOLS_WEBHOOK_READ_TIMEOUT_SECONDS": "2",
        "PIXTOOLS_WEBHOOK_BREAKER_THRESHOLD": "3",
        # Long enough for a consumer to pick up a job while the breaker is still open.
        "PIXTOOLS_WEBHOOK_BREAKER_RESET_SECONDS": "10",
    })
    app = request.getfixturevalue("server_app")
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture
def open_loopback(server_env: dict[str, str]) -> None:
    server_env["PIXTOOLS_WEBHOOK_ALLOW_PRIVATE"] = "127.0.0.1/32"
