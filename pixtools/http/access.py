"""Web access: which browsers may use the page, and which ``Host`` names are answered.

``PIXTOOLS_WEB_ACCESS`` decides who a browser is:

- ``login`` (server mode's default): the page asks for an API key once; the session is a
  signed, HttpOnly cookie holding the key's digest (never the key), so the browser acts
  as that key's owner, and revoking the key ends the session at once;
- ``proxy``: an authenticating reverse proxy names the user in a header
  (``PIXTOOLS_PROXY_USER_HEADER``), believed only from ``PIXTOOLS_PROXY_NETWORKS``;
- ``open`` (desktop mode's default): anonymous visitors, each with an owner cookie.

Hosts: a request whose ``Host`` is not one this instance answers to is refused first of
all (desktop mode answers to its loopback names only; ``pixtools desktop`` narrows that to
its own address and port once it listens).
"""

from __future__ import annotations

import ipaddress

from flask import Flask, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from .. import apikeys
from ..config import parse_networks
from ..errors import BadRequest

LOGIN_COOKIE = "pixtools_login"
HOSTS = "pixtools.trusted_hosts"
# Paths a visitor reaches without a session in login or proxy mode (the login page itself).
LOGIN_PATHS = ("/login", "/logout")


def _serializer(app: Flask) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="pixtools.login")


def mode(app: Flask | None = None) -> str:
    access: str = (app or current_app).extensions["pixtools.settings"].effective_web_access
    return access


def session_owner(app: Flask) -> str | None:
    """The owner of the login session this request carries, if it is valid and its key
    is still live."""
    raw = request.cookies.get(LOGIN_COOKIE)
    if not raw:
        return None
    settings = app.extensions["pixtools.settings"]
    try:
        key_hash = str(_serializer(app).loads(
            raw, max_age=int(settings.session_max_age_hours * 3600)))
    except BadSignature:  # includes an expired session
        return None
    return apikeys.owner_of_hash(key_hash)


def start_session(response: Response, secret: str) -> None:
    """Keep the browser signed in as the owner of API key ``secret`` (checked already)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions["pixtools.settings"]
    response.set_cookie(
        LOGIN_COOKIE, _serializer(app).dumps(apikeys.digest(secret)),
        max_age=int(settings.session_max_age_hours * 3600), httponly=True, samesite="Lax",
        secure=request.is_secure or settings.public_url.startswith("https://"),
    )


def end_session(response: Response) -> None:
    response.delete_cookie(LOGIN_COOKIE)


def _direct_peer() -> str:
    """The address that connected to us: the proxy itself, not the client it names."""
    original = request.environ.get("werkzeug.proxy_fix.orig", {})
    peer: str = original.get("REMOTE_ADDR") or request.remote_addr or ""
    return peer


def proxy_user(app: Flask) -> str | None:
    """The user the authenticating proxy names, only when the request came from it."""
    settings = app.extensions["pixtools.settings"]
    name = request.headers.get(settings.proxy_user_header, "").strip()
    if not name or len(name) > 200 or not name.isprintable():
        return None
    try:
        peer = ipaddress.ip_address(_direct_peer())
    except ValueError:
        return None
    if not any(peer in network for network in parse_networks(settings.proxy_networks)):
        return None  # anyone else could send the header
    return name


def allow_hosts(app: Flask, hosts: tuple[str, ...]) -> None:
    """Answer only to these ``Host`` values (``pixtools desktop`` calls it once it listens)."""
    app.extensions[HOSTS] = tuple(h.lower() for h in hosts)


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``host`` (``name`` or ``name:port``) is allowed: an entry with a port must
    match exactly, one without matches the name on any port; () allows every host."""
    if not allowed:
        return True
    host = host.lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return host in allowed or name in allowed


def _check_host() -> None:
    allowed: tuple[str, ...] = current_app.extensions[HOSTS]
    if not host_allowed(request.host, allowed):
        raise BadRequest(
            f"This instance does not answer to the address {request.host[:100]!r}: open it "
            "at the address it printed when it started (PIXTOOLS_TRUSTED_HOSTS lists the "
            "names it answers to).")


def init_app(app: Flask) -> None:
    """Register before ``identity``: a foreign Host is refused before anything else."""
    allow_hosts(app, app.extensions["pixtools.settings"].effective_trusted_hosts)
    app.before_request(_check_host)
