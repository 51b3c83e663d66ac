"""Where the tests run: paths, the services' addresses, and waiting for things.

Each test session gets its own PostgreSQL database and its own Redis queue prefix (see the
fixtures in ``tests/conftest.py``). Under CI (``CI=true``) a missing service fails the tests
instead of skipping them.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

SHARED = Path(os.environ.get("PIXTOOLS_SHARED_DIR", REPO.parent / "shared"))

PG_ADMIN_URL = os.environ.get("PIXTOOLS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

REDIS_URL = os.environ.get("PIXTOOLS_TEST_REDIS", "redis://127.0.0.1:6379/0")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(what: str) -> None:
    """Fail under CI, skip on a developer machine without the service."""
    message = f"{what} is not reachable; start it (see .ci/run) to run this test"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def settings_from_env(env: dict[str, str]) -> dict[str, Any]:
    return {key.removeprefix("PIXTOOLS_").lower(): value for key, value in env.items()
            if key.startswith("PIXTOOLS_")}

