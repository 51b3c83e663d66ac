"""The JSON API under ``/api/v1``. Views stay thin: validate, call ``jobs``, present."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from . import bundles, events, idempotency, jobs, limits, operations, presenters, uploads
from . import recipe as recipes
from .errors import BadRequest
from .identity import current_owner
from .models import FINISHED, Job
from .webhooks import targets as webhook_targets

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def read_upload() -> uploads.Upload:
    """The one uploaded image of this request, checked like every upload (``uploads.read``)."""
    files = request.files.getlist("file")
    if not files:
        raise BadRequest(
            "No image received: send it as multipart/form-data in a field named 'file'."
        )
    if len(files) > 1:
        raise BadRequest("Send one image per job: the 'file' field appeared more than once.")
    return uploads.read(files[0])


@bp.post("/jobs")
def create_job() -> ResponseReturnValue:
    settings = current_app.extensions["pixtools.settings"]
    if request.mimetype != "multipart/form-data":
        raise BadRequest(
            "Send the image and the recipe as multipart/form-data, in fields named 'file' "
            f"and 'recipe' (this request was {request.mimetype or 'sent without a type'})."
        )
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    recipe = recipes.parse(
        request.form.get("recipe"),
        max_outputs=settings.max_outputs,
        max_steps=settings.max_steps,
    )
    limits.check_recipe(recipe)
    webhook = webhook_targets.from_form(
        request.form, owner=current_owner(), base_url=request.host_url
    )
    upload = read_upload()
    wait = events.parse_wait(request.args.get("wait"))
    limits.check_capacity(limits.recipe_queues(recipe))
    job, created = idempotency.submit(
        key,
        owner=current_owner(),
        data=upload.data,
        filename=upload.filename,
        info=upload.info,
        recipe=recipe,
        webhook=webhook,
    )
    if wait:
        job = _finished_or_current(job.id, wait)
    body = presenters.job_json(job)
    if webhook is not None:
        # Shown only to the submitter (and again on an idempotent replay, whose first answer
        # may be the one that was lost): the receiver needs it to check signatures.
        body["webhook"] = webhook.public_json(secret=job.webhook_secret)
    response = jsonify(body)
    # A repeated Idempotency-Key answers with the job it made: 200, not a second 202.
    response.status_code = 202 if created else 200
    response.headers["Location"] = url_for("api.get_job", job_id=job.id)
    return response


def _finished_or_current(job_id: str, wait: float) -> Job:
    """The job once it has finished, or as it is after ``wait`` seconds (``?wait=``)."""
    owner = current_owner()
    return events.wait_until(lambda: jobs.get_for_owner(job_id, owner),
                             lambda job: job.status in FINISHED, job_id=job_id, seconds=wait)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    wait = events.parse_wait(request.args.get("wait"))
    # Finished jobs are polled most and change least: their answer is kept briefly.
    cached = presenters.cached_finished(job_id, current_owner())
    if cached is not None:
        return current_app.response_class(cached, mimetype="application/json")
    job = _finished_or_current(job_id, wait)
    response = jsonify(presenters.job_json(job))
    presenters.remember_finished(job, response.get_data())
    return response


@bp.delete("/jobs/<job_id>")
def delete_job(job_id: str) -> ResponseReturnValue:
    jobs.delete(jobs.get_for_owner(job_id, current_owner()))
    return "", 204


@bp.get("/jobs/<job_id>/bundle.zip")
def job_bundle(job_id: str) -> ResponseReturnValue:
    return bundles.response(jobs.get_for_owner(job_id, current_owner()))


@bp.get("/operations")
def list_operations() -> ResponseReturnValue:
    return jsonify(
        operations=[op.describe() for op in operations.REGISTRY.values()],
        recipe_options=operations.base.describe_params(recipes.RecipeOptions),
    )
