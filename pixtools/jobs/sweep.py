"""Nothing accepted is lost: the sweeper, and dead letters.

Huey removes a task from its queue when a worker takes it and never acknowledges it, so a
worker killed mid-task (OOM, SIGKILL, a scale-in) loses the task. The database is the
truth instead: a running step holds a lease its worker renews from a background thread
(``LeaseKeeper``), and the sweeper, a periodic task, finds work that nobody holds:

- a running step whose lease lapsed: put back in line (from the first step of its run on
  that queue), or failed with "retried N times" after ``step_max_attempts`` starts;
- a queued step that never reached its queue (the queue was down at submit or hand-over);
- a queued step that is no longer in its queue (taken by a worker that died before
  claiming it, or lost with Redis's data);
- a job whose outputs all ended but that was never finalised.

Running a step twice is harmless: claiming is a conditional UPDATE, result keys are
deterministic and a job is finalised once. State still changes only in this package.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from .. import metrics, queues
from ..db import db
from ..models import DeadLetter, Job, Output, utcnow
from ..models.state import FINISHED, QUEUED, RUNNING, SUCCEEDED
from .redrive import give_up, requeue_lost
from .steps import finalise

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)  # step ids put back in line
    failed: list[int] = field(default_factory=list)  # step ids given up after max attempts
    finalised: list[str] = field(default_factory=list)  # job ids finished late

    def __bool__(self) -> bool:
        return bool(self.requeued or self.failed or self.finalised)


def sweep() -> SweepReport:
    """Find every unfinished job's lost work and recover it (see the module docstring)."""
    settings = current_app.extensions["pixtools.settings"]
    sweeper = _Sweep(timedelta(seconds=settings.lease_seconds), settings.step_max_attempts)
    unfinished = db.session.execute(
        select(Job).where(Job.status.not_in(FINISHED)).order_by(Job.created_at)
    ).scalars().all()
    for job in unfinished:
        try:
            sweeper.job(job)
        except Exception:
            # One odd job (deleted meanwhile, say) must not stop the others' recovery.
            db.session.rollback()
            log.exception("sweeping job %s failed", job.id)
    report = sweeper.report
    if report.requeued:
        metrics.record_sweeper_recovery(len(report.requeued))
    if report:
        log.warning("sweeper recovered work: requeued steps %s, failed steps %s, "
                    "finalised jobs %s", report.requeued, report.failed, report.finalised)
    return report


class _Sweep:
    def __init__(self, grace: timedelta, max_attempts: int) -> None:
        self.grace, self.max_attempts = grace, max_attempts
        self.report = SweepReport()
        self._pending: dict[str, set[int] | None] = {}  # queue contents, read once a sweep

    def job(self, job: Job) -> None:
        if job.status in FINISHED:
            return
        if all(o.status in FINISHED for o in job.outputs):
            if finalise(job.id):
                self.report.finalised.append(job.id)
            return
        for output in job.outputs:
            if output.status not in FINISHED:
                self.output(output)

    def output(self, output: Output) -> None:
        now = utcnow()
        steps = output.steps
        step = next((s for s in steps if s.status != SUCCEEDED), None)
        if step is None or step.status not in (QUEUED, RUNNING):
            return
        if step.status == RUNNING:
            if step.lease_expires_at is not None and step.lease_expires_at > now:
                return  # held by a live worker
            if step.attempts >= self.max_attempts:
                if give_up(step):
                    self.report.failed.append(step.id)
                return
        elif step.enqueued_at is None:
            index = steps.index(step)
            ready: datetime | None = (
                steps[index - 1].finished_at if index else output.job.created_at
            )
            if ready is not None and ready > now - self.grace:
                return  # its submitter or previous step may be enqueueing it right now
        elif step.enqueued_at > now - self.grace:
            return
        waiting = self.waiting(step.queue)
        if waiting is None:
            return  # the queue cannot be reached: try again at the next sweep
        if step.status == QUEUED and step.id in waiting:
            return  # in its queue, waiting its turn
        restart = requeue_lost(step, grace=self.grace)
        if restart is not None:
            self.report.requeued.append(restart.id)

    def waiting(self, queue: str) -> set[int] | None:
        if queue not in self._pending:
            self._pending[queue] = _pending_step_ids(queue)
        return self._pending[queue]


def _pending_step_ids(queue: str) -> set[int] | None:
    """Ids of the steps waiting in ``queue``, or None when the queue cannot be read."""
    try:
        return queues.pending_step_ids(queue)
    except Exception:
        log.warning("cannot read queue %s; will look again at the next sweep", queue,
                    exc_info=True)
        return None


def dead_letters(*, include_retried: bool = False, limit: int = 50) -> list[DeadLetter]:
    """The most recent dead letters, newest first."""
    query = select(DeadLetter).order_by(DeadLetter.created_at.desc(), DeadLetter.id.desc())
    if not include_retried:
        query = query.where(DeadLetter.retried_at.is_(None))
    return list(db.session.execute(query.limit(limit)).scalars())


def describe(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "job_id": letter.job_id,
        "output": letter.output_position + 1,
        "step": letter.step_position + 1,
        "op": letter.op,
        "queue": letter.queue,
        "attempts": letter.attempts,
        "error": letter.error,
        "failed_at": letter.created_at.isoformat(),
        "retried_at": letter.retried_at.isoformat() if letter.retried_at else None,
    }
