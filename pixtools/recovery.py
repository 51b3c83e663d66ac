"""Nothing accepted is lost: step leases, the sweeper, and dead letters.

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
deterministic and a job is finalised once. State still changes only in ``jobs``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from . import jobs, metrics, queues
from .db import db
from .models import FINISHED, QUEUED, RUNNING, SUCCEEDED, DeadLetter, Job, Output, Step, utcnow

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This worker no longer holds the step (the sweeper gave it to another): stop quietly."""


class LeaseKeeper:
    """Renews the lease of the step a task is running, every quarter of the lease."""

    def __init__(self, app: Flask, step: Step) -> None:
        self._app = app
        self._held = (step.id, step.attempts)
        self._lost = False
        self._stop = threading.Event()
        seconds = app.extensions["pixtools.settings"].lease_seconds
        self._interval = max(0.25, seconds / 4)
        self._thread = threading.Thread(target=self._run, name=f"lease-{step.id}", daemon=True)

    def hold(self, step: Step) -> None:
        """The task moved on to ``step`` (already started, so holding its lease)."""
        self._held = (step.id, step.attempts)

    @property
    def lost(self) -> bool:
        return self._lost

    def check(self) -> None:
        """Raise ``LeaseLost`` before a state change if another worker owns the step now."""
        if self._lost:
            raise LeaseLost(f"step {self._held[0]} was taken over")

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            step_id, attempt = self._held
            try:
                with self._app.app_context():
                    if not jobs.renew_lease(step_id, attempt):
                        log.warning("lease of step %s lost; abandoning it", step_id)
                        self._lost = True
                        return
            except Exception:
                # The database may be briefly unreachable: keep trying until the lease lapses.
                log.warning("could not renew the lease of step %s", step_id, exc_info=True)


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
            if jobs.finalise(job.id):
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
                if jobs.give_up(step):
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
        restart = jobs.requeue_lost(step, grace=self.grace)
        if restart is not None:
            self.report.requeued.append(restart.id)

    def waiting(self, queue: str) -> set[int] | None:
        if queue not in self._pending:
            self._pending[queue] = _pending_step_ids(queue)
        return self._pending[queue]


def _pending_step_ids(queue: str) -> set[int] | None:
    """Ids of the steps waiting in ``queue``, or None when the queue cannot be read."""
    try:
        tasks = queues.get_queues().by_name(queue).pending()
    except Exception:
        log.warning("cannot read queue %s; will look again at the next sweep", queue,
                    exc_info=True)
        return None
    return {int(t.args[0]) for t in tasks if t.name == "run_steps" and t.args}


class SweepTicker:
    """Sweeps every ``sweep_interval_seconds`` from a thread of the one consumer that runs
    periodic tasks. Sweeping here, not through the queue, keeps recovery timely behind a
    long queue and while the queue's Redis is down or came back without its data."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._interval = app.extensions["pixtools.settings"].sweep_interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._app.app_context():
                    sweep()
            except Exception:
                log.exception("sweep failed; trying again in %s s", self._interval)


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
