"""What the workers record as they run a job: claims, leases, progress, hand-overs, results,
failures, and the one finalisation that ends the job."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import case, exists, select, update
from sqlalchemy.orm.attributes import set_committed_value

from .. import events, metrics
from ..db import db
from ..models import DeadLetter, Job, Output, Step, utcnow
from ..models.state import FAILED, FINISHED, QUEUED, RUNNING, SUCCEEDED, move, sources
from ..webhooks import outbox
from .rows import enqueue_committed, update_where

log = logging.getLogger(__name__)


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=current_app.extensions["pixtools.settings"].lease_seconds)


class LeaseLost(Exception):
    """This worker no longer holds the step (the sweeper gave it to another): stop quietly."""


def _fence(step: Step, attempt: int | None = None) -> None:
    """Let a step's final write through only while this worker still holds its claim: a
    conditional UPDATE on the claim (running, this attempt), like the claim itself. Its row
    lock is held until the write commits, so no other worker can claim the step between.
    ``attempt`` is the one the worker claimed (after a rollback the row in hand shows the
    database's, which may be another worker's)."""
    attempt = step.attempts if attempt is None else attempt
    held = update_where(Step, [Step.id == step.id, Step.status == RUNNING,
                               Step.attempts == attempt], lease_expires_at=None)
    if held != 1:
        db.session.rollback()
        raise LeaseLost(f"step {step.id}: attempt {attempt} no longer holds it; its final "
                        "write is refused")


# A delivered task may start its step only from these (the table allows queued → running).
_claimable = tuple(sources("step", RUNNING) - {RUNNING})


def claim_step(step_id: int) -> Step | None:
    """Take a queued step for this worker; None if it is not queued (a duplicate delivery)."""
    now = utcnow()
    # Conditional, so that of two deliveries of one step only one runs it; RETURNING
    # refreshes the loaded row in the same round trip.
    step = db.session.scalars(
        update(Step).where(Step.id == step_id, Step.status.in_(_claimable)).values(
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
    move("step", step, RUNNING)
    step.progress, step.started_at, step.error = 0, now, None
    step.attempts += 1
    step.lease_expires_at = _lease_until(now)
    _mark_running(step)
    db.session.commit()


def _mark_running(step: Step) -> None:
    move("output", step.output, RUNNING)
    if step.output.job.status == QUEUED:
        move("job", step.output.job, RUNNING)


def renew_lease(step_id: int, attempt: int) -> bool:
    """Extend the lease of a running step; False when this attempt no longer holds the step."""
    renewed = update_where(Step, [Step.id == step_id, Step.status == RUNNING,
                                  Step.attempts == attempt],
                           lease_expires_at=_lease_until(utcnow()))
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
    _fence(step)
    move("step", step, SUCCEEDED)
    step.progress, step.finished_at = 100, utcnow()
    step.lease_expires_at = None
    if commit:
        db.session.commit()


def hand_over(step: Step, next_step: Step) -> None:
    """``step`` is done and its image stored for ``next_step``: queue that on its own queue."""
    next_step.enqueued_at = utcnow()
    finish_step(step)
    enqueue_committed([next_step])


def finish_output(output: Output, *, key: str, fmt: str, size: tuple[int, int], nbytes: int,
                  details: dict[str, Any] | None = None, attempt: int | None = None) -> None:
    now = utcnow()
    running = [step for step in output.steps if step.status == RUNNING]
    for step in running:  # refused (LeaseLost) when another worker holds the step now
        _fence(step, attempt)
    # The last step stays running (leased) until its result is stored; it ends here.
    for step in running:
        if step.status == RUNNING:
            move("step", step, SUCCEEDED)
            step.progress, step.finished_at = 100, now
            step.lease_expires_at = None
    move("output", output, SUCCEEDED)
    output.result_key, output.format = key, fmt
    output.width, output.height = size
    output.bytes = nbytes
    output.details = details
    db.session.commit()
    metrics.record_output_stored(nbytes)
    finalise(output.job_id)


def fail_step(step: Step, reason: str, *, dead_letter: bool = False,
              trace: str | None = None, attempt: int | None = None,
              detail: str | None = None) -> None:
    """Mark the step, its output and (once all outputs end) its job failed with ``reason``;
    ``dead_letter`` records it for operators when the input was not at fault, with
    ``detail`` (what users are not shown: a bucket, an endpoint) as its error."""
    now = utcnow()
    if step.status == RUNNING:
        _fence(step, attempt)
    move("step", step, FAILED)
    step.error, step.finished_at = reason, now
    step.lease_expires_at = None
    output = step.output
    for later in output.steps:
        if later.position > step.position and later.status == QUEUED:
            move("step", later, FAILED)
            later.error = "not run: an earlier step failed"
    move("output", output, FAILED)
    output.error = f"step {step.position + 1} ({step.op}): {reason}"
    if dead_letter:
        db.session.add(DeadLetter(
            job_id=output.job_id, step_id=step.id, output_position=output.position,
            step_position=step.position, op=step.op, queue=step.queue,
            error=detail or reason,
            attempts=step.attempts, traceback=trace,
        ))
    db.session.commit()
    finalise(output.job_id)


# A job may end (succeed or fail) only from these, as the transition table says.
_finalisable = tuple(sources("job", SUCCEEDED) & sources("job", FAILED))


def finalise(job_id: str) -> bool:
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
        update(Job).where(Job.id == job_id, Job.status.in_(_finalisable), ~unfinished)
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
    delivery = outbox.record(job)
    db.session.commit()
    events.get_events().announce(job_id)
    metrics.record_job_finished(job.status)
    log.info("job finished", extra={"job_id": job.id, "status": job.status})
    if delivery is not None:
        outbox.send_after_commit(delivery.id)
    return True


