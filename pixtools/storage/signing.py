"""HMAC-signed, expiring download URLs for the app's own ``/files`` route (desktop mode)."""

from __future__ import annotations

import hashlib
import hmac
import time


def expiry(expires_in: int) -> int:
    return int(time.time()) + expires_in


def sign(secret_key: str, key: str, expires: int, filename: str) -> str:
    message = f"{key}\n{expires}\n{filename}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def verify(secret_key: str, key: str, expires: int, filename: str, signature: str) -> str | None:
    """Return ``None`` when valid, else the reason the URL is refused."""
    if not hmac.compare_digest(sign(secret_key, key, expires, filename), signature):
        return "This download link is invalid: ask for a fresh one from the job page."
    if expires < time.time():
        return "This download link has expired: reload the job to get a fresh one."
    return None
