"""The JSON API's jobs under ``/api/v1``. Views stay thin: parse the request, call
``jobs``, answer with the job's public representation."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from .. import clock, events, hotcache, jobs, operations
from .. import recipe as recipes
from ..errors import BadRequest
from ..http.identity import current_owner
from ..http.uploads import read_one
from ..jobs import idempotency
from ..models import Job
from ..models.state import FAILED, FINISHED, SUCCEEDED
from ..operations.base import describe_params
from . import bundles, pages

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# What ends a wait, as the status probe sees it: finished, or gone (the read then says 404).
SETTLED = (*FINISHED, None)


def _job_json(job: Job) -> dict[str, object]:
    return jobs.view(job, jobs.links(request.host_url)).to_json()


@bp.post("/jobs")
def create_job() -> ResponseReturnValue:
    if request.mimetype != "multipart/form-data":
        raise BadRequest(
            "Send the image and the recipe as multipart/form-data, in fields named 'file' "
            f"and 'recipe' (this request was {request.mimetype or 'sent without a type'})."
        )
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    order = jobs.prepare(owner=current_owner(), recipe=request.form.get("recipe"),
                         webhook_urls=request.form.getlist("webhook_url"),
                         base_url=request.host_url)
    upload = read_one(request.files.getlist("file"))
    wait = events.parse_wait(request.args.get("wait"))
    job, created = jobs.create(order, upload, idempotency_key=key)
    if wait:
        job = _finished_or_current(job.id, wait, job)
    body = _job_json(job)
    if order.webhook is not None:
        # Shown only to the submitter (and again on an idempotent replay, whose first answer
        # may be the one that was lost): the receiver needs it to check signatures.
        body["webhook"] = order.webhook.public_json(secret=job.webhook_secret)
    response = jsonify(body)
    # A repeated Idempotency-Key answers with the job it made: 200, not a second 202.
    response.status_code = 202 if created else 200
    response.headers["Location"] = url_for("api.get_job", job_id=job.id)
    return response


def _finished_or_current(job_id: str, wait: float, job: Job | None = None) -> Job:
    """The job once it has finished, or as it is after ``wait`` seconds (``?wait=``);
    ``job`` when it was just read (made): its rows are not read again before waiting."""
    owner = current_owner()
    # While waiting only the job's status is asked; its rows are read once, at the end.
    return events.wait_until(lambda: jobs.get_for_owner(job_id, owner),
                             lambda found: found.status in FINISHED, job_id=job_id,
                             seconds=wait, first=job,
                             probe=lambda: jobs.status_for_owner(job_id, owner) in SETTLED)


@bp.get("/jobs")
def list_jobs() -> ResponseReturnValue:
    """The caller's jobs, newest first, a page at a time (``limit``, ``status``, ``cursor``)."""
    page = pages.parse(request.args)
    found = jobs.page_for_owner(current_owner(), limit=page.limit + 1,
                                statuses=page.statuses, after=page.after)
    shown = found[:page.limit]
    more = len(found) > page.limit
    cursor = pages.encode_cursor(shown[-1].created_at, shown[-1].id) if more else None
    links = jobs.links(request.host_url)
    response = jsonify(jobs=[jobs.view(job, links).to_json() for job in shown],
                       next_cursor=cursor)
    if cursor is not None:
        following = url_for("api.list_jobs", limit=page.limit, cursor=cursor,
                            status=",".join(page.statuses) or None)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


@bp.url_value_preprocessor
def _read_ahead(endpoint: str | None, values: dict[str, object] | None) -> None:
    # Runs before every before_request hook: the API key check's cache read (identity)
    # fetches the finished job's kept answer in the same round trip.
    if endpoint == "api.get_job" and values:
        hotcache.get_cache().expect("job", str(values["job_id"]), request.host_url)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    wait = events.parse_wait(request.args.get("wait"))
    # Finished jobs are polled most and change least: their answer is kept briefly.
    cached = _cached_finished(job_id, current_owner())
    if cached is not None:
        return current_app.response_class(cached, mimetype="application/json")
    job = _finished_or_current(job_id, wait)
    response = jsonify(_job_json(job))
    _remember_finished(job, response)
    return response


@bp.delete("/jobs/<job_id>")
def delete_job(job_id: str) -> ResponseReturnValue:
    jobs.delete(jobs.get_for_owner(job_id, current_owner()))
    return "", 204


@bp.get("/jobs/<job_id>/bundle.zip")
def job_bundle(job_id: str) -> ResponseReturnValue:
    job = jobs.get_for_owner(job_id, current_owner())
    jobs.refuse_if_expired(job)
    return bundles.response(job)


@bp.get("/operations")
def list_operations() -> ResponseReturnValue:
    return jsonify(
        operations=[op.describe() for op in operations.REGISTRY.values()],
        recipe_options=describe_params(recipes.RecipeOptions),
    )


# --- finished jobs' answers, kept briefly (see ``hotcache``) ------------------------------


def _cached_finished(job_id: str, owner: str) -> bytes | None:
    """The stored JSON answer for ``owner``'s finished job, or None (not kept, or not theirs:
    the database then answers, with a 404 for someone else's job)."""
    raw = hotcache.get_cache().get("job", job_id, variant=request.host_url)
    if raw is None:
        return None
    cached_owner, _, body = raw.partition(b"\n")
    return body if cached_owner == owner.encode() else None


def _remember_finished(job: Job, response: Response) -> None:
    """Keep a finished job's answer, while its links stay valid for long enough."""
    if job.status not in (SUCCEEDED, FAILED):
        return
    settings = current_app.extensions["pixtools.settings"]
    # A kept answer is served for at most this long: its links have 3/4 of their life left.
    ttl = min(settings.signed_url_ttl_seconds / 4,
              (job.expires_at - clock.now()).total_seconds())
    if ttl >= 1:
        hotcache.get_cache().put("job", job.id, job.owner.encode() + b"\n" + response.get_data(),
                                 variant=request.host_url, ttl=ttl)
