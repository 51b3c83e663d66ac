"""Web security: protective headers on every response, CSRF checks on browser requests.

CSRF matters only where the browser sends credentials by itself: the owner cookie. So a
state-changing request (POST, PUT, PATCH, DELETE) that is identified by that cookie must
carry the page's token, in an ``X-CSRF-Token`` header or a ``csrf_token`` form field.
Requests identified by an API key, or by nothing at all, have no ambient authority to
abuse and are not checked. Flask-WTF makes and checks the tokens (bound to the browser's
session); ``csrf_token()`` in templates gives the current one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Request, Response, g, redirect, request, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import errors
from ..storage import get_storage
from . import access, identity
from .errors import render

csrf = CSRFProtect()
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Same-origin requests keep their Referer (Flask-WTF checks it over HTTPS); job URLs
    # never leak to other sites.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def storage_origin(app: Flask) -> str | None:
    """The origin result links point at when it is not this app (S3 or a compatible store)."""
    try:
        url = get_storage(app).signed_url(
            ".csp-probe", expires_in=60, filename="probe.png", content_type="image/png"
        )
    except Exception:  # no credentials yet, say: fall back to the configured endpoint
        url = app.extensions["pixtools.settings"].s3_endpoint_url
    parts = urlsplit(url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def content_security_policy(image_origin: str | None) -> str:
    images = " ".join(filter(None, ["'self'", "data:", "blob:", image_origin]))
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "font-src 'self'",
        f"img-src {images}",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ])


def _check_csrf() -> None:
    # Flask-WTF caches the token in ``g``, which outlives a request when an app context was
    # already pushed (scripts, tests): each request must get its own session's token.
    g.pop("csrf_token", None)
    g.pop("csrf_valid", None)
    if request.method in UNSAFE_METHODS and identity.authenticated_by() in identity.BROWSER_AUTH:
        csrf.protect()


def _require_login() -> ResponseReturnValue | None:
    """Login or proxy mode: a page without a signed-in browser goes to the login page."""
    if not g.get(identity.NEEDS_LOGIN):
        return None
    if access.mode() == "proxy":
        raise errors.Unauthorized(
            "Sign in through this site's login (the proxy in front of PixTools did not say "
            "who you are).")
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("login.form", next=request.full_path.rstrip("?")))
    raise errors.Unauthorized("Your session has ended: sign in again with your API key.")


def _csrf_failed(exc: CSRFError) -> Response:
    return render(errors.CsrfFailed(
        f"{exc.description} Changes made with the page's cookie must send the page's CSRF "
        "token (the csrf-token meta tag) in an X-CSRF-Token header or a csrf_token form "
        "field: reload the page and try again. Scripts should use an API key instead."
    ))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, but a request without the cookie (every API call
    with a key, every first visit) gets its empty session without a signer being built
    for it (about 20 us of the 0.55 ms a kept job's status request costs in-process)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Register after ``identity`` (the CSRF check needs to know how a request identified)."""
    settings = app.extensions["pixtools.settings"]
    if settings.proxy_hops:
        # Behind N reverse proxies, take the client address and scheme from their headers
        # (needed for per-client rate limits and secure cookies), trusting no more than N.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by _check_csrf, for cookie requests only
        WTF_CSRF_TIME_LIMIT=None,  # a page left open for hours must still work
        SESSION_COOKIE_NAME="pixtools_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        # The session holds the CSRF secret: over HTTPS it must never travel in clear.
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
    )
    app.session_interface = CookieSessions()
    csrf.init_app(app)
    app.before_request(_check_csrf)
    app.before_request(_require_login)
    app.register_error_handler(CSRFError, _csrf_failed)
    policy = content_security_policy(storage_origin(app))

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
