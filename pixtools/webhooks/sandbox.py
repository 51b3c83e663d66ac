"""The webhook sandbox: a receiver on this instance that records what it is sent.

A sandbox has an unguessable id, a ``whsec_`` secret and a URL on this instance. Every
request to that URL is stored with its headers, body and the result of checking its
signature. Sandboxes belong to their creator and expire like jobs.
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, select

from ..db import db
from ..errors import Gone, NotFound, PayloadTooLarge
from ..models import SandboxRequest, WebhookSandbox, utcnow
from . import signing

RECEIVE_PATH = "/api/v1/hooks/sandbox/"
MAX_BODY_BYTES = 256 * 1024
KEEP_REQUESTS = 50
# Hop-by-hop and proxy headers say nothing about the webhook itself.
_SKIP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "x-forwarded-for",
                 "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "cookie"}


def create(owner: str, base_url: str) -> WebhookSandbox:
    """A new sandbox for ``owner``; ``base_url`` is how this instance is reached."""
    settings = current_app.extensions["pixtools.settings"]
    sandbox_id = secrets.token_urlsafe(16)
    now = utcnow()
    sandbox = WebhookSandbox(
        id=sandbox_id,
        owner=owner,
        secret=signing.new_secret(),
        url=f"{(settings.public_url or base_url).rstrip('/')}{RECEIVE_PATH}{sandbox_id}",
        created_at=now,
        expires_at=now + timedelta(seconds=settings.job_ttl_seconds),
    )
    db.session.add(sandbox)
    db.session.commit()
    return sandbox


def _live(sandbox_id: str) -> WebhookSandbox | None:
    sandbox = db.session.get(WebhookSandbox, sandbox_id)
    if sandbox is None or sandbox.expires_at <= utcnow():
        return None
    return sandbox


def get_for_owner(sandbox_id: str, owner: str) -> WebhookSandbox:
    """The sandbox if ``owner`` made it and it has not expired; else 404 (reveals nothing)."""
    sandbox = _live(sandbox_id)
    if sandbox is None or sandbox.owner != owner:
        raise NotFound(f"No sandbox {sandbox_id!r}: check the id, or it may have expired.")
    return sandbox


def list_for_owner(owner: str) -> list[WebhookSandbox]:
    return list(db.session.execute(
        select(WebhookSandbox)
        .where(WebhookSandbox.owner == owner, WebhookSandbox.expires_at > utcnow())
        .order_by(WebhookSandbox.created_at.desc())
    ).scalars())


def latest_for(owner: str) -> WebhookSandbox | None:
    sandboxes = list_for_owner(owner)
    return sandboxes[0] if sandboxes else None


def delete_expired() -> int:
    result = db.session.execute(delete(WebhookSandbox).where(WebhookSandbox.expires_at <= utcnow()))
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def receive(sandbox_id: str, method: str, headers: dict[str, str], body: bytes) -> SandboxRequest:
    """Record one request sent to a sandbox, with its signature check."""
    sandbox = db.session.get(WebhookSandbox, sandbox_id)
    if sandbox is None:
        raise NotFound("No such sandbox.")
    if sandbox.expires_at <= utcnow():
        # 410 tells a webhook sender to stop sending here, which is exactly right.
        raise Gone("This sandbox has expired.")
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"A sandbox keeps bodies up to {MAX_BODY_BYTES // 1024} KB.")
    verification, detail = signing.verify(sandbox.secret, body, headers)
    entry = SandboxRequest(
        sandbox_id=sandbox.id,
        received_at=utcnow(),
        method=method,
        headers={k: v for k, v in headers.items() if k.lower() not in _SKIP_HEADERS},
        body=body.decode("utf-8", "replace"),
        verification=verification,
        detail=detail,
    )
    db.session.add(entry)
    db.session.flush()
    keep = select(SandboxRequest.id).where(SandboxRequest.sandbox_id == sandbox.id).order_by(
        SandboxRequest.id.desc()).limit(KEEP_REQUESTS)
    db.session.execute(delete(SandboxRequest).where(
        SandboxRequest.sandbox_id == sandbox.id, SandboxRequest.id.not_in(keep)))
    db.session.commit()
    return entry


def _trusted_origin(url: str) -> bool:
    """Whether ``url`` points at this instance itself (so private addresses are fine)."""
    settings = current_app.extensions["pixtools.settings"]
    if settings.public_url:
        return url.startswith(settings.public_url + RECEIVE_PATH)
    if settings.mode != "desktop":
        return False
    # Desktop mode serves on this machine: its own sandbox is on a loopback address.
    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def own_sandbox(url: str, owner: str) -> WebhookSandbox | None:
    """The owner's live sandbox that ``url`` names exactly, if it is on this instance."""
    path = urlsplit(url).path
    if RECEIVE_PATH not in path:
        return None
    sandbox = _live(path.rsplit("/", 1)[-1])
    if sandbox is None or sandbox.owner != owner or sandbox.url != url:
        return None
    return sandbox if _trusted_origin(url) else None


def request_json(entry: SandboxRequest) -> dict[str, Any]:
    return {
        "received_at": entry.received_at.isoformat(),
        "method": entry.method,
        "headers": entry.headers,
        "body": entry.body,
        "verification": entry.verification,
        "detail": entry.detail,
    }
