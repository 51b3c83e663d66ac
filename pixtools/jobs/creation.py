"""The one way a job is made: every entry point (the API, the page, the sandbox page)
calls ``prepare`` and then ``create``, so each applies the same checks in the same order:

1. the recipe (``recipe.parse``: 422 naming the field),
2. the output limits its parameters alone show (422),
3. capacity: a queue the recipe needs is too deep (503 with ``Retry-After``),
4. the webhook target (422: not public, disabled, malformed),
5. the upload itself, read by the edge with ``http.uploads`` (413, 415, 422), then
6. the ``Idempotency-Key``: a repeated request answers with the job it made.

``prepare`` runs the checks that do not need the image (once for a page with many files);
``create`` stores the upload, records the job, commits, then enqueues its first steps. An
unreachable queue loses nothing: the job is committed and the sweeper enqueues it.
``again`` makes a failed job anew from its stored upload and recipe, by the same two calls.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from flask import current_app
from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError, OperationalError

from .. import clock, imaging, logs, metrics, queues
from .. import recipe as recipes
from ..db import db
from ..errors import Conflict, Gone, ServiceUnavailable
from ..imaging import ImageInfo
from ..models import FAILED, Job, Output, Status, Step, new_job_id, utcnow
from ..operations import OutputLimits
from ..storage import StorageError, get_storage
from ..webhooks import targets
from ..webhooks.targets import WebhookRequest
from . import idempotency
from .rows import enqueue_committed, source_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """One uploaded image, read and checked by the edge (``http.uploads.read``)."""

    data: bytes
    filename: str
    info: ImageInfo


@dataclass(frozen=True)
class Order:
    """A submission whose recipe, limits, capacity and webhook passed: ready for images."""

    owner: str
    recipe: recipes.Recipe
    webhook: WebhookRequest | None = None
    request_id: str | None = None


def prepare(*, owner: str, recipe: str | None, webhook_urls: Sequence[str] = (),
            base_url: str = "", request_id: str | None = None) -> Order:
    """Checks 1–4 of the module docstring; raises the ``PixToolsError`` that refuses."""
    settings = current_app.extensions["pixtools.settings"]
    parsed = recipes.parse(recipe, max_outputs=settings.max_outputs,
                           max_steps=settings.max_steps)
    recipes.check_limits(parsed, OutputLimits.from_settings(settings))
    check_capacity({step.queue for steps in parsed.outputs for step in steps})
    webhook = targets.from_values(webhook_urls, owner=owner, base_url=base_url)
    return Order(owner=owner, recipe=parsed, webhook=webhook,
                 request_id=request_id or logs.current_request_id())


def check_capacity(queue_names: set[str]) -> None:
    """Refuse new work (503) when a queue it needs is deeper than its threshold."""
    settings = current_app.extensions["pixtools.settings"]
    thresholds = {"standard": settings.max_queued_standard, "ml": settings.max_queued_ml}
    for name in sorted(queue_names):
        try:
            waiting = queues.depth(name)
        except (redis.RedisError, sqlite3.Error) as exc:
            # The queue cannot be asked: accept the job (it is committed first and runs once
            # the queue is back) rather than refuse work we might well be able to do.
            log.warning("queue depth unknown", extra={"queue": name, "error": str(exc)})
            continue
        if waiting >= thresholds[name]:
            raise ServiceUnavailable(
                f"PixTools is busy: {waiting} steps are waiting on the {name} queue. "
                f"Try again in {settings.busy_retry_after_seconds} s.",
                retry_after=settings.busy_retry_after_seconds,
            )


def _unavailable(what: str, exc: Exception) -> ServiceUnavailable:
    """A dependency is down at submission: the user is told to come back (503 with
    Retry-After), the operator gets the details in the log; nothing names the bucket,
    the endpoint or the database to the user."""
    log.error("submission failed: %s unavailable", what, extra={"error": str(exc)[:500]})
    return ServiceUnavailable(
        "The service cannot store new jobs right now (a temporary problem on the server): "
        "try again in a moment.",
        retry_after=current_app.extensions["pixtools.settings"].busy_retry_after_seconds)


def create(order: Order, upload: Upload, *,
           idempotency_key: str | None = None) -> tuple[Job, bool]:
    """The job for ``upload``: (new job, True), or (the job this key already made, False).

    Raises ``IdempotencyKeyReused`` (422) when the key was used for a different request,
    and ``InvalidRecipe`` (422) when the recipe cannot serve this image.
    """
    recipes.check_source(order.recipe, upload.info)
    if idempotency_key is None:
        return _record(order, upload), True
    digest = idempotency.request_hash(upload.data, upload.filename, order.recipe,
                                      order.webhook.url if order.webhook else None)
    for _ in range(2):
        existing = idempotency.job_for_key(order.owner, idempotency_key, digest)
        if existing is not None:
            return existing, False
        try:
            return _record(order, upload, idempotency_key, digest), True
        except IntegrityError:
            continue  # a concurrent request with the same key made the job first
    raise idempotency.in_use()


def _record(order: Order, upload: Upload, idempotency_key: str | None = None,
            request_hash: str | None = None) -> Job:
    """Store the upload, record the job, commit, then enqueue its first steps."""
    settings = current_app.extensions["pixtools.settings"]
    now = utcnow()
    job = Job(
        id=new_job_id(), owner=order.owner, status=Status.QUEUED,
        source_name=upload.filename, source_format=upload.info.format.lower(),
        source_width=upload.info.width, source_height=upload.info.height,
        source_bytes=len(upload.data), request_id=order.request_id,
        idempotency_key=idempotency_key, request_hash=request_hash,
        options=order.recipe.options.model_dump(), created_at=now, updated_at=now,
        expires_at=now + timedelta(seconds=settings.job_ttl_seconds),
    )
    job.source_key = source_key(job.id)
    if order.webhook is not None:
        job.webhook_url, job.webhook_secret = order.webhook.url, order.webhook.secret
        job.webhook_base_url = order.webhook.base_url
    for position, steps in enumerate(order.recipe.outputs):
        output = Output(position=position, status=Status.QUEUED)
        output.steps = [
            Step(position=i, op=s.op, params=s.params, queue=s.queue, status=Status.QUEUED,
                 progress=0, attempts=0)
            for i, s in enumerate(steps)
        ]
        output.steps[0].enqueued_at = now  # enqueued right after the commit
        job.outputs.append(output)
    storage = get_storage(current_app)
    try:
        storage.put(job.source_key, upload.data, "application/octet-stream")
    except StorageError as exc:
        raise _unavailable("storage", exc) from None
    try:
        _insert(job)
        db.session.commit()
    except OperationalError as exc:  # the database went away: nothing was recorded
        db.session.rollback()
        raise _unavailable("database", exc) from None
    except IntegrityError:
        # Another request with the same idempotency key won the race: drop our copy.
        db.session.rollback()
        storage.delete_prefix(f"jobs/{job.id}/")
        raise
    metrics.record_job_submitted(len(upload.data))
    log.info("job submitted", extra={"job_id": job.id, "outputs": len(job.outputs)})
    enqueue_committed([output.steps[0] for output in job.outputs])
    return job


def _values(row: Job | Output | Step, table: Table) -> dict[str, Any]:
    """Every column's value (the same keys for every row of one statement), but an id the
    database numbers."""
    return {column.key: getattr(row, column.key) for column in table.columns
            if not (column.key == "id" and row.id is None)}


def _insert(job: Job) -> None:
    """The job's rows in three INSERTs (outputs and steps each one statement for all,
    their ids returned), without the unit of work's bookkeeping: the rows are new and
    only this request has them. The objects stay as built, ids filled in, for the answer
    and the queue; they are not in the session (any later read loads the rows afresh)."""
    db.session.execute(insert(Job.__table__), [_values(job, Job.__table__)])
    for output in job.outputs:
        output.job_id = job.id
    output_ids = db.session.execute(
        insert(Output.__table__).returning(Output.__table__.c.id, sort_by_parameter_order=True),
        [_values(output, Output.__table__) for output in job.outputs],
    ).scalars().all()
    steps = []
    for output, output_id in zip(job.outputs, output_ids, strict=True):
        output.id = output_id
        for step in output.steps:
            step.output_id = output_id
            steps.append(step)
    step_ids = db.session.execute(
        insert(Step.__table__).returning(Step.__table__.c.id, sort_by_parameter_order=True),
        [_values(step, Step.__table__) for step in steps],
    ).scalars().all()
    for step, step_id in zip(steps, step_ids, strict=True):
        step.id = step_id


def recipe_of(job: Job) -> str:
    """The recipe JSON that made ``job``: its outputs' steps and its options."""
    outputs = [{"steps": [{"op": step.op, **(step.params or {})} for step in output.steps]}
               for output in sorted(job.outputs, key=lambda output: output.position)]
    return json.dumps({"outputs": outputs, **recipes.options_of(job.options).model_dump()})


def again(job: Job, *, base_url: str) -> Job:
    """A new job for a failed ``job``'s stored upload and recipe, in the same batch (its
    request id); refused while the job has not failed (409) or once it expired (410)."""
    if job.status != FAILED:
        raise Conflict("Only a failed job can be retried: this one has not failed.")
    if clock.is_expired(job):
        raise Gone("This job has expired: its upload is deleted. Upload the image again.")
    settings = current_app.extensions["pixtools.settings"]
    data = get_storage(current_app).get(job.source_key)
    info = imaging.inspect(data, imaging.Limits.from_settings(settings))
    order = prepare(owner=job.owner, recipe=recipe_of(job),
                    webhook_urls=[job.webhook_url] if job.webhook_url else [],
                    base_url=base_url, request_id=job.request_id)
    made, _ = create(order, Upload(data=data, filename=job.source_name, info=info))
    return made
