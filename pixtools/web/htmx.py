"""What kind of answer an htmx request wants."""

from __future__ import annotations

from flask import request


def is_partial() -> bool:
    """An htmx request that wants a fragment (boosted links and history want a page)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )
