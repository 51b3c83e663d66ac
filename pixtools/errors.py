"""Errors a user may cause, each with its HTTP status and a message safe to show.

Views raise these; ``init_app`` registers the one place that renders them: JSON under
``/api`` and an inline partial for the page.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class PixToolsError(Exception):
    """Base error: ``status`` is the HTTP status, ``code`` a stable machine word."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class BadRequest(PixToolsError):
    status, code = 400, "bad_request"


class NotFound(PixToolsError):
    status, code = 404, "not_found"


class Gone(PixToolsError):
    status, code = 410, "gone"


class PayloadTooLarge(PixToolsError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(PixToolsError):
    status, code = 415, "unsupported_media_type"


class InvalidRecipe(PixToolsError):
    status, code = 422, "invalid_recipe"


class ImageRejected(PixToolsError):
    """The upload is an image we will not process (too many pixels, broken data)."""

    status, code = 422, "image_rejected"


class Forbidden(PixToolsError):
    status, code = 403, "forbidden"


class Conflict(PixToolsError):
    """The job is not in a state that allows the action (e.g. retrying a running job)."""

    status, code = 409, "conflict"


class IdempotencyKeyReused(PixToolsError):
    """An Idempotency-Key came back with a different request than the one it was made for."""

    status, code = 422, "idempotency_key_reused"


class StepFailed(Exception):
    """A processing step failed; the message is what the job shows as its reason."""


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/files/")


def _render(error: PixToolsError) -> Response:
    if _wants_json():
        response = jsonify(error.to_dict())
    else:
        response = Response(render_template("partials/error.html", error=error))
    response.status_code = error.status
    return response


def _http_error(exc: HTTPException) -> Response | HTTPException:
    status = exc.code or 500
    word = (exc.name or "error").lower().replace(" ", "_")
    limit = current_app.extensions["pixtools.settings"].max_upload_bytes / 1e6
    messages = {
        404: "No such resource: check the URL.",
        405: f"Method {request.method} is not allowed here.",
        413: f"The upload is larger than {limit:.0f} MB: send a smaller image.",
    }
    error = PixToolsError(messages.get(status, exc.description or exc.name))
    error.status, error.code = status, word
    return _render(error)


def init_app(app: Flask) -> None:
    app.register_error_handler(PixToolsError, _render)
    app.register_error_handler(HTTPException, _http_error)
