"""Batches: the jobs one upload of many images made (they share its request id). The page
shows a header over their cards with overall progress, one streamed ZIP of every finished
output, and retry for the failed ones; a retried job is made anew through ``jobs.again``
(the creation path every job takes), joins the same batch and takes the failed one's place.
"""

from __future__ import annotations

from dataclasses import dataclass

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

from .. import jobs
from ..errors import NotFound
from ..http.identity import current_owner
from ..jobs.archive import archive
from ..models.state import FAILED, FINISHED, SUCCEEDED
from ..storage import get_storage
from . import cards as web_cards
from .htmx import is_partial

bp = Blueprint("batches", __name__)


@dataclass
class Batch:
    id: str
    total: int
    done: int
    failed: int
    progress: int
    failed_ids: list[str]

    @property
    def polling(self) -> bool:
        return self.done + self.failed < self.total

    @property
    def finished(self) -> int:
        return self.done + self.failed


def summary(batch_id: str, cards: list[web_cards.JobCard]) -> Batch:
    states = [card.status for card in cards]
    progress = sum(100 if card.status in FINISHED else card.progress for card in cards)
    return Batch(id=batch_id, total=len(cards), done=states.count(SUCCEEDED),
                 failed=states.count(FAILED), progress=progress // max(1, len(cards)),
                 failed_ids=[card.id for card in cards if card.status == FAILED])


def _members(batch_id: str) -> list[web_cards.JobCard]:
    found = jobs.batch_for_owner(current_owner(), batch_id)
    if not found:
        raise NotFound("No such batch: its jobs were deleted, or they are someone else's.")
    return [web_cards.card(job) for job in found]


@bp.get("/batches/<batch_id>")
def header(batch_id: str) -> ResponseReturnValue:
    if not is_partial():
        return redirect(url_for("web.index"), 303)
    return render_template("partials/batch.html", batch=summary(batch_id, _members(batch_id)))


@bp.get("/batches/<batch_id>/bundle.zip")
def bundle(batch_id: str) -> ResponseReturnValue:
    found = jobs.batch_for_owner(current_owner(), batch_id)
    if not found:
        raise NotFound("No such batch: its jobs were deleted, or they are someone else's.")
    stream = archive(found, get_storage(current_app))
    reply = Response(iter(stream), mimetype="application/zip", direct_passthrough=True)
    reply.headers["Content-Length"] = str(len(stream))
    reply.headers["Content-Disposition"] = 'attachment; filename="batch.zip"'
    reply.headers["X-Content-Type-Options"] = "nosniff"
    return reply


def _retry(job_id: str) -> web_cards.JobCard:
    """The failed job made anew (its card), the failed one deleted."""
    failed = jobs.get_for_owner(job_id, current_owner())
    made = jobs.again(failed, base_url=request.host_url)
    jobs.delete(failed)
    return web_cards.card(made)


def _retried(created: list[tuple[str, web_cards.JobCard]]) -> ResponseReturnValue:
    """Each new card in its failed one's place; the batch headers hear of it and refresh."""
    if not is_partial():
        return redirect(url_for("web.index"), 303)
    response = make_response(render_template("partials/retried.html", created=created))
    response.headers["HX-Trigger"] = "pixtools:batch-changed"
    return response


@bp.post("/jobs/<job_id>/retry")
def retry_job(job_id: str) -> ResponseReturnValue:
    return _retried([(job_id, _retry(job_id))])


@bp.post("/batches/<batch_id>/retry")
def retry_batch(batch_id: str) -> ResponseReturnValue:
    failed = summary(batch_id, _members(batch_id)).failed_ids
    return _retried([(job_id, _retry(job_id)) for job_id in failed])
