"""Who is asking: the owner every job belongs to.

- An API key under ``/api`` (``Authorization: Bearer <key>`` or ``X-API-Key: <key>``):
  the owner is ``key:<key id>``. A key that is unknown or revoked is refused (401), never
  ignored, so a script with a stale key learns it at once.
- A browser, as ``PIXTOOLS_WEB_ACCESS`` says (``access``): in ``login`` mode the owner of
  the API key its session was opened with; in ``proxy`` mode ``user:<name>`` from the
  authenticating proxy's header; in ``open`` mode an anonymous owner id in a signed,
  HttpOnly cookie, ``browser:<id>``. Such requests are CSRF-checked (``security``).
  Without a session (login) or a user (proxy), a page asks for the login and the API
  refuses with 401.
- Under ``/api``, an anonymous browser cookie counts only where API keys are not required:
  with keys required, a cookie-only call is refused with 401, like a call with nothing.
- Nothing, under ``/api``: ``public`` when API keys are not required (job ids are
  unguessable, so the id itself is what lets a caller read a job); a 401 when they are
  (server mode, by default).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from .. import apikeys
from ..errors import Unauthorized
from . import access

COOKIE = "pixtools_owner"
PUBLIC_OWNER = "public"
MAX_AGE = 400 * 24 * 3600
# How the current request proved who it is.
BY_KEY, BY_COOKIE, ANONYMOUS = "key", "cookie", "anonymous"
# A browser signed in with an API key (login mode), or named by the proxy (proxy mode):
# both ride on cookies the browser sends by itself, so both are CSRF-checked.
BY_LOGIN, BY_PROXY = "login", "proxy"
BROWSER_AUTH = frozenset({BY_COOKIE, BY_LOGIN, BY_PROXY})
NEEDS_LOGIN = "pixtools.needs_login"
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


def _key_owner() -> bool:
    secret = presented_key()
    if secret is None:
        return False
    key_owner = apikeys.authenticate(secret)
    if key_owner is None:
        raise Unauthorized(
            "The API key was not accepted: it is unknown or has been revoked. "
            "Ask the operator for a valid one."
        )
    g.owner, g.auth = key_owner, BY_KEY
    return True


def _signed_in_owner(app: Flask, on_api: bool) -> bool:
    """Login or proxy mode: who the browser is; a page without one asks for the login."""
    if request.path.startswith(access.LOGIN_PATHS):
        g.owner = PUBLIC_OWNER  # the login page itself
        return True
    how = access.mode(app)
    owner = access.session_owner(app) if how == "login" else None
    user = access.proxy_user(app) if how == "proxy" else None
    if owner is not None:
        g.owner, g.auth = owner, BY_LOGIN
    elif user is not None:
        g.owner, g.auth = "user:" + user, BY_PROXY
    elif not on_api:
        g.owner = PUBLIC_OWNER
        g.setdefault(NEEDS_LOGIN, True)  # the page redirects to /login (``security``)
    else:
        return False
    return True


def _load_owner(app: Flask) -> None:
    g.new_owner, g.auth = None, ANONYMOUS
    on_api = request.path.startswith("/api/")
    if request.path.startswith(OPEN_PATHS):
        g.owner = PUBLIC_OWNER
        return
    if on_api and _key_owner():
        return
    if access.mode(app) != "open":
        if _signed_in_owner(app, on_api):
            return
    else:
        owner = _cookie_owner(app)
        keys_required = app.extensions["pixtools.settings"].effective_api_keys_required
        # An anonymous browser's cookie is no credential where the API requires keys.
        if owner is not None and not (on_api and keys_required):
            g.owner, g.auth = "browser:" + owner, BY_COOKIE
            return
    if not on_api and access.mode(app) == "open":
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
