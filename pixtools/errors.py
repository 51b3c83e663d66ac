"""Errors a user may cause, each with its HTTP status and a message safe to show.

Plain exception classes: any layer raises them; the HTTP edge (``pixtools.http.errors``)
is the one place that renders them, as JSON under ``/api`` and an inline partial for the
page. ``status`` is a number, so this module needs no web framework.
"""

from __future__ import annotations

from typing import Any


class PixToolsError(Exception):
    """Base error: ``status`` is the HTTP status, ``code`` a stable machine word."""

    status = 400
    code = "bad_request"

    # Seconds after which trying again makes sense; sent as the Retry-After header.
    retry_after: int | None = None

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


class Unauthorized(PixToolsError):
    """No credentials where the server requires them, or credentials it does not accept."""

    status, code = 401, "unauthorized"


class NotFound(PixToolsError):
    status, code = 404, "not_found"


class Gone(PixToolsError):
    status, code = 410, "gone"


class JobExpired(Gone):
    """The job is past its expiry time: its results are no longer served, whatever the link."""

    code = "expired"


class Conflict(PixToolsError):
    """The request is fine but the job is not in a state to answer it yet."""

    status, code = 409, "conflict"


class PayloadTooLarge(PixToolsError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(PixToolsError):
    status, code = 415, "unsupported_media_type"


class InvalidRecipe(PixToolsError):
    status, code = 422, "invalid_recipe"


class ImageRejected(PixToolsError):
    """The upload is an image we will not process (too many pixels, broken data)."""

    status, code = 422, "image_rejected"


class InvalidWebhookURL(PixToolsError):
    """The webhook URL may not be called (not http(s), not public, disabled, …)."""

    status, code = 422, "invalid_webhook_url"


class Forbidden(PixToolsError):
    status, code = 403, "forbidden"


class CsrfFailed(Forbidden):
    """A browser-cookie request that changes state came without a valid CSRF token."""

    code = "csrf_failed"


class _RetryLater(PixToolsError):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class TooManyRequests(_RetryLater):
    """This client submitted more than its rate allows; ``retry_after`` says when to resume."""

    status, code = 429, "too_many_requests"


class ServiceUnavailable(_RetryLater):
    """The service cannot take the work now (queues too deep); try again after a while."""

    status, code = 503, "service_unavailable"


class IdempotencyKeyReused(PixToolsError):
    """An Idempotency-Key came back with a different request than the one it was made for."""

    status, code = 422, "idempotency_key_reused"


class StepFailed(Exception):
    """A processing step failed; the message is what the job shows as its reason."""
