"""Standard Webhooks signatures (https://www.standardwebhooks.com), via ``standardwebhooks``.

A secret is ``whsec_`` + base64 of 32 random bytes. Each request carries ``webhook-id``
(the same on every retry of one event), ``webhook-timestamp`` (Unix seconds of this attempt)
and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook

from ..config import WEBHOOK_SECRET_PREFIX as PREFIX
from ..config import check_webhook_secret as check_secret  # noqa: F401  (the rule lives in config)

TOLERANCE_SECONDS = 5 * 60

VALID, INVALID, STALE = "valid", "invalid", "stale timestamp"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def headers(
    secret: str, message_id: str, body: str, timestamp: int | None = None
) -> dict[str, str]:
    """The three signature headers for one attempt at sending ``body``."""
    when = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(when, UTC), body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(when),
        "webhook-signature": signature,
    }


def verify(secret: str, body: bytes, received: Mapping[str, str],
           now: float | None = None) -> tuple[str, str]:
    """Check a received request: (``valid`` | ``invalid`` | ``stale timestamp``, detail)."""
    lower = {key.lower(): value for key, value in received.items()}
    message_id = lower.get("webhook-id")
    stamp = lower.get("webhook-timestamp", "")
    signatures = lower.get("webhook-signature", "")
    if not (message_id and stamp and signatures):
        return INVALID, "webhook-id, webhook-timestamp or webhook-signature is missing"
    try:
        when = int(stamp)
        text = body.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return INVALID, "the timestamp is not an integer or the body is not UTF-8"
    expected = headers(secret, message_id, text, when)["webhook-signature"]
    offered = [part for part in signatures.split(" ") if part.startswith("v1,")]
    if not any(hmac.compare_digest(expected, part) for part in offered):
        return INVALID, "no v1 signature matches the body with this sandbox's secret"
    age = (time.time() if now is None else now) - when
    if abs(age) > TOLERANCE_SECONDS:
        when_text = f"{age:.0f} s old" if age > 0 else f"{-age:.0f} s in the future"
        return STALE, f"the signature matches but the timestamp is {when_text}"
    return VALID, "signature matches and the timestamp is fresh"
