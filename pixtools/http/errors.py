"""Rendering errors: the one place a ``PixToolsError`` (or Werkzeug's own HTTP error)
becomes a response — RFC 9457 problem details under ``/api`` and ``/files``, an inline
partial on the page."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..errors import PixToolsError
from ..recipe import MAX_RECIPE_BYTES

PROBLEM_TYPE_PREFIX = "tag:pixtools,2026:problems/"
PROBLEM_MIMETYPE = "application/problem+json"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/files/")


def problem_type(code: str) -> str:
    """The problem's ``type``: a URI naming the kind of error (one per ``error`` word)."""
    return PROBLEM_TYPE_PREFIX + code


def problem(error: PixToolsError) -> dict[str, object]:
    """``error`` as RFC 9457 problem details. ``error``, ``message`` and ``field`` stay as
    extension members: clients written for the earlier shape keep working."""
    return {
        "type": problem_type(error.code),
        "title": error.code.replace("_", " ").capitalize(),
        "status": error.status,
        "detail": error.message,
        "instance": request.path,
        **error.to_dict(),
    }


def _render(error: PixToolsError) -> Response:
    if _wants_json():
        response = jsonify(problem(error))
        response.mimetype = PROBLEM_MIMETYPE
    else:
        response = Response(render_template("partials/error.html", error=error))
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pixtools"'
    return response


def render(error: PixToolsError) -> Response:
    """The response for ``error``: JSON under ``/api`` and ``/files``, a partial elsewhere."""
    return _render(error)


def _http_error(exc: HTTPException) -> Response | HTTPException:
    status = exc.code or 500
    word = (exc.name or "error").lower().replace(" ", "_")
    limit = current_app.extensions["pixtools.settings"].max_upload_bytes / 1e6
    messages = {
        404: "No such resource: check the URL.",
        405: f"Method {request.method} is not allowed here.",
        413: f"The upload is larger than {limit:.0f} MB: send a smaller image.",
    }
    body_size, body_limit = request.content_length, current_app.config["MAX_CONTENT_LENGTH"]
    if status == 413 and body_size is not None and body_size <= body_limit:
        # The body fits, so a form field (not the file) was over Werkzeug's field limit.
        messages[413] = (
            f"A form field is too large: the recipe may be at most {MAX_RECIPE_BYTES // 1024} "
            "KB, and the image belongs in the 'file' field."
        )
    error = PixToolsError(messages.get(status, exc.description or exc.name))
    error.status, error.code = status, word
    return _render(error)


def init_app(app: Flask) -> None:
    app.register_error_handler(PixToolsError, _render)
    app.register_error_handler(HTTPException, _http_error)
