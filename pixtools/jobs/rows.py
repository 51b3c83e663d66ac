"""Reading jobs and steps, and the two primitives every state change uses: a conditional
UPDATE (``update_where``) and enqueueing committed steps (``enqueue_committed``)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import joinedload

from .. import queues
from ..db import db
from ..errors import NotFound
from ..models import Job, Output, Step

log = logging.getLogger(__name__)


# A job's objects sit side by side in its folder: in local storage every folder is a
# directory to make, and making one on ext4 here cost 0.07 ms on an idle disk and 0.8 ms on
# a busy one. Jobs stored under the earlier ``outputs/<n>/`` keys keep them (the key is
# recorded with each output) and are read and deleted as before.


def source_key(job_id: str) -> str:
    return f"jobs/{job_id}/source"


def result_key(job_id: str, position: int, extension: str) -> str:
    # Deterministic: a retried output overwrites its earlier result.
    return f"jobs/{job_id}/output-{position}.{extension}"


def handoff_key(job_id: str, position: int, step_position: int) -> str:
    return f"jobs/{job_id}/output-{position}-after-step-{step_position}.png"


def get_for_owner(job_id: str, owner: str) -> Job:
    """The job if ``owner`` owns it; otherwise 404, so ids of others' jobs reveal nothing."""
    # One query for the job, its outputs and their steps (a status request needs them all),
    # always read afresh: rows this session wrote earlier may have changed since.
    job = db.session.get(Job, job_id, populate_existing=True,
                         options=[joinedload(Job.outputs).joinedload(Output.steps)])
    if job is None or job.owner != owner:
        raise NotFound(f"No job {job_id!r}: check the id, or it may have expired.")
    return job


def status_for_owner(job_id: str, owner: str) -> str | None:
    """Only the job's status (None: no such job of ``owner``'s), without loading its rows:
    the cheap question a waiting request asks until the answer is worth reading."""
    status: str | None = db.session.execute(
        select(Job.status).where(Job.id == job_id, Job.owner == owner)
    ).scalar_one_or_none()
    return status


def list_for_owner(owner: str, *, limit: int) -> list[Job]:
    """The owner's jobs, newest first (deleted jobs are gone from the table)."""
    query = (
        select(Job)
        .where(Job.owner == owner)
        .order_by(Job.created_at.desc(), Job.id)
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def batch_for_owner(owner: str, request_id: str) -> list[Job]:
    """The owner's jobs made by one request (one upload of many images), oldest first."""
    query = (select(Job).where(Job.owner == owner, Job.request_id == request_id)
             .order_by(Job.created_at, Job.id))
    return list(db.session.execute(query).scalars())


def page_for_owner(owner: str, *, limit: int, statuses: Collection[str] = (),
                   after: tuple[datetime, str] | None = None) -> list[Job]:
    """Up to ``limit`` of the owner's jobs, newest first, optionally of some ``statuses``,
    starting after the job whose (``created_at``, ``id``) is ``after`` (keyset pagination:
    a page stays right while jobs are added or deleted)."""
    query = select(Job).where(Job.owner == owner)
    if statuses:
        query = query.where(Job.status.in_(list(statuses)))
    if after is not None:
        created_at, job_id = after
        query = query.where(or_(Job.created_at < created_at,
                                and_(Job.created_at == created_at, Job.id < job_id)))
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return list(db.session.execute(query).scalars())


@functools.cache
def _whole_job() -> list[Any]:
    # Built once: building loader options costs more than the query's own compiled form.
    job = joinedload(Step.output).joinedload(Output.job)
    return [job, job.joinedload(Job.outputs).joinedload(Output.steps)]


def load_step(step_id: int) -> Step | None:
    """The step with its output, its job and all the job's outputs and steps, in one query
    (a task needs them all: the relationships' own loading would take two more)."""
    return db.session.get(Step, step_id, options=_whole_job())


def update_where(model: Any, where: list[Any], **values: Any) -> int:
    """A conditional UPDATE (not committed); how many rows matched."""
    result = db.session.execute(
        update(model).where(*where).values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def enqueue_committed(steps: Iterable[Step]) -> list[int]:
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
        update_where(Step, [Step.id.in_(unsent)], enqueued_at=None)
        db.session.commit()
    return sent
