"""Who is asking: the owner every job belongs to.

A browser gets an anonymous owner id in a signed, HttpOnly cookie (nothing else identifies
it). An API client that sends no cookie owns its jobs as ``public``: job ids are
unguessable, so the id itself is what lets a caller read a job.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request
from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "pixtools_owner"
PUBLIC_OWNER = "public"
MAX_AGE = 400 * 24 * 3600


def _serializer(app: Flask) -> URLSafeSerializer:
    return URLSafeSerializer(app.config["SECRET_KEY"], salt="pixtools.owner")


def current_owner() -> str:
    owner: str = g.owner
    return owner


def init_app(app: Flask) -> None:
    @app.before_request
    def _load_owner() -> None:
        g.new_owner = None
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                g.owner = "browser:" + str(_serializer(app).loads(raw))
                return
            except BadSignature:
                pass
        if request.path.startswith("/api/"):
            g.owner = PUBLIC_OWNER
        else:
            g.new_owner = secrets.token_urlsafe(16)
            g.owner = "browser:" + g.new_owner

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
