"""The state machine of jobs, outputs, steps and webhook deliveries, in one place.

Statuses are enums (stored as their string values); ``TRANSITIONS`` is the one table of
allowed moves. Rows change status only through ``move`` (a row in hand) or through a
conditional UPDATE whose ``WHERE status IN sources(...)`` comes from the same table, so a
refused move is a bug caught at once, never a silent corruption. The services in
``pixtools.jobs`` and ``pixtools.webhooks`` decide *when* to move; this module decides
*whether* a move is allowed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal


class Status(StrEnum):
    """Of a job, an output or a step."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # A job past its expiry time: its files are gone or going; the row stays for history.
    EXPIRED = "expired"


class DeliveryStatus(StrEnum):
    """Of a webhook delivery. ``sending`` is a claim held by one worker while it calls the
    receiver; the last four are final."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    DISABLED = "disabled"


QUEUED, RUNNING, SUCCEEDED, FAILED, EXPIRED = (
    Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED, Status.EXPIRED
)
FINISHED = frozenset({SUCCEEDED, FAILED, EXPIRED})
DELIVERY_ENDED = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED,
                            DeliveryStatus.DEAD, DeliveryStatus.DISABLED})

Kind = Literal["job", "output", "step", "delivery"]

TRANSITIONS: dict[Kind, dict[Any, frozenset[Any]]] = {
    "job": {
        # Finalisation may end a job its steps never marked running (all failed at once).
        QUEUED: frozenset({RUNNING, SUCCEEDED, FAILED, EXPIRED}),
        RUNNING: frozenset({SUCCEEDED, FAILED, EXPIRED}),
        SUCCEEDED: frozenset({EXPIRED}),
        FAILED: frozenset({QUEUED, EXPIRED}),  # an operator's retry, or expiry
        EXPIRED: frozenset(),
    },
    "output": {
        QUEUED: frozenset({RUNNING, FAILED}),
        RUNNING: frozenset({SUCCEEDED, FAILED}),
        SUCCEEDED: frozenset(),
        FAILED: frozenset({QUEUED}),  # retry
    },
    "step": {
        QUEUED: frozenset({RUNNING, FAILED}),  # failed: an earlier step failed first
        # Back to queued: its worker vanished and the sweeper puts it back in line.
        RUNNING: frozenset({SUCCEEDED, FAILED, QUEUED}),
        # A run of steps on one queue restarts together, finished ones included.
        SUCCEEDED: frozenset({QUEUED}),
        FAILED: frozenset({QUEUED}),  # retry
    },
    "delivery": {
        DeliveryStatus.PENDING: frozenset({DeliveryStatus.SENDING}),
        DeliveryStatus.SENDING: frozenset({
            DeliveryStatus.PENDING,  # the attempt failed; the next one is scheduled
            DeliveryStatus.SENDING,  # a claim whose worker vanished is taken over
            DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.DEAD,
            DeliveryStatus.DISABLED,
        }),
        DeliveryStatus.DELIVERED: frozenset(),
        DeliveryStatus.FAILED: frozenset(),
        DeliveryStatus.DEAD: frozenset(),
        DeliveryStatus.DISABLED: frozenset(),
    },
}


def status_at(status: str, expires_at: datetime, now: datetime) -> str:
    """A job's status as everyone sees it at ``now``: ``expired`` from ``expires_at`` on,
    whether or not cleanup has moved the row yet. Expiry is enforced when a job is read,
    not when cleanup happens to run; cleanup only catches the row (and the files) up."""
    if status != EXPIRED and expires_at <= now:
        return EXPIRED
    return status


class IllegalTransition(RuntimeError):
    """A move the table does not allow: a bug in the caller, never a user's doing."""


def allowed(kind: Kind, source: str, target: str) -> bool:
    """Whether a ``kind`` row may move from ``source`` to ``target``."""
    return target in TRANSITIONS[kind].get(source, frozenset())


def sources(kind: Kind, target: str) -> frozenset[Any]:
    """Every status from which a ``kind`` row may move to ``target`` (for the WHERE of a
    conditional UPDATE)."""
    return frozenset(src for src, targets in TRANSITIONS[kind].items() if target in targets)


def move(kind: Kind, row: Any, target: str) -> None:
    """Set ``row.status`` to ``target`` if the table allows it, else raise."""
    if row.status == target:
        return  # already there (an output's second step starting, say): nothing moves
    if not allowed(kind, row.status, target):
        raise IllegalTransition(f"{kind} {getattr(row, 'id', '?')}: {row.status} → {target} "
                                "is not an allowed move")
    row.status = target
