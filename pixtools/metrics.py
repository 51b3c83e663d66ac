"""Prometheus metrics: ``/metrics`` on the app, and PixTools' own metrics in every process.

PixTools' metrics are created once per process in the default registry; the ``record_*``
functions below are how other modules report to them. ``init_app`` mounts
prometheus-flask-exporter on the app with a registry of its own (HTTP metrics of that app)
that also shows the process-wide metrics. Under gunicorn with several workers, setting
``PROMETHEUS_MULTIPROC_DIR`` makes every scrape sum all workers (see ``gunicorn_conf``).
Consumers run no web server: ``serve`` exports their metrics on ``PIXTOOLS_METRICS_PORT``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Request, abort, current_app, request
from huey import Huey
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import start_http_server as _start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_flask_exporter import PrometheusMetrics

from . import queues
from .config import Settings
from .operations import REGISTRY as OPERATIONS

log = logging.getLogger(__name__)

JOBS_SUBMITTED = Counter("pixtools_jobs_submitted", "Jobs accepted by the API.")
JOBS_FINISHED = Counter(
    "pixtools_jobs_finished", "Jobs that ended, by final status (succeeded, failed).", ["status"]
)
JOBS_EXPIRED = Counter("pixtools_jobs_expired", "Jobs whose files were deleted at expiry.")
ORPHANS_REMOVED = Counter(
    "pixtools_orphan_objects_removed", "Stored objects removed because no live job owns them."
)
STEP_DURATION = Histogram(
    "pixtools_step_duration_seconds",
    "Time spent in one operation on one image.",
    ["op", "queue"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
QUEUE_DEPTH = Gauge(
    "pixtools_queue_depth", "Tasks waiting in each queue.", ["queue"],
    multiprocess_mode="mostrecent",
)
BYTES_IN = Counter("pixtools_bytes_in", "Bytes of images uploaded.")
BYTES_OUT = Counter("pixtools_bytes_out", "Bytes of results stored.")
# One throughput histogram per operation that declares it (``Operation.throughput_metric``),
# e.g. ``pixtools_denoise_megapixels_per_second``.
THROUGHPUT = {
    op.name: Histogram(
        f"pixtools_{op.name}_megapixels_per_second",
        f"{op.name.capitalize()} throughput per image.",
        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
    )
    for op in OPERATIONS.values() if op.throughput_metric
}
WEBHOOK_DELIVERIES = Counter(
    "pixtools_webhook_deliveries", "Webhook delivery attempts by outcome.", ["outcome"]
)
# Counts by state only: hosts and owners are user-supplied and never become label values.
BREAKERS = Gauge(
    "pixtools_webhook_breakers",
    "Webhook circuit breakers (one per owner and receiving host) by state.",
    ["state"],
    multiprocess_mode="mostrecent",
)
SWEEPER_RECOVERIES = Counter(
    "pixtools_sweeper_recoveries", "Lost or stuck steps put back on their queue."
)
TASK_EVENTS = Counter(
    "pixtools_task_events", "Huey task signals (executing, complete, error…).",
    ["queue", "signal"],
)

BREAKER_VALUES = {"closed": 0, "half-open": 1, "half_open": 1, "open": 2}
_OUTCOME = re.compile(r"[a-z][a-z0-9_]{0,31}")


# --- what other modules call ------------------------------------------------------------


def record_job_submitted(source_bytes: int) -> None:
    JOBS_SUBMITTED.inc()
    BYTES_IN.inc(source_bytes)


def record_job_finished(status: str) -> None:
    JOBS_FINISHED.labels(status=status).inc()


def record_output_stored(nbytes: int) -> None:
    BYTES_OUT.inc(nbytes)


def record_cleanup(expired_jobs: int, orphan_objects: int) -> None:
    JOBS_EXPIRED.inc(expired_jobs)
    ORPHANS_REMOVED.inc(orphan_objects)


def record_step(op: str, queue: str, seconds: float, pixels: int) -> None:
    """One step run by the runner: duration per op and queue, and throughput where the
    operation declares it."""
    STEP_DURATION.labels(op=op, queue=queue).observe(seconds)
    histogram = THROUGHPUT.get(op)
    if histogram is not None and seconds > 0 and pixels > 0:
        histogram.observe(pixels / 1e6 / seconds)


def record_webhook_delivery(outcome: str) -> None:
    """Count one delivery attempt; ``outcome`` is a short word such as ``delivered``."""
    word = outcome.strip().lower().replace("-", "_").replace(" ", "_")
    WEBHOOK_DELIVERIES.labels(outcome=word if _OUTCOME.fullmatch(word) else "other").inc()


def record_breaker_counts(counts: dict[str, int]) -> None:
    """Set how many breakers are closed, half-open and open (unknown states are ignored)."""
    for state, count in counts.items():
        key = state.strip().lower().replace(" ", "-").replace("_", "-")
        if key in BREAKER_VALUES:
            BREAKERS.labels(state=key).set(count)


def record_sweeper_recovery(count: int = 1) -> None:
    SWEEPER_RECOVERIES.inc(count)


# --- exporting --------------------------------------------------------------------------


class _ProcessMetrics:
    """Shows the default registry (PixTools' metrics, process stats) in an app's registry."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


ScrapeHook = Callable[[Flask], None]
# Values that live elsewhere and are read just before a scrape: the queue lengths here, and
# whatever a feature adds with ``on_scrape`` (the webhook breakers).
_scrape_hooks: list[ScrapeHook] = []


def on_scrape(hook: ScrapeHook) -> None:
    """Run ``hook(app)`` before every scrape of this process (once per hook)."""
    if hook not in _scrape_hooks:
        _scrape_hooks.append(hook)


def refresh(app: Flask) -> None:
    """Read the values that live elsewhere (queue lengths, breakers) just before a scrape."""
    found = queues.get_queues(app)
    unavailable = None
    for name in queues.QUEUE_NAMES:
        if unavailable is None:
            try:
                QUEUE_DEPTH.labels(queue=name).set(found.by_name(name).pending_count())
                continue
            except Exception as exc:  # a scrape must still answer when Redis is down
                unavailable = str(exc)
        # The queues share one store: once it has failed (or timed out), asking it about
        # the next queue would only make the scrape wait as long again.
        QUEUE_DEPTH.labels(queue=name).set(float("nan"))
        log.warning("queue depth unavailable", extra={"queue": name, "error": unavailable})
    for hook in _scrape_hooks:
        try:
            hook(app)
        except Exception as exc:  # a scrape still answers with what it has
            log.warning("metrics hook failed", extra={"hook": hook.__name__, "error": str(exc)})


def _refreshing(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        refresh(current_app)
        return view(*args, **kwargs)

    return wrapper


def path(request: Request) -> str:
    """The route pattern (``/api/v1/jobs/<job_id>``), so job ids do not become label values."""
    return request.url_rule.rule if request.url_rule is not None else "<unmatched>"


def _count_task_events(huey: Huey, queue: str) -> None:
    @huey.signal()
    def _on_signal(signal: str, task: Any, *args: Any) -> None:
        TASK_EVENTS.labels(queue=queue, signal=signal).inc()


def _on_metrics_port_only(app: Flask) -> Callable[[], Any]:
    """Server mode serves ``/metrics`` only on ``PIXTOOLS_METRICS_PORT`` (gunicorn binds it
    beside 8000; the Ingress and compose publish 8000 alone): on the public port it is a 404.
    Desktop mode answers on loopback only, so it serves it on its one port."""
    settings = app.extensions["pixtools.settings"]

    def guard() -> Any:
        if request.path != "/metrics" or settings.mode != "server":
            return None
        port = request.environ.get("SERVER_PORT")
        if settings.metrics_port is None or port != str(settings.metrics_port):
            abort(404)
        return None

    return guard


def init_app(app: Flask) -> None:
    app.before_request(_on_metrics_port_only(app))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics())
    app.extensions["pixtools.metrics"] = PrometheusMetrics(
        app, registry=registry, group_by=path, metrics_decorator=_refreshing
    )
    found = queues.get_queues(app)
    for name in queues.QUEUE_NAMES:
        _count_task_events(found.by_name(name), name)


def serve(settings: Settings) -> bool:
    """Export this process's metrics over HTTP when ``PIXTOOLS_METRICS_PORT`` is set; in
    multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``: a consumer's worker processes) the sum
    of every process's."""
    if settings.metrics_port is None:
        return False
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    _start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    log.info("metrics exported", extra={"port": settings.metrics_port})
    return True
