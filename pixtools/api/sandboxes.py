"""The webhooks feature in the JSON API: sandboxes, the sandbox receiver, a job's delivery
log. (The sandbox pages are in ``web.sandbox``.)"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from .. import jobs
from ..db import db
from ..http.identity import current_owner
from ..models import WebhookDelivery, WebhookSandbox
from ..webhooks import sandbox as sandboxes

api_bp = Blueprint("webhooks_api", __name__, url_prefix="/api/v1")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def sandbox_json(sandbox: WebhookSandbox, *, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": sandbox.id,
        "url": sandbox.url,
        "page": url_for("sandbox.detail", sandbox_id=sandbox.id, _external=True),
        "created_at": _iso(sandbox.created_at),
        "expires_at": _iso(sandbox.expires_at),
    }
    if with_secret:
        body["secret"] = sandbox.secret
    return body


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event": delivery.event,
        "url": delivery.url,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": _iso(delivery.created_at),
        "next_attempt_at": _iso(delivery.next_attempt_at),
        "finished_at": _iso(delivery.finished_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "history": [
            {
                "number": a.number,
                "at": _iso(a.started_at),
                "outcome": a.outcome,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
                "next_attempt_at": _iso(a.next_attempt_at),
            }
            for a in delivery.history
        ],
    }


# --- API --------------------------------------------------------------------------------


@api_bp.post("/sandboxes")
def create_sandbox() -> ResponseReturnValue:
    sandbox = sandboxes.create(current_owner(), request.host_url)
    response = jsonify(sandbox_json(sandbox, with_secret=True))
    response.status_code = 201
    response.headers["Location"] = url_for("webhooks_api.get_sandbox", sandbox_id=sandbox.id)
    return response


@api_bp.get("/sandboxes/<sandbox_id>")
def get_sandbox(sandbox_id: str) -> ResponseReturnValue:
    sandbox = sandboxes.get_for_owner(sandbox_id, current_owner())
    body = sandbox_json(sandbox, with_secret=True)
    body["requests"] = [sandboxes.request_json(entry) for entry in sandbox.requests]
    return jsonify(body)


@api_bp.post("/hooks/sandbox/<sandbox_id>")
def receive(sandbox_id: str) -> ResponseReturnValue:
    body = request.stream.read(sandboxes.MAX_BODY_BYTES + 1)
    entry = sandboxes.receive(sandbox_id, request.method, dict(request.headers), body)
    return jsonify(received=True, verification=entry.verification), 200


@api_bp.get("/jobs/<job_id>/webhook")
def job_webhook(job_id: str) -> ResponseReturnValue:
    job = jobs.get_for_owner(job_id, current_owner())
    deliveries = db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.job_id == job.id)
        .order_by(WebhookDelivery.created_at)
    ).scalars()
    return jsonify(url=job.webhook_url, deliveries=[delivery_json(d) for d in deliveries])
