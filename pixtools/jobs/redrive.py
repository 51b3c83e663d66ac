"""Putting lost or failed work back in line: the sweeper's requeues and give-ups, and an
operator's retry of a failed job."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .. import clock, hotcache
from ..db import db
from ..errors import Conflict
from ..models import DeadLetter, Job, Step, utcnow
from ..models.state import FAILED, QUEUED, RUNNING, SUCCEEDED, move
from .rows import enqueue_committed, update_where
from .steps import fail_step


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
    won = update_where(Step, [Step.id == step.id, *seen], status=QUEUED, enqueued_at=now,
                       lease_expires_at=None)
    if won != 1:
        db.session.rollback()
        return None
    db.session.refresh(step)
    restart = restart_point(step)
    steps = step.output.steps
    for redo in steps[steps.index(restart):steps.index(step) + 1]:
        move("step", redo, QUEUED)
        redo.progress, redo.error = 0, None
        redo.started_at = redo.finished_at = redo.lease_expires_at = None
        redo.enqueued_at = now if redo is restart else None
    db.session.commit()
    return restart if enqueue_committed([restart]) else None


def give_up(step: Step) -> bool:
    """Fail a step whose worker vanished on every allowed attempt; False if it revived."""
    won = update_where(Step, [Step.id == step.id, *_lapsed(step, utcnow())], lease_expires_at=None)
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
    if clock.is_expired(job):
        raise Conflict(f"Job {job.id} has expired and its files may be gone: submit it again.")
    restarts = []
    for output in job.outputs:
        if output.status != FAILED:
            continue
        stuck = next((s for s in output.steps if s.status != SUCCEEDED), output.steps[-1])
        restart = restart_point(stuck)
        for step in output.steps[output.steps.index(restart):]:
            move("step", step, QUEUED)
            step.progress, step.error, step.attempts = 0, None, 0
            step.started_at = step.finished_at = step.lease_expires_at = None
            step.enqueued_at = None
        move("output", output, QUEUED)
        output.error = None
        restart.enqueued_at = utcnow()
        restarts.append(restart)
    move("job", job, QUEUED)
    job.error, job.finished_at = None, None
    update_where(DeadLetter, [DeadLetter.job_id == job.id, DeadLetter.retried_at.is_(None)],
                 retried_at=utcnow())
    db.session.commit()
    hotcache.get_cache().forget("job", job.id)
    enqueue_committed(restarts)
    return restarts


def _lapsed(step: Step, now: datetime) -> list[Any]:
    """Conditions: ``step`` is still the attempt the caller saw, and its lease has run out."""
    return [Step.status == RUNNING, Step.attempts == step.attempts,
            Step.lease_expires_at.is_(None) | (Step.lease_expires_at < now)]
