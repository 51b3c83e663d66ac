"""The outbox: a job's end becomes a delivery row, committed with the job's final state.

``record`` adds the row in the finalising transaction (one event per job, exactly once);
``send_after_commit`` hands it to the delivery consumers; ``sweep`` finds deliveries whose
task was lost and hands them over again. Sending is ``delivery``'s business.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select

from .. import queues
from ..db import db
from ..models import DeliveryStatus, Job, Status, WebhookDelivery, utcnow
from . import sandbox, signing

log = logging.getLogger(__name__)

EVENTS: dict[str, str] = {Status.SUCCEEDED: "job.succeeded", Status.FAILED: "job.failed"}
# The sweep re-enqueues deliveries this much overdue: their task was lost.
OVERDUE = timedelta(seconds=60)


def record(job: Job) -> WebhookDelivery | None:
    """Add the job's event delivery to the session (the caller holds the job's row lock)."""
    if not job.webhook_url or job.status not in EVENTS:
        return None
    now = utcnow()
    delivery = WebhookDelivery(
        id=signing.new_message_id(), job_id=job.id, url=job.webhook_url,
        event=EVENTS[job.status], status=DeliveryStatus.PENDING, attempts=0, created_at=now,
        next_attempt_at=now,
    )
    db.session.add(delivery)
    return delivery


def send_after_commit(delivery_id: str) -> None:
    """Enqueue after the commit; if the queue is down, the sweep sends it later."""
    try:
        queues.enqueue_delivery(delivery_id)
    except Exception:
        log.exception("could not enqueue webhook delivery; the sweep will retry it",
                      extra={"delivery_id": delivery_id})


def sweep() -> int:
    """Re-enqueue deliveries whose task was lost, and drop expired sandboxes."""
    now = utcnow()
    overdue = ((WebhookDelivery.status == DeliveryStatus.PENDING)
               & (WebhookDelivery.next_attempt_at < now - OVERDUE))
    abandoned = ((WebhookDelivery.status == DeliveryStatus.SENDING)
                 & (WebhookDelivery.claimed_until < now))
    lost = db.session.execute(
        select(WebhookDelivery.id).where(or_(overdue, abandoned))
    ).scalars().all()
    db.session.commit()
    for delivery_id in lost:
        send_after_commit(delivery_id)
    sandbox.delete_expired()
    return len(lost)
