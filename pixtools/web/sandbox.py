"""The webhook sandbox pages (``/sandbox``): make a receiver, watch what it is sent, and
send it an image's event."""

from __future__ import annotations

import json

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import jobs
from ..http.identity import current_owner
from ..http.uploads import read_one
from ..webhooks import sandbox as sandboxes

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")

# What the sandbox page's upload form asks for: one small WebP, enough to see an event.
TRY_RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "webp"}]}]})


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


@bp.get("")
def index() -> ResponseReturnValue:
    return render_template("sandbox/index.html",
                           sandboxes=sandboxes.list_for_owner(current_owner()))


@bp.post("")
def create_page() -> ResponseReturnValue:
    sandbox = sandboxes.create(current_owner(), request.host_url)
    return redirect(url_for("sandbox.detail", sandbox_id=sandbox.id), code=303)


@bp.get("/<sandbox_id>")
def detail(sandbox_id: str) -> ResponseReturnValue:
    sandbox = sandboxes.get_for_owner(sandbox_id, current_owner())
    entries = [{**sandboxes.request_json(e), "pretty": _pretty(e.body)}
               for e in sandbox.requests]
    return render_template("sandbox/detail.html", sandbox=sandbox, entries=entries)


@bp.post("/send")
def send_image() -> ResponseReturnValue:
    """Upload one image as a job whose event goes to the chosen webhook (e.g. the sandbox)."""
    order = jobs.prepare(owner=current_owner(), recipe=TRY_RECIPE,
                         webhook_urls=request.form.getlist("webhook_url"),
                         base_url=request.host_url)
    job, _ = jobs.create(order, read_one(request.files.getlist("file")))
    if order.webhook is not None and order.webhook.sandbox_id:
        return redirect(url_for("sandbox.detail", sandbox_id=order.webhook.sandbox_id,
                                job=job.id), code=303)
    return redirect(url_for("sandbox.index", job=job.id), code=303)
