"""Work done by the consumers, registered on the queues at start (``init_app``):

- ``run_steps`` on ``standard`` and ``ml``: an output's steps that belong to that queue
  (``pipeline``), each run by the ``runner``, which owns timing, metrics and size budgets;
- ``deliver_webhook`` on ``webhooks`` (and on ``standard``, for tasks an earlier version
  enqueued there): one attempt at sending a finished job's event (``webhooks.delivery``);
- periodic, in the one consumer that runs them: the job sweeper, the webhook sweep, cleanup
  (and ``periodic.SweepTicker`` between Huey's minute ticks).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask
from huey import crontab

from .. import jobs, queues
from ..jobs import expiry
from ..webhooks import delivery, outbox
from . import pipeline


def _in_app_context(app: Flask, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("log_context", None)  # read by the logging signal handler, not the task
        with app.app_context():
            return func(*args, **kwargs)

    return wrapper


def deliver_webhook(delivery_id: str) -> None:
    """One attempt at a delivery; the event body is the job's public representation."""
    delivery.run(delivery_id, render=jobs.event_body)


def init_app(app: Flask) -> None:
    settings = app.extensions["pixtools.settings"]
    found = queues.get_queues(app)
    for name in queues.STEP_QUEUES:
        found.register(name, queues.RUN_STEPS, _in_app_context(app, pipeline.run_steps))
    for name in (queues.DELIVERY_QUEUE, queues.LEGACY_DELIVERY_QUEUE):
        found.register(name, queues.DELIVER_WEBHOOK, _in_app_context(app, deliver_webhook))
    # Periodic tasks run only in the consumer started without --no-periodic: run exactly one.
    standard = found.standard
    standard.periodic_task(crontab(minute="*"), name="sweep_webhooks")(
        _in_app_context(app, outbox.sweep)
    )
    # The sweeper; ``pixtools worker`` also sweeps every PIXTOOLS_SWEEP_INTERVAL_SECONDS in
    # between (``periodic.SweepTicker``).
    standard.periodic_task(crontab(), name="sweep_jobs")(_in_app_context(app, jobs.sweep))
    every = crontab(minute=f"*/{settings.cleanup_interval_minutes}")
    standard.periodic_task(every, name="cleanup")(_in_app_context(app, expiry.periodic))
