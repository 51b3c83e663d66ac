"""What time PixTools thinks it is.

Expiry is judged against ``now()``, not the wall clock directly, so that
``PIXTOOLS_CLOCK_OFFSET_SECONDS`` can move the app a day ahead (tests do this instead of
waiting). In normal operation the offset is 0 and ``now()`` is the current UTC time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app

from .models import Job, utcnow


def now() -> datetime:
    """The current UTC time, moved by the configured offset."""
    offset = current_app.extensions["pixtools.settings"].clock_offset_seconds
    return utcnow() + timedelta(seconds=offset)


def has_passed(expires_at: datetime, at: datetime | None = None) -> bool:
    """Whether an expiry time is reached (at ``at``, else now)."""
    return expires_at <= (at or now())


def is_expired(job: Job, at: datetime | None = None) -> bool:
    """Whether the job's files are past their lifetime (whether or not cleanup has run)."""
    return has_passed(job.expires_at, at)
