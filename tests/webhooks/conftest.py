"""Desktop apps set up for webhooks: loopback opened for the test receiver (the
``receiver`` fixture of tests/conftest.py), fast retries and breakers."""

from __future__ import annotations

from typing import Any

import pytest


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

