"""Deciding where a job's event may go: at submit time (422) and again at send time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app

from ..db import db
from ..errors import InvalidWebhookURL
from ..models import DisabledWebhookURL
from . import sandbox, signing, ssrf

FIELD = "webhook_url"


@dataclass(frozen=True)
class WebhookRequest:
    """A checked webhook for a new job. ``reveal_secret``: show it once in the 202 answer."""

    url: str
    secret: str
    base_url: str
    reveal_secret: bool
    sandbox_id: str | None = None

    def public_json(self, secret: str | None = None) -> dict[str, Any]:
        """The answer's ``webhook`` part; ``secret`` is the one the job really keeps."""
        body: dict[str, Any] = {"url": self.url}
        if self.reveal_secret:
            body["secret"] = secret or self.secret
        if self.sandbox_id:
            body["sandbox"] = self.sandbox_id
        return body


def check_target(url: str, owner: str) -> ssrf.Target:
    """Where to connect for ``url``, or ``ssrf.UnsafeURL`` saying why not."""
    settings = current_app.extensions["pixtools.settings"]
    allow = ssrf.parse_networks(settings.webhook_allow_private)
    own = sandbox.own_sandbox(url, owner) is not None
    return ssrf.check(url, allow=allow, trust_any_address=own)


def disabled_reason(url: str) -> str | None:
    row = db.session.get(DisabledWebhookURL, url)
    if row is None:
        return None
    return f"this URL was disabled on {row.disabled_at:%Y-%m-%d %H:%M} UTC: {row.reason}"


def from_values(raw: Sequence[str], *, owner: str, base_url: str) -> WebhookRequest | None:
    """Check the optional ``webhook_url`` field(s) of a job submission; None when empty."""
    values = [value.strip() for value in raw if value.strip()]
    if not values:
        return None
    if len(set(values)) > 1:
        raise InvalidWebhookURL("Give one webhook URL per job.", field=FIELD)
    url = values[0]
    reason = disabled_reason(url)
    if reason:
        raise InvalidWebhookURL(f"Webhook URL refused: {reason}.", field=FIELD)
    try:
        check_target(url, owner)
    except ssrf.UnsafeURL as exc:
        raise InvalidWebhookURL(f"Webhook URL refused: {exc}", field=FIELD) from None
    settings = current_app.extensions["pixtools.settings"]
    base = settings.public_url or base_url.rstrip("/")
    own = sandbox.own_sandbox(url, owner)
    if own is not None:
        # The sandbox checks signatures with its own secret, which its owner already has.
        return WebhookRequest(url, own.secret, base, reveal_secret=False, sandbox_id=own.id)
    if settings.webhook_secret:
        return WebhookRequest(url, settings.webhook_secret, base, reveal_secret=False)
    return WebhookRequest(url, signing.new_secret(), base, reveal_secret=True)
