"""A browser as the tests see it: a test client holding the owner cookie and the page's
CSRF token (read from the page's ``<meta name="csrf-token">``, as the page's script does)."""

from __future__ import annotations

import re
from typing import Any


def csrf_token(client: Any) -> str:
    """Load the page (receiving the owner cookie) and return its CSRF token."""
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, "the page has no csrf-token meta tag"
    return match.group(1)


def browser_client(app: Any) -> Any:
    """A browser as one client: every request carries its owner cookie and CSRF token."""
    client = app.test_client()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token(client)
    return client


def browser(app: Any) -> tuple[Any, dict[str, str]]:
    """A fresh browser: its client and the headers its page script sends on changes."""
    client = app.test_client()
    return client, {"X-CSRF-Token": csrf_token(client)}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def owners(app: Any) -> dict[str, tuple[Any, dict[str, str]]]:
    """One client per kind of owner, each with the headers it sends on every request."""
    from pixtools import apikeys

    first, second = apikeys.create("first").secret, apikeys.create("second").secret
    (alice, alice_headers), (bob, bob_headers) = browser(app), browser(app)
    return {
        "key 1": (app.test_client(), bearer(first)),
        "key 2": (app.test_client(), {"X-API-Key": second}),
        "browser 1": (alice, alice_headers),
        "browser 2": (bob, bob_headers),
        "anonymous": (app.test_client(), {}),
    }
