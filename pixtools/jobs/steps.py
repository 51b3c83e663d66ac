"""What the workers record as they run a job: claims, leases, progress, hand-overs, results,
failures, and the one finalisation that ends the job."""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, case, exists, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import Update

from .. import events, metrics
from ..db import db
from ..models import DeadLetter, Job, Output, Step, utcnow
from ..models.state import (
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    IllegalTransition,
    sources,
)
from ..webhooks import outbox
from .rows import enqueue_committed, load_step
from .writes import write

log = logging.getLogger(__name__)


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=current_app.extensions["pixtools.settings"].lease_seconds)


class LeaseLost(Exception):
    """This worker no longer holds the step (the sweeper gave it to another): stop quietly."""


def _held(step: Step, attempt: int | None) -> int:
    """The attempt that fences a final write: the one this worker claimed (after a rollback
    the row in hand shows the database's, which may be another worker's). The write's row
    lock is held until it commits, so no other worker can claim the step between."""
    return step.attempts if attempt is None else attempt


def _refused(step: Step, attempt: int | None) -> LeaseLost:
    # Named before the rollback, which reloads the row with the new holder's attempt.
    lost = LeaseLost(f"step {step.id}: attempt {attempt or step.attempts} no longer holds "
                     "it; its final write is refused")
    db.session.rollback()
    return lost


@functools.cache
def _claim_statement() -> Update:
    """Built once (see ``writes``). Conditional, so that of two deliveries of one step only
    one runs it: a delivered task may start its step only from a status the table allows to
    move to running, other than running itself, and only while its job has not ended (an
    expired job's queued steps are left alone)."""
    steps, outputs, jobs = Step.__table__.c, Output.__table__.c, Job.__table__.c
    claimable = sorted(sources("step", RUNNING) - {RUNNING})
    job_ended = exists().where(outputs.id == steps.output_id, jobs.id == outputs.job_id,
                               or_(*(jobs.status == s for s in sorted(FINISHED))))
    return (
        update(Step.__table__)
        .where(steps.id == bindparam("step_id"), or_(*(steps.status == s for s in claimable)),
               ~job_ended)
        .values(status=RUNNING, attempts=steps.attempts + 1, finished_at=None, progress=0,
                error=None, started_at=bindparam("now", type_=steps.started_at.type),
                lease_expires_at=bindparam("until", type_=steps.lease_expires_at.type))
        .returning(steps.attempts)
    )


def claim_step(step_id: int) -> Step | None:
    """Take a queued step for this worker, loaded with its job (``load_step``); None if it
    is not queued (a duplicate delivery) or its job has ended."""
    now = utcnow()
    started = dict(status=RUNNING, lease_expires_at=_lease_until(now), started_at=now,
                   finished_at=None, progress=0, error=None)
    attempts = db.session.execute(
        _claim_statement(), {"step_id": step_id, "now": now, "until": started["lease_expires_at"]}
    ).scalar_one_or_none()
    step = load_step(step_id) if attempts is not None else None
    if step is None:
        db.session.commit()
        return None
    for name, value in dict(started, attempts=attempts).items():
        set_committed_value(step, name, value)
    _mark_running(step)
    db.session.commit()
    return step


def start_step(step: Step) -> None:
    """Start the next step of a task that already holds the previous one."""
    now = utcnow()
    if not write(step, move=("step", RUNNING), progress=0, started_at=now, error=None,
                 attempts=step.attempts + 1, lease_expires_at=_lease_until(now)):
        raise _refused(step, None)
    _mark_running(step)
    db.session.commit()


def _mark_running(step: Step) -> None:
    if step.output.status != RUNNING:
        write(step.output, move=("output", RUNNING))
    if step.output.job.status == QUEUED:
        write(step.output.job, move=("job", RUNNING))


def renew_lease(step_id: int, attempt: int) -> bool:
    """Extend the lease of a running step; False when this attempt no longer holds the step."""
    table = Step.__table__
    renewed = db.session.execute(
        update(table).where(table.c.id == step_id, table.c.status == RUNNING,
                            table.c.attempts == attempt)
        .values(lease_expires_at=_lease_until(utcnow()))
    ).rowcount  # type: ignore[attr-defined]
    if renewed:
        db.session.commit()
        return True
    row = db.session.execute(
        select(table.c.status, table.c.attempts).where(table.c.id == step_id)
    ).one_or_none()
    db.session.commit()
    # Finished by this very attempt a moment ago is fine; requeued, retried or deleted is not.
    return row is not None and row.status == SUCCEEDED and row.attempts == attempt


def report_progress(step_id: int, fraction: float) -> None:
    percent = max(0, min(99, int(fraction * 100)))
    table = Step.__table__
    db.session.execute(update(table).where(table.c.id == step_id).values(progress=percent))
    db.session.commit()


def _finish(step: Step, attempt: int | None, now: datetime) -> None:
    """The step's end and its fence in one statement; ``LeaseLost`` if the claim is gone."""
    if not write(step, move=("step", SUCCEEDED), held_by=_held(step, attempt), progress=100,
                 finished_at=now, lease_expires_at=None):
        raise _refused(step, attempt)


def finish_step(step: Step, *, commit: bool = True) -> None:
    """``commit=False`` when the next commit follows at once (the next step's start, the
    output's result): it records both."""
    _finish(step, None, utcnow())
    if commit:
        db.session.commit()


def hand_over(step: Step, next_step: Step) -> None:
    """``step`` is done and its image stored for ``next_step``: queue that on its own queue."""
    write(next_step, enqueued_at=utcnow())
    finish_step(step)
    enqueue_committed([next_step])


def finish_output(output: Output, *, key: str, fmt: str, size: tuple[int, int], nbytes: int,
                  details: dict[str, Any] | None = None, attempt: int | None = None) -> None:
    """Store the output's result and, if it was the job's last to end, finalise the job: one
    transaction. With several outputs the job's row is locked first, so that of two outputs
    ending at once the second to commit sees the first ended (see ``finalise``)."""
    now = utcnow()
    if len(output.job.outputs) > 1:
        db.session.execute(select(Job.__table__.c.id).where(Job.__table__.c.id == output.job_id)
                           .with_for_update())
    # The last step stays running (leased) until its result is stored; it ends here, and
    # any step another worker holds now refuses the write (LeaseLost).
    for step in [s for s in output.steps if s.status == RUNNING]:
        _finish(step, attempt, now)
    if not write(output, move=("output", SUCCEEDED), result_key=key, format=fmt,
                 width=size[0], height=size[1], bytes=nbytes, details=details):
        db.session.rollback()
        raise LeaseLost(f"output {output.id} is no longer running; its result is not recorded")
    finalise(output.job_id)  # commits, whether or not the job ended
    metrics.record_output_stored(nbytes)


def fail_step(step: Step, reason: str, *, dead_letter: bool = False,
              trace: str | None = None, attempt: int | None = None,
              detail: str | None = None) -> None:
    """Mark the step, its output and (once all outputs end) its job failed with ``reason``;
    ``dead_letter`` records it for operators when the input was not at fault, with
    ``detail`` (what users are not shown: a bucket, an endpoint) as its error."""
    now = utcnow()
    ended: dict[str, Any] = {"error": reason, "finished_at": now, "lease_expires_at": None}
    if step.status == RUNNING:
        if not write(step, move=("step", FAILED), held_by=_held(step, attempt), **ended):
            raise _refused(step, attempt)
    elif step.status != FAILED and not write(step, move=("step", FAILED), **ended):
        raise IllegalTransition(f"step {step.id}: {step.status} → failed is not an allowed move")
    output = step.output
    for later in output.steps:
        if later.position > step.position and later.status == QUEUED:
            write(later, move=("step", FAILED), error="not run: an earlier step failed")
    write(output, move=("output", FAILED), error=f"step {step.position + 1} ({step.op}): {reason}")
    if dead_letter:
        db.session.add(DeadLetter(
            job_id=output.job_id, step_id=step.id, output_position=output.position,
            step_position=step.position, op=step.op, queue=step.queue,
            error=detail or reason,
            attempts=step.attempts, traceback=trace,
        ))
    db.session.commit()
    finalise(output.job_id)


@functools.cache
def _finalise_statement() -> Update:
    """Built once (see ``writes``): the job ends, succeeded or failed, only from a status the
    table allows to move to both, and only once none of its outputs is unfinished."""
    outputs, jobs = Output.__table__.c, Job.__table__.c
    job_id: Any = bindparam("job_id")
    unfinished = exists().where(outputs.job_id == job_id, outputs.status.not_in(FINISHED))
    failed = exists().where(outputs.job_id == job_id, outputs.status == FAILED)
    finalisable = sorted(sources("job", SUCCEEDED) & sources("job", FAILED))
    return (
        update(Job.__table__)
        .where(jobs.id == job_id, or_(*(jobs.status == s for s in finalisable)), ~unfinished)
        .values(status=case((failed, FAILED), else_=SUCCEEDED),
                finished_at=bindparam("now", type_=jobs.finished_at.type))
        .returning(jobs.status)
    )


def finalise(job_id: str) -> bool:
    """Finish the job if all its outputs ended; True only for the one call that did it.

    One conditional UPDATE decides, so that several finalisers (two outputs ending at once,
    the sweeper) finish a job exactly once: it matches only while the job is unfinished and
    none of its outputs is. A failed output is committed before its finaliser runs; a
    stored result is recorded in the finaliser's own transaction, which first locks the
    job's row when the job has other outputs. Either way the last output to end sees every
    other one ended: PostgreSQL re-checks the job's status after waiting for a competing
    finaliser's row lock, and SQLite writes one at a time. Commits in every case.
    """
    now = utcnow()
    status = db.session.execute(
        _finalise_statement(), {"job_id": job_id, "now": now}).scalar_one_or_none()
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


