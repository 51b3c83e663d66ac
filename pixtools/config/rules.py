"""The rules settings are checked by, kept apart from the ``Settings`` class itself: the
parsers and checks other modules use too (the webhook allowlist, a webhook secret), and
what makes a secret key acceptable in server mode."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from pathlib import Path

# The readiness checks of /api/health/ready, in the order they are reported.
READY_CHECKS = ("database", "redis", "storage", "queues", "weights", "webhooks")
WEBHOOK_SECRET_PREFIX = "whsec_"
# What an http(s) address setting must be, by field.
ADDRESS_HINTS = {
    "public_url": "must be the http:// or https:// address of this instance",
    "s3_public_url": "must be the http:// or https:// address browsers reach S3 at, "
                     "such as http://192.168.1.20:9000",
}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names it and says what to do."""


def parse_networks(value: str) -> tuple[Network, ...]:
    """Parse a list of networks: comma-separated CIDR blocks (``10.0.0.0/8, fd00::/8``)."""
    networks = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not a CIDR block like 10.0.0.0/8 ({exc})") from None
    return tuple(networks)


def check_webhook_secret(secret: str) -> None:
    """Raise ``ValueError`` unless ``secret`` is a usable Standard Webhooks ``whsec_``
    secret (base64 of at least 24 random bytes)."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError("must start with whsec_ (a Standard Webhooks secret)")
    try:
        key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("the part after whsec_ must be base64") from None
    if len(key) < 24:
        raise ValueError("must hold at least 24 random bytes (32 recommended)")


# Secret keys published in PixTools' own examples or commonly pasted from tutorials: a
# server signing cookies and links with one of these signs them for anyone.
KNOWN_SECRET_KEYS = frozenset({
    "compose-trial-secret-change-me", "replace_me", "change-me", "changeme",
    "change-me-to-a-long-random-string", "secret", "dev",
    "development", "pixtools", "pixtools-trial-secret", "not-a-secret", "test-secret",
    "server-test-secret", "please-change-me", "your-secret-key",
})
MIN_SECRET_KEY_BYTES = 32


def check_secret_key(value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is fit to sign a server's cookies and links:
    at least 32 bytes, and not a value published anywhere."""
    if value.strip().lower() in KNOWN_SECRET_KEYS:
        raise ValueError("is a published example value: generate your own, e.g. "
                         "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if len(value.encode()) < MIN_SECRET_KEY_BYTES:
        raise ValueError(f"must be at least {MIN_SECRET_KEY_BYTES} bytes long (random); "
                         "generate one with python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))'")


# Desktop mode answers only to its loopback names: a page on another site cannot reach it
# through a name it controls (DNS rebinding), nor a forged Host make it link elsewhere.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "pixtools"
