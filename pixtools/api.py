"""The JSON API under ``/api/v1``. Views stay thin: validate, call ``jobs``, present."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from . import idempotency, imaging, jobs, operations, presenters
from . import recipe as recipes
from .errors import BadRequest, PayloadTooLarge
from .identity import current_owner

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def read_upload() -> tuple[bytes, str]:
    """The uploaded file's bytes and name, bounded by the size limit."""
    settings = current_app.extensions["pixtools.settings"]
    files = request.files.getlist("file")
    if not files:
        raise BadRequest(
            "No image received: send it as multipart/form-data in a field named 'file'."
        )
    if len(files) > 1:
        raise BadRequest("Send one image per job: the 'file' field appeared more than once.")
    upload = files[0]
    data = upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"The file is larger than {settings.max_upload_bytes / 1e6:.0f} MB: "
            "send a smaller image."
        )
    return data, upload.filename or "image"


@bp.post("/jobs")
def create_job() -> ResponseReturnValue:
    settings = current_app.extensions["pixtools.settings"]
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    recipe = recipes.parse(
        request.form.get("recipe"),
        max_outputs=settings.max_outputs,
        max_steps=settings.max_steps,
    )
    data, filename = read_upload()
    limits = imaging.Limits(max_pixels=settings.max_pixels, max_side=settings.max_side)
    info = imaging.inspect(data, limits)
    job, created = idempotency.submit(
        key, owner=current_owner(), data=data, filename=filename, info=info, recipe=recipe
    )
    response = jsonify(presenters.job_json(job))
    # A repeated Idempotency-Key answers with the job it made: 200, not a second 202.
    response.status_code = 202 if created else 200
    response.headers["Location"] = url_for("api.get_job", job_id=job.id)
    return response


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    return jsonify(presenters.job_json(jobs.get_for_owner(job_id, current_owner())))


@bp.delete("/jobs/<job_id>")
def delete_job(job_id: str) -> ResponseReturnValue:
    jobs.delete(jobs.get_for_owner(job_id, current_owner()))
    return "", 204


@bp.get("/operations")
def list_operations() -> ResponseReturnValue:
    return jsonify(operations=[op.describe() for op in operations.REGISTRY.values()])
