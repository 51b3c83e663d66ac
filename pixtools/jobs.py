"""Every change of a job's state happens here, and nowhere else.

Rows are committed before anything is enqueued, and workers receive ids only, so the
database is always the truth about a job.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from . import queues
from .db import db
from .errors import NotFound
from .imaging import ImageInfo
from .models import (
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
    Output,
    Step,
    new_job_id,
    utcnow,
)
from .recipe import Recipe
from .storage import get_storage
from .webhooks import delivery as webhook_delivery

if TYPE_CHECKING:
    from .webhooks.targets import WebhookRequest


def source_key(job_id: str) -> str:
    return f"jobs/{job_id}/source"


def result_key(job_id: str, position: int, extension: str) -> str:
    # Deterministic: a retried output overwrites its earlier result.
    return f"jobs/{job_id}/outputs/{position}/result.{extension}"


def handoff_key(job_id: str, position: int, step_position: int) -> str:
    return f"jobs/{job_id}/outputs/{position}/after-step-{step_position}.png"


def submit(
    *,
    owner: str,
    data: bytes,
    filename: str,
    info: ImageInfo,
    recipe: Recipe,
    request_id: str | None = None,
    webhook: WebhookRequest | None = None,
) -> Job:
    """Store the upload, record the job, commit, then enqueue its first steps."""
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
        request_id=request_id,
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
        job.outputs.append(output)
    get_storage(current_app).put(job.source_key, data, "application/octet-stream")
    db.session.add(job)
    db.session.commit()
    for output in job.outputs:
        queues.enqueue_step(output.steps[0])
    return job


def get_for_owner(job_id: str, owner: str) -> Job:
    """The job if ``owner`` owns it; otherwise 404, so ids of others' jobs reveal nothing."""
    # One query for the job, its outputs and their steps (a status request needs them all),
    # always read afresh: rows this session wrote earlier may have changed since.
    job = db.session.get(Job, job_id, populate_existing=True,
                         options=[joinedload(Job.outputs).joinedload(Output.steps)])
    if job is None or job.owner != owner:
        raise NotFound(f"No job {job_id!r}: check the id, or it may have expired.")
    return job


def list_for_owner(owner: str, *, limit: int) -> list[Job]:
    """The owner's jobs, newest first (deleted jobs are gone from the table)."""
    query = (
        select(Job)
        .where(Job.owner == owner)
        .order_by(Job.created_at.desc(), Job.id)
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def load_step(step_id: int) -> Step | None:
    return db.session.get(Step, step_id)


def start_step(step: Step) -> None:
    now = utcnow()
    step.status, step.progress, step.started_at, step.error = RUNNING, 0, now, None
    step.output.status = RUNNING
    if step.output.job.status == QUEUED:
        step.output.job.status = RUNNING
    db.session.commit()


def report_progress(step_id: int, fraction: float) -> None:
    percent = max(0, min(99, int(fraction * 100)))
    db.session.execute(update(Step).where(Step.id == step_id).values(progress=percent))
    db.session.commit()


def finish_step(step: Step, *, commit: bool = True) -> None:
    """``commit=False`` when the next commit follows at once (the next step's start, the
    output's result): it records both."""
    step.status, step.progress, step.finished_at = SUCCEEDED, 100, utcnow()
    if commit:
        db.session.commit()


def finish_output(output: Output, *, key: str, fmt: str, size: tuple[int, int], nbytes: int,
                  details: dict[str, Any] | None = None) -> None:
    output.status, output.result_key, output.format = SUCCEEDED, key, fmt
    output.width, output.height = size
    output.bytes = nbytes
    output.details = details
    db.session.commit()
    _finish_job_if_done(output.job_id)


def fail_step(step: Step, reason: str) -> None:
    """Mark the step, its output and (once all outputs end) its job failed with ``reason``."""
    now = utcnow()
    step.status, step.error, step.finished_at = FAILED, reason, now
    output = step.output
    for later in output.steps:
        if later.position > step.position and later.status == QUEUED:
            later.status = FAILED
            later.error = "not run: an earlier step failed"
    output.status, output.error = FAILED, f"step {step.position + 1} ({step.op}): {reason}"
    db.session.commit()
    _finish_job_if_done(output.job_id)


def _finish_job_if_done(job_id: str) -> None:
    # Lock the job row so that two outputs finishing at once finalise it exactly once.
    db.session.expire_all()
    job = db.session.execute(
        select(Job).where(Job.id == job_id).with_for_update()
    ).scalar_one()
    # Loaded with the job, under its lock (Job.outputs is selectin-loaded).
    outputs = sorted(job.outputs, key=lambda o: o.position)
    if job.status in FINISHED or any(o.status not in FINISHED for o in outputs):
        db.session.commit()
        return
    failed = [o for o in outputs if o.status == FAILED]
    job.status = FAILED if failed else SUCCEEDED
    if failed:
        job.error = "; ".join(
            f"output {o.position + 1}: {o.error}" if len(outputs) > 1 else str(o.error)
            for o in failed
        )
    job.finished_at = utcnow()
    # Recorded in the same transaction, under the same lock: exactly one event per job.
    delivery = webhook_delivery.create(job)
    db.session.commit()
    if delivery is not None:
        webhook_delivery.enqueue_safely(delivery.id)


def delete(job: Job) -> None:
    get_storage(current_app).delete_prefix(f"jobs/{job.id}/")
    db.session.delete(job)
    db.session.commit()
