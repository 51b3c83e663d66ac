"""Tables of the webhooks feature: deliveries and their attempts, disabled URLs, sandboxes.

A delivery is one event for one URL; its id is the ``webhook-id`` header, the same on every
attempt. Each attempt (or each time the circuit breaker held one back) is a row of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db
from .jobs import UTCDateTime, utcnow
from .state import DeliveryStatus


class WebhookDelivery(db.Model):  # type: ignore[name-defined]
    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)

    history: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery",
        order_by="WebhookAttempt.id",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class WebhookAttempt(db.Model):  # type: ignore[name-defined]
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="history")


class DisabledWebhookURL(db.Model):  # type: ignore[name-defined]
    """A URL whose receiver answered 410 Gone: nothing is sent to it any more."""

    __tablename__ = "webhook_disabled_urls"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    disabled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(Text)


class WebhookSandbox(db.Model):  # type: ignore[name-defined]
    __tablename__ = "webhook_sandboxes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    secret: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    requests: Mapped[list[SandboxRequest]] = relationship(
        back_populates="sandbox",
        order_by="SandboxRequest.id.desc()",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class SandboxRequest(db.Model):  # type: ignore[name-defined]
    __tablename__ = "webhook_sandbox_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sandbox_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_sandboxes.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    method: Mapped[str] = mapped_column(String(8))
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[str] = mapped_column(Text)
    verification: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)

    sandbox: Mapped[WebhookSandbox] = relationship(back_populates="requests")
