"""Webhooks: a signed ``job.succeeded``/``job.failed`` event to the job's URL, retried with
backoff, behind a circuit breaker per owner and host, only ever to addresses that pass the
SSRF check; and a sandbox receiver on this instance to watch them arrive.

- ``targets`` and ``ssrf``: where an event may go, checked at submission and at send time;
- ``outbox``: a finished job's event recorded with its final state, and lost ones found again;
- ``delivery``: one attempt at sending, recorded, retried with backoff;
- ``breaker``: a circuit breaker per owner and receiving host;
- ``signing``: Standard Webhooks headers;
- ``sandbox``: a receiver on this instance that records what it is sent.
"""

from __future__ import annotations

from flask import Flask

from .. import metrics
from . import breaker


def _breaker_gauges(app: Flask) -> None:
    metrics.record_breaker_counts(breaker.counts(app))


def init_app(app: Flask) -> None:
    breaker.init_app(app)
    metrics.on_scrape(_breaker_gauges)
