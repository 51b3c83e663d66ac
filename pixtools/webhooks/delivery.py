"""Sending one delivery of the outbox: one attempt at a time.

Each attempt claims the delivery row (so two copies of the task never send at once),
checks the target again, asks the circuit breaker of the job's owner and the host, sends
within a hard wall-clock deadline, records the attempt and, when it should be retried,
schedules the next one; ``Retry-After`` never delays it past the backoff maximum, and any
failure inside PixTools counts as an attempt, so every delivery ends. The database row is
the truth: a lost task is found again by ``outbox.sweep``. The event body is the job's
public representation, rendered by the caller (``render``): this package does not know how
jobs are shown.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from http.client import HTTPException
from typing import Any

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
# A claim outlives the attempt's deadline by this much (rendering, recording, a slow commit).
CLAIM_MARGIN_SECONDS = 60
# The event body of a job: the job's public representation, rendered by the caller.
Render = Callable[[Job, str], dict[str, Any]]


def claim_seconds(settings: Any) -> float:
    """How long a claim lasts: well past the attempt's hard deadline, so a claim never
    lapses (and the sweep never hands the row to a second worker) while it is being sent."""
    return float(settings.webhook_timeout_seconds + CLAIM_MARGIN_SECONDS)


def _claim(delivery_id: str, now: datetime) -> bool:
    settings = current_app.extensions["pixtools.settings"]
    hold = timedelta(seconds=claim_seconds(settings))
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


def _clamp(settings: Any, retry_after: float | None, attempts: int) -> float:
    """The delay before the next attempt: the receiver's ``Retry-After`` when it gave one,
    never longer than the backoff maximum (the retry window then decides ``dead``)."""
    if retry_after is None:
        return _backoff(settings, attempts)
    return float(min(max(0.0, retry_after), settings.webhook_backoff_max_seconds))


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
        retry_in = min(retry_in, settings.webhook_backoff_max_seconds)
        next_at = now + timedelta(seconds=retry_in)
        if next_at > _window_end(delivery, settings):
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


def _window_end(delivery: WebhookDelivery, settings: Any) -> datetime:
    created = delivery.created_at
    if created.tzinfo is None:  # SQLite hands naive datetimes back
        created = created.replace(tzinfo=utcnow().tzinfo)
    return created + timedelta(hours=settings.webhook_retry_window_hours)


def attempt(delivery_id: str, render: Render) -> float | None:
    """Make one attempt; return seconds until the next one, or None when there is none."""
    if not _claim(delivery_id, utcnow()):
        return None  # sent already, not due yet, or another worker is on it
    delivery = db.session.get(WebhookDelivery, delivery_id)
    job = db.session.get(Job, delivery.job_id) if delivery else None
    if delivery is None or job is None:
        return None
    settings = current_app.extensions["pixtools.settings"]
    if utcnow() > _window_end(delivery, settings):  # however it got here, it ends now
        return _record(delivery, DEAD, sent=False,
                       error=f"{delivery.last_error or 'not delivered'}; gave up: the retry "
                             f"window of {settings.webhook_retry_window_hours:g} h is over")
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
    """Sign and send the event past the breaker of (owner, host); record what happened.

    The breaker is asked before and told after; no lock is held while the POST runs, and
    the POST itself ends at its hard deadline whatever the receiver does.
    """
    settings = current_app.extensions["pixtools.settings"]
    body = json.dumps(render(job, delivery.event), separators=(",", ":")).encode()
    headers = signing.headers(job.webhook_secret or "", delivery.id, body.decode())
    breakers = breaker.get_breakers()
    key = breaker.key_for(job.owner, target.breaker_key)
    try:
        breakers.admit(key)
    except breaker.CircuitOpen:
        wait = max(0.0, (breakers.retry_at(key) - utcnow()).total_seconds())
        return _record(delivery, DEFERRED, sent=False, retry_in=wait,
                       error=f"not sent: the circuit for {target.breaker_key} is open "
                             "after repeated failures")
    try:
        response = http.post(
            target, body, headers,
            connect_timeout=settings.webhook_connect_timeout_seconds,
            read_timeout=settings.webhook_read_timeout_seconds,
            deadline_seconds=settings.webhook_timeout_seconds,
        )
    except http.ReceiverDown as exc:
        breakers.failed(key)
        answer = exc.response
        return _record(delivery, RETRY, status=answer.status, latency=answer.latency_ms,
                       error=_answer_error(answer),
                       retry_in=_clamp(settings, answer.retry_after, delivery.attempts + 1))
    except (urllib3.exceptions.HTTPError, OSError, HTTPException) as exc:
        breakers.failed(key)
        return _record(delivery, RETRY, error=_network_error(exc),
                       retry_in=_backoff(settings, delivery.attempts + 1))
    breakers.succeeded(key)
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
        return _record(delivery, RETRY, status=status, latency=latency,
                       error="HTTP 429 Too Many Requests",
                       retry_in=_clamp(settings, response.retry_after, delivery.attempts + 1))
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
    if isinstance(exc, http.DeadlineExceeded):
        return str(exc)
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return "connection refused or unreachable"
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return "connection timed out"
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "the receiver did not answer in time (read timeout)"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return f"TLS failed: {exc}"
    return f"network error: {type(exc).__name__}: {exc}"


def _count_internal_error(delivery_id: str, exc: BaseException) -> float | None:
    """Record a crash of the attempt itself as a counted attempt, so a delivery that keeps
    failing inside PixTools reaches its retry window and ends ``dead`` instead of looping."""
    db.session.rollback()
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != SENDING:
        return None
    settings = current_app.extensions["pixtools.settings"]
    return _record(delivery, RETRY, error=f"internal error ({type(exc).__name__})",
                   retry_in=_backoff(settings, delivery.attempts + 1))


def run(delivery_id: str, render: Render) -> None:
    """The task body: one attempt, then schedule the next one if there is one."""
    try:
        retry_in = attempt(delivery_id, render)
    except Exception as exc:  # never take a consumer down, never leave the row `sending`
        log.exception("webhook delivery task failed", extra={"delivery_id": delivery_id})
        try:
            retry_in = _count_internal_error(delivery_id, exc)
        except Exception:  # the database itself is down: the claim lapses, the sweep retries
            log.exception("could not record the failed attempt",
                          extra={"delivery_id": delivery_id})
            db.session.rollback()
            return
    if retry_in is not None:
        queues.enqueue_delivery(delivery_id, delay=retry_in)
