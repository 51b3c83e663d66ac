"""The login page of ``PIXTOOLS_WEB_ACCESS=login``: an API key, asked once.

The key is checked like the API checks it; the session kept in the browser holds only the
key's digest (``http.access``). The form is CSRF-checked although nobody is signed in yet,
so no other site can sign a visitor in under its own key.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import apikeys
from ..http import access
from ..http.security import csrf

bp = Blueprint("login", __name__)


def _next_url() -> str:
    """Where to go after signing in: a path on this site only, never another site."""
    target = request.values.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("web.index")
    return target


@bp.get("/login")
def form() -> ResponseReturnValue:
    return render_template("login/form.html", next_url=_next_url(), error=None)


@bp.post("/login")
def submit() -> ResponseReturnValue:
    csrf.protect()
    secret = request.form.get("api_key", "").strip()
    if not secret or apikeys.authenticate(secret) is None:
        error = "This API key was not accepted: it is unknown or has been revoked."
        return render_template("login/form.html", next_url=_next_url(), error=error), 401
    response = redirect(_next_url(), 303)
    access.start_session(response, secret)
    return response


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    csrf.protect()
    response = redirect(url_for("login.form"), 303)
    access.end_session(response)
    return response
