"""Who is asking: the owner every job belongs to.

- An API key under ``/api`` (``Authorization: Bearer <key>`` or ``X-API-Key: <key>``):
  the owner is ``key:<key id>``. A key that is unknown or revoked is refused (401), never
  ignored, so a script with a stale key learns it at once.
- A browser: an anonymous owner id in a signed, HttpOnly cookie (nothing else identifies
  it); the owner is ``browser:<id>``. Such requests are CSRF-checked (``security``).
- Neither, under ``/api``: ``public`` when API keys are not required (job ids are
  unguessable, so the id itself is what lets a caller read a job); a 401 when they are
  (server mode, by default).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from .. import apikeys
from ..errors import Unauthorized

COOKIE = "pixtools_owner"
PUBLIC_OWNER = "public"
MAX_AGE = 400 * 24 * 3600
# How the current request proved who it is.
BY_KEY, BY_COOKIE, ANONYMOUS = "key", "cookie", "anonymous"
# Answer without credentials (and without touching the database): probes must stay cheap,
# signed download links and static files carry their own authority, and the webhook sandbox
# receiver is addressed by its unguessable id by whoever sends it events.
OPEN_PATHS = ("/api/health", "/files/", "/static/", "/api/v1/hooks/", "/metrics")


def _serializer(app: Flask) -> URLSafeSerializer:
    return URLSafeSerializer(app.config["SECRET_KEY"], salt="pixtools.owner")


def current_owner() -> str:
    owner: str = g.owner
    return owner


def authenticated_by() -> str:
    """``key``, ``cookie`` or ``anonymous``: how the current request identified itself."""
    how: str = g.get("auth", ANONYMOUS)
    return how


def presented_key() -> str | None:
    """The API key the request carries, if any."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def _cookie_owner(app: Flask) -> str | None:
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            return str(_serializer(app).loads(raw))
        except BadSignature:
            pass
    return None


def _load_owner(app: Flask) -> None:
    g.new_owner, g.auth = None, ANONYMOUS
    on_api = request.path.startswith("/api/")
    if request.path.startswith(OPEN_PATHS):
        g.owner = PUBLIC_OWNER
        return
    secret = presented_key() if on_api else None
    if secret is not None:
        key_owner = apikeys.authenticate(secret)
        if key_owner is None:
            raise Unauthorized(
                "The API key was not accepted: it is unknown or has been revoked. "
                "Ask the operator for a valid one."
            )
        g.owner, g.auth = key_owner, BY_KEY
        return
    owner = _cookie_owner(app)
    if owner is not None:
        g.owner, g.auth = "browser:" + owner, BY_COOKIE
        return
    if not on_api:
        owner_id = secrets.token_urlsafe(16)
        g.owner = "browser:" + owner_id
        # Only a page load hands out an identity. A cookieless POST is what a cross-site
        # form looks like (SameSite keeps the cookie home): answering it with a new cookie
        # would replace the visitor's own, cutting them off from their jobs.
        if request.method in ("GET", "HEAD"):
            g.new_owner = owner_id
        return
    if app.extensions["pixtools.settings"].effective_api_keys_required:
        raise Unauthorized(
            "This server requires an API key: send it as 'Authorization: Bearer <key>' "
            "(or in an X-API-Key header). The operator creates keys with "
            "'flask --app wsgi pixtools apikey create'."
        )
    g.owner = PUBLIC_OWNER


def init_app(app: Flask) -> None:
    @app.before_request
    def _identify() -> None:
        _load_owner(app)

    @app.after_request
    def _set_owner_cookie(response: Response) -> Response:
        if getattr(g, "new_owner", None):
            response.set_cookie(
                COOKIE,
                _serializer(app).dumps(g.new_owner),
                max_age=MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure,
            )
        return response
