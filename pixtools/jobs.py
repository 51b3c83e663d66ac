"""Every change of a job's state happens here, and nowhere else.

Rows are committed before anything is enqueued, and workers receive ids only, so the
database is always the truth about a job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import case, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from . import events, hotcache, logs, metrics, queues
from .db import db
from .errors import Conflict, NotFound
from .imaging import ImageInfo
from .models import (
    EXPIRED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    DeadLetter,
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

log = logging.getLogger(__name__)


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
        output.steps[0].enqueued_at = now  # enqueued right after the commit (see _enqueue)
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
    _enqueue([output.steps[0] for output in job.outputs])
    return job


def release_idempotency_key(job: Job) -> None:
    """Free the key of an expired job, so a new request may use it (keys expire with jobs)."""
    job.idempotency_key = job.request_hash = None
    db.session.commit()


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
    """The step with its output and job, in one query (a task needs all three)."""
    return db.session.get(Step, step_id,
                          options=[joinedload(Step.output).joinedload(Output.job)])


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=current_app.extensions["pixtools.settings"].lease_seconds)


def claim_step(step_id: int) -> Step | None:
    """Take a queued step for this worker; None if it is not queued (a duplicate delivery)."""
    now = utcnow()
    # Conditional, so that of two deliveries of one step only one runs it; RETURNING
    # refreshes the loaded row in the same round trip.
    step = db.session.scalars(
        update(Step).where(Step.id == step_id, Step.status == QUEUED).values(
            status=RUNNING, attempts=Step.attempts + 1, lease_expires_at=_lease_until(now),
            started_at=now, finished_at=None, progress=0, error=None,
        ).returning(Step),
        execution_options={"populate_existing": True},
    ).one_or_none()
    if step is None:
        db.session.commit()
        return None
    _mark_running(step)
    db.session.commit()
    return step


def start_step(step: Step) -> None:
    """Start the next step of a task that already holds the previous one."""
    now = utcnow()
    step.status, step.progress, step.started_at, step.error = RUNNING, 0, now, None
    step.attempts += 1
    step.lease_expires_at = _lease_until(now)
    _mark_running(step)
    db.session.commit()


def _mark_running(step: Step) -> None:
    step.output.status = RUNNING
    if step.output.job.status == QUEUED:
        step.output.job.status = RUNNING


def renew_lease(step_id: int, attempt: int) -> bool:
    """Extend the lease of a running step; False when this attempt no longer holds the step."""
    renewed = _update(Step, [Step.id == step_id, Step.status == RUNNING,
                             Step.attempts == attempt], lease_expires_at=_lease_until(utcnow()))
    if renewed:
        db.session.commit()
        return True
    row = db.session.execute(
        select(Step.status, Step.attempts).where(Step.id == step_id)
    ).one_or_none()
    db.session.commit()
    # Finished by this very attempt a moment ago is fine; requeued, retried or deleted is not.
    return row is not None and row.status == SUCCEEDED and row.attempts == attempt


def report_progress(step_id: int, fraction: float) -> None:
    percent = max(0, min(99, int(fraction * 100)))
    db.session.execute(update(Step).where(Step.id == step_id).values(progress=percent))
    db.session.commit()


def finish_step(step: Step, *, commit: bool = True) -> None:
    """``commit=False`` when the next commit follows at once (the next step's start, the
    output's result): it records both."""
    step.status, step.progress, step.finished_at = SUCCEEDED, 100, utcnow()
    step.lease_expires_at = None
    if commit:
        db.session.commit()


def hand_over(step: Step, next_step: Step) -> None:
    """``step`` is done and its image stored for ``next_step``: queue that on its own queue."""
    next_step.enqueued_at = utcnow()
    finish_step(step)
    _enqueue([next_step])


def finish_output(output: Output, *, key: str, fmt: str, size: tuple[int, int], nbytes: int,
                  details: dict[str, Any] | None = None) -> None:
    now = utcnow()
    # The last step stays running (leased) until its result is stored; it ends here.
    for step in output.steps:
        if step.status == RUNNING:
            step.status, step.progress, step.finished_at = SUCCEEDED, 100, now
            step.lease_expires_at = None
    output.status, output.result_key, output.format = SUCCEEDED, key, fmt
    output.width, output.height = size
    output.bytes = nbytes
    output.details = details
    db.session.commit()
    metrics.record_output_stored(nbytes)
    _finish_job_if_done(output.job_id)


def fail_step(step: Step, reason: str, *, dead_letter: bool = False,
              trace: str | None = None) -> None:
    """Mark the step, its output and (once all outputs end) its job failed with ``reason``;
    ``dead_letter`` records it for operators when the input was not at fault."""
    now = utcnow()
    step.status, step.error, step.finished_at = FAILED, reason, now
    step.lease_expires_at = None
    output = step.output
    for later in output.steps:
        if later.position > step.position and later.status == QUEUED:
            later.status = FAILED
            later.error = "not run: an earlier step failed"
    output.status, output.error = FAILED, f"step {step.position + 1} ({step.op}): {reason}"
    if dead_letter:
        db.session.add(DeadLetter(
            job_id=output.job_id, step_id=step.id, output_position=output.position,
            step_position=step.position, op=step.op, queue=step.queue, error=reason,
            attempts=step.attempts, traceback=trace,
        ))
    db.session.commit()
    _finish_job_if_done(output.job_id)


def _finish_job_if_done(job_id: str) -> bool:
    """Finish the job if all its outputs ended; True only for the one call that did it.

    One conditional UPDATE decides, so that several finalisers (two outputs ending at once,
    the sweeper) finish a job exactly once: it matches only while the job is unfinished and
    none of its outputs is. Each finaliser runs after committing its own output, so the
    last of them sees every output ended; PostgreSQL re-checks the job's status after
    waiting for a competing finaliser's row lock, and SQLite writes one at a time.
    """
    unfinished = exists().where(Output.job_id == job_id, Output.status.not_in(FINISHED))
    failed = exists().where(Output.job_id == job_id, Output.status == FAILED)
    now = utcnow()
    status = db.session.scalars(
        update(Job).where(Job.id == job_id, Job.status.not_in(FINISHED), ~unfinished)
        .values(status=case((failed, FAILED), else_=SUCCEEDED), finished_at=now)
        .returning(Job.status)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if status is None:
        db.session.commit()
        return False
    job = db.session.get(Job, job_id)  # loaded already by the task that got here
    assert job is not None
    set_committed_value(job, "status", status)
    set_committed_value(job, "finished_at", now)
    if job.status == FAILED:
        outputs = db.session.scalars(
            select(Output).where(Output.job_id == job_id).order_by(Output.position),
            execution_options={"populate_existing": True},
        ).all()
        job.error = "; ".join(
            f"output {o.position + 1}: {o.error}" if len(outputs) > 1 else str(o.error)
            for o in outputs if o.status == FAILED
        )
    # Recorded in the same transaction, by the one call that finalised: one event per job.
    delivery = webhook_delivery.create(job)
    db.session.commit()
    events.get_events().announce(job_id)
    metrics.record_job_finished(job.status)
    log.info("job finished", extra={"job_id": job.id, "status": job.status})
    if delivery is not None:
        webhook_delivery.enqueue_safely(delivery.id)
    return True


finalise = _finish_job_if_done


def _enqueue(steps: Iterable[Step]) -> list[int]:
    """Hand committed steps to their queues; returns the ids enqueued.

    Callers commit each step with ``enqueued_at`` already set, which saves a round trip per
    hand-over. One whose queue cannot be reached (Redis down) gets ``enqueued_at`` NULL, and
    the sweeper enqueues it later; so does one lost to a crash between commit and enqueue,
    once the sweeper finds it in neither state nor queue.
    """
    sent, unsent = [], []
    for step in steps:
        try:
            queues.enqueue_step(step)
        except Exception:
            log.warning("could not enqueue step %s on %s; the sweeper will retry",
                        step.id, step.queue, exc_info=True)
            unsent.append(step.id)
        else:
            sent.append(step.id)
    if unsent:
        _update(Step, [Step.id.in_(unsent)], enqueued_at=None)
        db.session.commit()
    return sent


def restart_point(step: Step) -> Step:
    """Where ``step``'s output resumes: the first of its run of steps on one queue (a run
    keeps its image in memory; only hand-overs between queues are stored)."""
    steps = step.output.steps
    index = steps.index(step)
    while index > 0 and steps[index - 1].queue == step.queue:
        index -= 1
    return steps[index]


def requeue_lost(step: Step, *, grace: timedelta) -> Step | None:
    """Put a lost step (lease lapsed, never enqueued, gone from its queue) back in line and
    return the step enqueued. Compare-and-set on the step as the caller saw it: of two
    sweepers one wins, and a step that revived meanwhile (renewed, claimed) is left alone."""
    now = utcnow()
    if step.status == RUNNING:
        seen = _lapsed(step, now)
    elif step.enqueued_at is None:
        seen = [Step.status == QUEUED, Step.enqueued_at.is_(None)]
    else:
        seen = [Step.status == QUEUED, Step.enqueued_at < now - grace]
    won = _update(Step, [Step.id == step.id, *seen], status=QUEUED, enqueued_at=now,
                  lease_expires_at=None)
    if won != 1:
        db.session.rollback()
        return None
    db.session.refresh(step)
    restart = restart_point(step)
    steps = step.output.steps
    for redo in steps[steps.index(restart):steps.index(step) + 1]:
        redo.status, redo.progress, redo.error = QUEUED, 0, None
        redo.started_at = redo.finished_at = redo.lease_expires_at = None
        redo.enqueued_at = now if redo is restart else None
    db.session.commit()
    return restart if _enqueue([restart]) else None


def give_up(step: Step) -> bool:
    """Fail a step whose worker vanished on every allowed attempt; False if it revived."""
    won = _update(Step, [Step.id == step.id, *_lapsed(step, utcnow())], lease_expires_at=None)
    if won != 1:
        db.session.rollback()
        return False
    db.session.refresh(step)
    fail_step(step, f"retried {step.attempts - 1} times: the worker running this step stopped "
                    "every time (killed, crashed or out of memory). Try a smaller image, or "
                    "ask the operator to check the workers.", dead_letter=True)
    return True


def retry(job: Job) -> list[Step]:
    """Run a failed job's failed outputs again (operator re-drive); the steps enqueued."""
    if job.status != FAILED:
        raise Conflict(f"Job {job.id} is {job.status}: only failed jobs can be retried.")
    if job.expires_at <= utcnow():
        raise Conflict(f"Job {job.id} has expired and its files may be gone: submit it again.")
    restarts = []
    for output in job.outputs:
        if output.status != FAILED:
            continue
        stuck = next((s for s in output.steps if s.status != SUCCEEDED), output.steps[-1])
        restart = restart_point(stuck)
        for step in output.steps[output.steps.index(restart):]:
            step.status, step.progress, step.error, step.attempts = QUEUED, 0, None, 0
            step.started_at = step.finished_at = step.lease_expires_at = None
            step.enqueued_at = None
        output.status, output.error = QUEUED, None
        restart.enqueued_at = utcnow()
        restarts.append(restart)
    job.status, job.error, job.finished_at = QUEUED, None, None
    _update(DeadLetter, [DeadLetter.job_id == job.id, DeadLetter.retried_at.is_(None)],
            retried_at=utcnow())
    db.session.commit()
    hotcache.get_cache().forget("job", job.id)
    _enqueue(restarts)
    return restarts


def _lapsed(step: Step, now: datetime) -> list[Any]:
    """Conditions: ``step`` is still the attempt the caller saw, and its lease has run out."""
    return [Step.status == RUNNING, Step.attempts == step.attempts,
            Step.lease_expires_at.is_(None) | (Step.lease_expires_at < now)]


def _update(model: Any, where: list[Any], **values: Any) -> int:
    """A conditional UPDATE (not committed); how many rows matched."""
    result = db.session.execute(
        update(model).where(*where).values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def sweep() -> Any:
    """Recover lost work now; the periodic sweeper calls the same (see ``recovery``)."""
    from . import recovery

    return recovery.sweep()


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
