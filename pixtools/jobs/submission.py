"""A job's life seen from outside the workers: submitted, expired, deleted."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy.exc import IntegrityError

from .. import hotcache, logs, metrics
from ..db import db
from ..imaging import ImageInfo
from ..models import (
    EXPIRED,
    QUEUED,
    Job,
    Output,
    Step,
    new_job_id,
    utcnow,
)
from ..recipe import Recipe
from ..storage import get_storage
from .rows import enqueue_committed, source_key

if TYPE_CHECKING:
    from ..webhooks.targets import WebhookRequest

log = logging.getLogger(__name__)


def submit(
    *,
    owner: str,
    data: bytes,
    filename: str,
    info: ImageInfo,
    recipe: Recipe,
    request_id: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    webhook: WebhookRequest | None = None,
) -> Job:
    """Store the upload, record the job, commit, then enqueue its first steps.

    An unreachable queue loses nothing: the job is committed and the sweeper enqueues it.
    """
    settings = current_app.extensions["pixtools.settings"]
    now = utcnow()
    job = Job(
        id=new_job_id(),
        owner=owner,
        status=QUEUED,
        source_name=filename,
        source_format=info.format.lower(),
        source_width=info.width,
        source_height=info.height,
        source_bytes=len(data),
        request_id=request_id or logs.current_request_id(),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        options=recipe.options.model_dump(),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.job_ttl_seconds),
    )
    job.source_key = source_key(job.id)
    if webhook is not None:
        job.webhook_url, job.webhook_secret = webhook.url, webhook.secret
        job.webhook_base_url = webhook.base_url
    for position, steps in enumerate(recipe.outputs):
        output = Output(position=position, status=QUEUED)
        output.steps = [
            Step(position=i, op=s.op, params=s.params, queue=s.queue, status=QUEUED, progress=0)
            for i, s in enumerate(steps)
        ]
        output.steps[0].enqueued_at = now  # enqueued right after the commit
        job.outputs.append(output)
    storage = get_storage(current_app)
    storage.put(job.source_key, data, "application/octet-stream")
    db.session.add(job)
    try:
        db.session.commit()
    except IntegrityError:
        # Another request with the same idempotency key won the race: drop our copy.
        db.session.rollback()
        storage.delete_prefix(f"jobs/{job.id}/")
        raise
    metrics.record_job_submitted(len(data))
    log.info("job submitted", extra={"job_id": job.id, "outputs": len(job.outputs)})
    enqueue_committed([output.steps[0] for output in job.outputs])
    return job


def release_idempotency_key(job: Job) -> None:
    """Free the key of an expired job, so a new request may use it (keys expire with jobs)."""
    job.idempotency_key = job.request_hash = None
    db.session.commit()


def expire(job: Job) -> None:
    """Mark ``job`` expired once its files are deleted; the row stays so history shows it."""
    job.status = EXPIRED
    job.finished_at = job.finished_at or utcnow()
    for output in job.outputs:
        output.result_key = None  # nothing left to sign a download link for
    db.session.commit()
    hotcache.get_cache().forget("job", job.id)


def delete(job: Job) -> None:
    get_storage(current_app).delete_prefix(f"jobs/{job.id}/")
    db.session.delete(job)
    db.session.commit()
    hotcache.get_cache().forget("job", job.id)
