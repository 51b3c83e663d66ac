"""The page people use: upload, live progress cards, results and their own history.

htmx requests (``HX-Request``) get partials: a card, the recipe form with its errors, or
the cards of a new upload. The same URLs without that header render the whole page, so
anything htmx pushes to the address bar also works on reload and without JavaScript.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from .. import jobs, presets
from ..errors import PixToolsError
from ..http import uploads
from ..http.identity import current_owner
from . import batches as web_batches
from . import cards as web_cards
from . import forms as web_forms
from . import recipe_io
from .htmx import is_partial

bp = Blueprint("web", __name__)

HISTORY_LIMIT = 60


def _history() -> list[tuple[Any, web_cards.JobCard]]:
    """The owner's cards, newest first, each upload of several images under its batch
    header (the header comes with the batch's first card)."""
    found = jobs.list_for_owner(current_owner(), limit=HISTORY_LIMIT)
    cards = [web_cards.card(job) for job in found]
    groups: dict[str, list[web_cards.JobCard]] = {}
    for job, card in zip(found, cards, strict=True):
        if job.request_id:
            groups.setdefault(job.request_id, []).append(card)
    entries: list[tuple[Any, web_cards.JobCard]] = []
    for job, card in zip(found, cards, strict=True):
        group = groups.get(job.request_id or "", [])
        first = len(group) > 1 and group[0] is card
        entries.append((web_batches.summary(job.request_id or "", group) if first else None,
                        card))
    return entries


def _page(form: web_forms.RecipeForm, status: int = 200, **extra: Any) -> ResponseReturnValue:
    return render_template("index.html", form=form, cards=_history(), **extra), status


@bp.context_processor
def _page_context() -> dict[str, Any]:
    settings = current_app.extensions["pixtools.settings"]
    return {
        "max_upload_mb": f"{settings.max_upload_bytes / 1e6:.0f}",
        "ttl_text": web_cards.human_duration(settings.job_ttl_seconds),
    }


@bp.get("/")
def index() -> ResponseReturnValue:
    key = request.args.get("preset")
    if key:
        return _page(form_for(key))
    return _page(web_forms.build(shown_formats=shown_formats()))


def form_for(key: str) -> web_forms.RecipeForm:
    """The builder filled in from the owner's (or a built-in) preset ``key``."""
    choice = presets.get_for_owner(key, current_owner())
    return web_forms.build(recipe_io.fields_of(choice.recipe), shown_formats=shown_formats())


def shown_formats() -> list[str]:
    """The image formats this browser says it shows (Chromium and Firefox list AVIF and
    WebP in a page request's Accept header); JPEG always."""
    listed = set(request.accept_mimetypes.values())
    shown = [fmt for fmt in ("avif", "webp") if f"image/{fmt}" in listed]
    return [*shown, "jpeg"] if shown else list(web_forms.SHOWN_BY_EVERY_BROWSER)


@bp.get("/jobs")
def jobs_list() -> ResponseReturnValue:
    return redirect(url_for("web.index"), 303)


@bp.post("/jobs")
def create_jobs() -> ResponseReturnValue:
    settings = current_app.extensions["pixtools.settings"]
    form = web_forms.build(request.form)
    files = [f for f in request.files.getlist("file") if f.filename]
    if not files:
        form.errors["file"] = "Choose at least one image: drop it on the box or pick it."
    elif len(files) > settings.max_files_per_upload:
        form.errors["file"] = (
            f"{len(files)} files chosen; send at most {settings.max_files_per_upload} at once."
        )
    order = form.order(owner=current_owner(), webhook_urls=request.form.getlist("webhook_url"),
                       base_url=request.host_url)
    if order is None or form.has_errors:
        if not is_partial():
            return _page(form, 422)
        response = make_response(render_template("partials/recipe.html", form=form), 422)
        response.headers["HX-Retarget"] = "#recipe"
        response.headers["HX-Reswap"] = "outerHTML"
        return response

    created: list[web_cards.JobCard] = []
    rejected: list[web_cards.Rejected] = []
    for upload in files:
        try:
            accepted = uploads.read(upload)
        except PixToolsError as exc:
            rejected.append(web_cards.Rejected(name=upload.filename or "file", error=exc))
            continue
        job, _ = jobs.create(order, accepted)
        created.append(web_cards.card(job))
    status = 200 if created else rejected[0].error.status
    if not is_partial():
        return _page(form, status, rejected=rejected)
    response = make_response(
        render_template("partials/uploaded.html", form=form, created=created,
                        rejected=rejected, webhook=order.webhook if created else None,
                        batch=_batch(order, created)),
        status,
    )
    # app.js clears the file picker once its files are handled, accepted or not.
    response.headers["HX-Trigger"] = "pixtools:files-sent"
    return response


def _batch(order: jobs.Order, created: list[web_cards.JobCard]) -> Any:
    """The header over an upload of several images (they share the request's id)."""
    if len(created) < 2 or not order.request_id:
        return None
    return web_batches.summary(order.request_id, created)


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> ResponseReturnValue:
    card = web_cards.card(jobs.get_for_owner(job_id, current_owner()))
    if is_partial():
        seen = request.args.get("seen")
        announce = seen is not None and seen != card.state
        return render_template("partials/card.html", card=card, announce=announce)
    return render_template("job.html", card=card)


@bp.post("/jobs/<job_id>/delete")
def delete_job(job_id: str) -> ResponseReturnValue:
    job = jobs.get_for_owner(job_id, current_owner())
    name = job.source_name
    jobs.delete(job)
    if is_partial():
        # The card swaps itself for this: nothing, and a word for screen readers.
        return render_template("partials/announce.html", message=f"Deleted {name}.")
    return redirect(url_for("web.index"), 303)


@bp.after_request
def _headers(response: Response) -> Response:
    # The same URL answers a fragment or a page depending on HX-Request.
    response.vary.add("HX-Request")
    response.headers.setdefault("Cache-Control", "no-store")
    return response
