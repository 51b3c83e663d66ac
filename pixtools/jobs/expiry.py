"""The end of a job's life: deleted by its owner, or expired and cleaned up.

Expiry itself is enforced when a job is read (``models.state.status_at``, ``refuse_if_expired``):
past ``expires_at`` a job is ``expired`` for every reader at once. ``cleanup`` catches the
rows and files up: it is run by ``pixtools cleanup`` and, every
``PIXTOOLS_CLEANUP_INTERVAL_MINUTES``, by the standard consumer that runs periodic tasks. An
expired job keeps its row (status ``expired``, webhook secret cleared) for
``PIXTOOLS_EXPIRED_RETENTION_HOURS`` so its history card can say so, then the row is
purged; its files are deleted at once. Objects under ``jobs/<id>/`` whose job row is gone,
or already expired, are orphans and are removed.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from .. import clock, hotcache, metrics
from ..db import db
from ..errors import JobExpired
from ..models import Job, utcnow
from ..models.state import EXPIRED, move
from ..storage import Storage, StorageError, get_storage

log = logging.getLogger(__name__)

# An upload is stored moments before its job row is committed: an object without a row is
# an orphan only once it is older than this.
ORPHAN_GRACE = timedelta(hours=1)
_BATCH = 500


@dataclass
class CleanupReport:
    dry_run: bool
    expired_jobs: list[str] = field(default_factory=list)
    expired_objects: int = 0
    purged_jobs: int = 0
    orphan_jobs: list[str] = field(default_factory=list)
    orphan_objects: int = 0
    young_orphans: int = 0
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        would = "Would " if self.dry_run else ""
        verb = ("expire", "remove") if self.dry_run else ("Expired", "Removed")
        lines = [
            f"{would}{verb[0]} {len(self.expired_jobs)} job(s) past their expiry time "
            f"({self.expired_objects} object(s)).",
            f"{would}{verb[1]} {self.orphan_objects} orphan object(s) of "
            f"{len(self.orphan_jobs)} job folder(s) with no live job.",
        ]
        if self.young_orphans:
            lines.append(
                f"Kept {self.young_orphans} job folder(s) without a job row: younger than the "
                "grace period (an upload may be in progress)."
            )
        if self.purged_jobs:
            lines.append(f"{would}{'purge' if self.dry_run else 'Purged'} "
                         f"{self.purged_jobs} expired job row(s) past their retention.")
        if self.dry_run:
            lines.insert(0, "Dry run: nothing was changed.")
        lines.extend(f"Error: {error}" for error in self.errors)
        return lines


def refuse_expired_key(key: str) -> None:
    """Raise ``JobExpired`` when ``key`` (``jobs/<id>/…``) belongs to an expired job: a
    download link is honoured no longer than its job, whatever the link says."""
    parts = key.split("/", 2)
    if len(parts) == 3 and parts[0] == "jobs":
        # The expiry alone: loading the job would load its outputs and steps too, three
        # queries for every download.
        expires_at = db.session.scalar(select(Job.expires_at).where(Job.id == parts[1]))
        if expires_at is not None:
            _refuse_from(expires_at)


def refuse_if_expired(job: Job) -> None:
    """Raise ``JobExpired`` (410) when ``job`` is past its expiry time, cleaned up or not."""
    _refuse_from(job.expires_at)


def _refuse_from(expires_at: datetime) -> None:
    if clock.has_passed(expires_at):
        raise JobExpired(
            f"This job expired at {expires_at:%Y-%m-%d %H:%M} UTC: its results are deleted "
            "and can no longer be downloaded. Submit the image again if you still need them."
        )


def expire(job: Job) -> None:
    """Mark ``job`` expired once its files are deleted; the row stays so history shows it.
    Its webhook secret goes with it: no event of an expired job is signed again."""
    move("job", job, EXPIRED)
    job.finished_at = job.finished_at or utcnow()
    job.webhook_secret = None
    for output in job.outputs:
        output.result_key = None  # nothing left to sign a download link for
    db.session.commit()
    hotcache.get_cache().forget("job", job.id)


def delete(job: Job) -> None:
    """Remove ``job`` and its files (its owner asked)."""
    get_storage(current_app).delete_prefix(f"jobs/{job.id}/")
    db.session.delete(job)
    db.session.commit()
    hotcache.get_cache().forget("job", job.id)


def cleanup(*, dry_run: bool = False, orphan_grace: timedelta = ORPHAN_GRACE,
        now: datetime | None = None) -> CleanupReport:
    """Expire jobs past ``expires_at`` and remove orphan objects (nothing, with ``dry_run``)."""
    storage = get_storage(current_app)
    report = CleanupReport(dry_run=dry_run)
    # Expiry is judged by PixTools' clock (as the page judges it); object ages by the wall clock.
    now = now or clock.now()
    _expire_jobs(storage, report, now)
    _remove_orphans(storage, report, utcnow() - orphan_grace)
    _purge_expired(report, now)
    if not dry_run:
        metrics.record_cleanup(len(report.expired_jobs), report.orphan_objects)
    log.info(
        "cleanup done",
        extra={
            "dry_run": dry_run,
            "expired_jobs": len(report.expired_jobs),
            "expired_objects": report.expired_objects,
            "orphan_objects": report.orphan_objects,
            "errors": len(report.errors),
        },
    )
    return report


def periodic() -> None:
    """The periodic task: a real run with the default grace period."""
    cleanup()


def _expire_jobs(storage: Storage, report: CleanupReport, now: datetime) -> None:
    due = db.session.scalars(
        select(Job.id).where(Job.expires_at <= now, Job.status != EXPIRED)
        .order_by(Job.expires_at)
    ).all()
    for job_id in due:
        prefix = f"jobs/{job_id}/"
        try:
            if report.dry_run:
                report.expired_objects += sum(1 for _ in storage.keys(prefix))
            else:
                report.expired_objects += storage.delete_prefix(prefix)
                job = db.session.get(Job, job_id)
                if job is not None:
                    expire(job)
        except StorageError as exc:
            # The row stays as it is, so the next run tries again.
            report.errors.append(f"job {job_id}: {exc}")
            log.warning("cannot expire job", extra={"job_id": job_id, "error": str(exc)})
            continue
        report.expired_jobs.append(job_id)


def _purge_expired(report: CleanupReport, now: datetime) -> None:
    """Delete the rows of jobs expired longer ago than the retention (history kept that
    long); their files went at expiry."""
    hours = current_app.extensions["pixtools.settings"].expired_retention_hours
    due = db.session.scalars(
        select(Job).where(Job.status == EXPIRED,
                          Job.expires_at <= now - timedelta(hours=hours)).limit(_BATCH)
    ).all()
    report.purged_jobs = len(due)
    if report.dry_run or not due:
        return
    for job in due:
        db.session.delete(job)
    db.session.commit()


def _job_folders(storage: Storage) -> Iterator[tuple[str, list[str]]]:
    # Both backends list keys in order, so one job's keys are consecutive.
    keys = (key for key in storage.keys("jobs/") if key.count("/") >= 2)
    for job_id, group in itertools.groupby(keys, key=lambda key: key.split("/", 2)[1]):
        if job_id:
            yield job_id, list(group)


def _remove_orphans(storage: Storage, report: CleanupReport, cutoff: datetime) -> None:
    folders = _job_folders(storage)
    while True:
        try:
            batch = list(itertools.islice(folders, _BATCH))
        except StorageError as exc:
            report.errors.append(f"cannot list stored objects: {exc}")
            return
        if not batch:
            return
        ids = [job_id for job_id, _ in batch]
        rows = db.session.execute(select(Job.id, Job.status).where(Job.id.in_(ids)))
        statuses = {job_id: status for job_id, status in rows}
        for job_id, keys in batch:
            status = statuses.get(job_id)
            if status is not None and status != EXPIRED:
                continue
            try:
                if status is None and any(storage.modified(key) > cutoff for key in keys):
                    report.young_orphans += 1
                    continue
                if not report.dry_run:
                    storage.delete_prefix(f"jobs/{job_id}/")
            except StorageError as exc:
                report.errors.append(f"orphan folder jobs/{job_id}/: {exc}")
                continue
            report.orphan_jobs.append(job_id)
            report.orphan_objects += len(keys)
