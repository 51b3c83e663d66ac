"""Sending one delivery of the outbox: one attempt at a time.

Each attempt claims the delivery row (so two copies of the task never send at once),
checks the target again, asks the host's circuit breaker, sends, records the attempt and,
when it should be retried, schedules the next one. The database row is the truth: a lost
task is found again by ``outbox.sweep``. The event body is the job's public representation,
rendered by the caller (``render``): this package does not know how jobs are shown.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pybreaker
import urllib3
from flask import current_app
from sqlalchemy import or_, update

from .. import metrics, queues
from ..db import db
from ..models import (
    DeliveryStatus,
    DisabledWebhookURL,
    Job,
    WebhookAttempt,
    WebhookDelivery,
    utcnow,
)
from ..models import state as states
from . import breaker, http, signing, ssrf, targets

log = logging.getLogger(__name__)

PENDING, SENDING = DeliveryStatus.PENDING, DeliveryStatus.SENDING
DELIVERED, DELIVERY_FAILED = DeliveryStatus.DELIVERED, DeliveryStatus.FAILED
DEAD, DISABLED = DeliveryStatus.DEAD, DeliveryStatus.DISABLED
# Attempt outcomes besides the final statuses: ``retry`` will be tried again, ``deferred``
# was not sent (the breaker is open).
RETRY, DEFERRED = "retry", "deferred"
# A scheduled task may run a little before its row says it is due (clock steps, rounding).
EARLY_SLACK = timedelta(seconds=1)
# The event body of a job: the job's public representation, rendered by the caller.
Render = Callable[[Job, str], dict[str, Any]]


def _claim(delivery_id: str, now: datetime) -> bool:
    settings = current_app.extensions["pixtools.settings"]
    hold = timedelta(seconds=settings.webhook_connect_timeout_seconds
                     + settings.webhook_read_timeout_seconds + 30)
    claimed = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            or_(
                (WebhookDelivery.status == PENDING)
                & (WebhookDelivery.next_attempt_at <= now + EARLY_SLACK),
                (WebhookDelivery.status == SENDING) & (WebhookDelivery.claimed_until < now),
            ),
        )
        .values(status=SENDING, claimed_until=now + hold)
    )
    db.session.commit()
    return bool(getattr(claimed, "rowcount", 0))


def _backoff(settings: Any, attempts: int) -> float:
    delay = min(settings.webhook_backoff_max_seconds,
                settings.webhook_backoff_base_seconds * 2 ** max(0, attempts - 1))
    jitter = settings.webhook_backoff_jitter
    return float(delay * random.uniform(1 - jitter, 1 + jitter))


def _record(delivery: WebhookDelivery, outcome: str, *, status: int | None = None,
            latency: float | None = None, error: str | None = None,
            retry_in: float | None = None, sent: bool = True) -> float | None:
    """Store one attempt and the delivery's new state; return seconds to the next attempt."""
    settings = current_app.extensions["pixtools.settings"]
    now = utcnow()
    if sent:
        delivery.attempts += 1
    next_at = None
    if retry_in is not None:
        next_at = now + timedelta(seconds=retry_in)
        deadline = delivery.created_at + timedelta(hours=settings.webhook_retry_window_hours)
        if next_at > deadline:
            outcome, next_at, retry_in = DEAD, None, None
            error = (f"{error}; gave up: the retry window of "
                     f"{settings.webhook_retry_window_hours:g} h is over")
    delivery.history.append(WebhookAttempt(
        number=delivery.attempts if sent else delivery.attempts + 1, started_at=now,
        outcome=outcome, status_code=status,
        latency_ms=round(latency, 2) if latency is not None else None,
        error=error, next_attempt_at=next_at,
    ))
    states.move("delivery", delivery, PENDING if next_at else outcome)
    delivery.next_attempt_at, delivery.claimed_until = next_at, None
    delivery.last_status_code = status if sent else delivery.last_status_code
    delivery.last_error = error
    if next_at is None:
        delivery.finished_at = now
    db.session.commit()
    log.info("webhook attempt", extra={"delivery_id": delivery.id, "job_id": delivery.job_id,
                                       "outcome": outcome, "status_code": status})
    metrics.record_webhook_delivery(outcome)
    return retry_in


def attempt(delivery_id: str, render: Render) -> float | None:
    """Make one attempt; return seconds until the next one, or None when there is none."""
    if not _claim(delivery_id, utcnow()):
        return None  # sent already, not due yet, or another worker is on it
    delivery = db.session.get(WebhookDelivery, delivery_id)
    job = db.session.get(Job, delivery.job_id) if delivery else None
    if delivery is None or job is None:
        return None
    settings = current_app.extensions["pixtools.settings"]
    reason = targets.disabled_reason(delivery.url)
    if reason:
        return _record(delivery, DISABLED, error=f"not sent: {reason}", sent=False)
    try:
        target = targets.check_target(delivery.url, job.owner)
    except ssrf.UnsafeURL as exc:
        if "does not resolve" in str(exc):  # DNS can fail for a while: try again later
            return _record(delivery, RETRY, error=str(exc),
                           retry_in=_backoff(settings, delivery.attempts + 1))
        return _record(delivery, DELIVERY_FAILED, error=f"refused at send time: {exc}")

    return _send(delivery, job, target, render)


def _send(delivery: WebhookDelivery, job: Job, target: ssrf.Target,
          render: Render) -> float | None:
    """Sign and send the event through the host's breaker; record what happened."""
    settings = current_app.extensions["pixtools.settings"]
    body = json.dumps(render(job, delivery.event), separators=(",", ":")).encode()
    headers = signing.headers(job.webhook_secret or "", delivery.id, body.decode())
    breakers = breaker.get_breakers()
    try:
        guard = breakers.get(target.breaker_key)
        response = guard.call(
            http.post, target, body, headers,
            connect_timeout=settings.webhook_connect_timeout_seconds,
            read_timeout=settings.webhook_read_timeout_seconds,
        )
    except pybreaker.CircuitBreakerError:
        wait = max(0.0, (breakers.retry_at(guard) - utcnow()).total_seconds())
        return _record(delivery, DEFERRED, sent=False, retry_in=wait,
                       error=f"not sent: the circuit for {target.breaker_key} is open "
                             "after repeated failures")
    except http.ReceiverDown as exc:
        answer = exc.response
        retry_in = answer.retry_after
        if retry_in is None:
            retry_in = _backoff(settings, delivery.attempts + 1)
        return _record(delivery, RETRY, status=answer.status, latency=answer.latency_ms,
                       error=_answer_error(answer), retry_in=retry_in)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return _record(delivery, RETRY, error=_network_error(exc),
                       retry_in=_backoff(settings, delivery.attempts + 1))
    except Exception as exc:  # e.g. Redis unreachable for the breaker: try again later
        log.exception("webhook attempt crashed", extra={"delivery_id": delivery.id})
        db.session.rollback()
        db.session.refresh(delivery)
        return _record(delivery, RETRY, error=f"internal error ({type(exc).__name__})",
                       retry_in=_backoff(settings, delivery.attempts + 1), sent=False)
    return _judge(delivery, response)


def _judge(delivery: WebhookDelivery, response: http.Response) -> float | None:
    settings = current_app.extensions["pixtools.settings"]
    status, latency = response.status, response.latency_ms
    if 200 <= status < 300:
        return _record(delivery, DELIVERED, status=status, latency=latency)
    if status == 410:
        reason = "its receiver answered 410 Gone"
        if db.session.get(DisabledWebhookURL, delivery.url) is None:
            db.session.add(DisabledWebhookURL(url=delivery.url, disabled_at=utcnow(),
                                              reason=reason))
        return _record(delivery, DISABLED, status=status, latency=latency,
                       error=f"HTTP 410 Gone: this URL is now disabled ({reason})")
    if status == 429:
        retry_in = response.retry_after
        if retry_in is None:
            retry_in = _backoff(settings, delivery.attempts + 1)
        return _record(delivery, RETRY, status=status, latency=latency,
                       error="HTTP 429 Too Many Requests", retry_in=retry_in)
    if 300 <= status < 400:
        where = f" to {response.location}" if response.location else ""
        return _record(delivery, DELIVERY_FAILED, status=status, latency=latency,
                       error=f"HTTP {status}: redirects{where} are not followed; "
                             "give the final URL as the webhook")
    return _record(delivery, DELIVERY_FAILED, status=status, latency=latency,
                   error=_answer_error(response))


def _answer_error(response: http.Response) -> str:
    snippet = f": {response.snippet[:200]}" if response.snippet else ""
    return f"HTTP {response.status}{snippet}"


def _network_error(exc: BaseException) -> str:
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return "connection refused or unreachable"
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return "connection timed out"
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "the receiver did not answer in time (read timeout)"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return f"TLS failed: {exc}"
    return f"network error: {type(exc).__name__}: {exc}"


def run(delivery_id: str, render: Render) -> None:
    """The task body: one attempt, then schedule the next one if there is one."""
    try:
        retry_in = attempt(delivery_id, render)
    except Exception:  # never take a consumer down; the sweep picks the row up again
        log.exception("webhook delivery task failed", extra={"delivery_id": delivery_id})
        db.session.rollback()
        return
    if retry_in is not None:
        queues.enqueue_delivery(delivery_id, delay=retry_in)


