"""Routes of the webhooks feature: sandbox API and pages, the sandbox receiver, delivery log."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import imaging, jobs
from .. import recipe as recipes
from ..api import read_upload
from ..identity import current_owner
from . import sandbox as sandboxes
from . import targets
from .models import SandboxRequest, WebhookDelivery, WebhookSandbox

api_bp = Blueprint("webhooks_api", __name__, url_prefix="/api/v1")
pages_bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")

# What the sandbox page's upload form asks for: one small WebP, enough to see an event.
TRY_RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "webp"}]}]})


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


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def request_json(entry: SandboxRequest) -> dict[str, Any]:
    return {
        "received_at": _iso(entry.received_at),
        "method": entry.method,
        "headers": entry.headers,
        "body": entry.body,
        "verification": entry.verification,
        "detail": entry.detail,
    }


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
    body["requests"] = [request_json(entry) for entry in sandbox.requests]
    return jsonify(body)


@api_bp.post("/hooks/sandbox/<sandbox_id>")
def receive(sandbox_id: str) -> ResponseReturnValue:
    body = request.stream.read(sandboxes.MAX_BODY_BYTES + 1)
    entry = sandboxes.receive(sandbox_id, request.method, dict(request.headers), body)
    return jsonify(received=True, verification=entry.verification), 200


@api_bp.get("/jobs/<job_id>/webhook")
def job_webhook(job_id: str) -> ResponseReturnValue:
    from sqlalchemy import select

    from ..db import db

    job = jobs.get_for_owner(job_id, current_owner())
    deliveries = db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.job_id == job.id)
        .order_by(WebhookDelivery.created_at)
    ).scalars()
    return jsonify(url=job.webhook_url, deliveries=[delivery_json(d) for d in deliveries])


# --- pages ------------------------------------------------------------------------------


@pages_bp.get("")
def index() -> ResponseReturnValue:
    return render_template("sandbox/index.html",
                           sandboxes=sandboxes.list_for_owner(current_owner()))


@pages_bp.post("")
def create_page() -> ResponseReturnValue:
    sandbox = sandboxes.create(current_owner(), request.host_url)
    return redirect(url_for("sandbox.detail", sandbox_id=sandbox.id), code=303)


@pages_bp.get("/<sandbox_id>")
def detail(sandbox_id: str) -> ResponseReturnValue:
    sandbox = sandboxes.get_for_owner(sandbox_id, current_owner())
    entries = [{**request_json(e), "pretty": _pretty(e.body)} for e in sandbox.requests]
    return render_template("sandbox/detail.html", sandbox=sandbox, entries=entries)


@pages_bp.post("/send")
def send_image() -> ResponseReturnValue:
    """Upload one image as a job whose event goes to the chosen webhook (e.g. the sandbox)."""
    settings = current_app.extensions["pixtools.settings"]
    owner = current_owner()
    recipe = recipes.parse(TRY_RECIPE, max_outputs=settings.max_outputs,
                           max_steps=settings.max_steps)
    webhook = targets.from_form(request.form, owner=owner, base_url=request.host_url)
    data, filename = read_upload()
    limits = imaging.Limits(max_pixels=settings.max_pixels, max_side=settings.max_side)
    info = imaging.inspect(data, limits)
    job = jobs.submit(owner=owner, data=data, filename=filename, info=info, recipe=recipe,
                      webhook=webhook)
    if webhook is not None and webhook.sandbox_id:
        return redirect(url_for("sandbox.detail", sandbox_id=webhook.sandbox_id, job=job.id),
                        code=303)
    return redirect(url_for("sandbox.index", job=job.id), code=303)
