"""Cursor pagination of ``GET /api/v1/jobs``: the query's parameters and the opaque cursor.

A cursor is the last listed job's (``created_at``, ``id``), base64url-encoded: clients pass
it back unchanged and never build one. A cursor that was tampered with lists some other
page of the caller's own jobs, or is refused with ``400``; it can never reach another
owner's jobs, which the query filters out first.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ..errors import BadRequest
from ..models.state import Status

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
STATUSES = tuple(status.value for status in Status)


@dataclass(frozen=True)
class PageRequest:
    limit: int
    statuses: tuple[str, ...]
    after: tuple[datetime, str] | None


def encode_cursor(created_at: datetime, job_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), job_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, job_id = json.loads(raw)
        when = datetime.fromisoformat(created)
        if when.tzinfo is None or not isinstance(job_id, str):
            raise ValueError(cursor)
    except (binascii.Error, ValueError, TypeError):
        raise BadRequest("cursor is not one this API gave out: pass next_cursor from the "
                         "previous page unchanged, or leave it out for the first page.",
                         field="cursor") from None
    return when, job_id


def parse(args: Mapping[str, str]) -> PageRequest:
    """The page a request asks for (``limit``, ``status``, ``cursor``), or 400 naming the
    parameter."""
    raw_limit = args.get("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}.", field="limit")
    statuses = tuple(s.strip() for s in (args.get("status") or "").split(",") if s.strip())
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise BadRequest(f"status {unknown[0]!r} is not a job status: use one or more of "
                         f"{', '.join(STATUSES)}, separated by commas.", field="status")
    cursor = args.get("cursor")
    return PageRequest(int(raw_limit), statuses, decode_cursor(cursor) if cursor else None)
