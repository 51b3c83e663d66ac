"""The two Huey instances, ``standard`` (Pillow work) and ``ml`` (PyTorch, one at a time).

Desktop mode keeps both queues in one SQLite file under the data directory; server mode
keeps them in Redis. Tasks are registered on both instances by ``init_app``; a step on the
other queue is enqueued explicitly (a Huey ``.then()`` cannot cross instances).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.storage import SqliteStorage

from .config import Settings
from .logs import job_log_context

QUEUE_NAMES = ("standard", "ml")


class WakingSqliteStorage(SqliteStorage):
    """Huey's SQLite storage, with consumers that wake when a task is enqueued.

    Desktop mode runs the web server and the consumers in one process, so an enqueue there
    wakes a waiting consumer at once instead of at its next poll (Huey's SQLite consumers
    otherwise sleep up to their ``max_delay`` between looks). A task enqueued by another
    process (a ``flask pixtools`` command) is still seen within ``poll_seconds``.
    """

    blocking = True  # Huey's consumer lets ``dequeue`` do the waiting
    poll_seconds = 0.5

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._enqueued = threading.Condition()
        self._enqueues = 0  # counts enqueues, so one made just before a wait is not missed

    def enqueue(self, data: bytes, priority: int | None = None) -> None:
        super().enqueue(data, priority)
        with self._enqueued:
            self._enqueues += 1
            self._enqueued.notify_all()

    def dequeue(self) -> bytes | None:
        seen = self._enqueues
        data: bytes | None = super().dequeue()
        if data is None:
            with self._enqueued:
                if self._enqueues == seen:
                    self._enqueued.wait(self.poll_seconds)
            data = super().dequeue()
        return data


@dataclass
class Queues:
    standard: Huey
    ml: Huey
    # The run_steps task as registered on each instance, by queue name.
    run_steps: dict[str, Any] = field(default_factory=dict)
    # The deliver_webhook task, registered on the standard instance.
    deliver_webhook: Any = None

    def by_name(self, name: str) -> Huey:
        if name not in QUEUE_NAMES:
            raise KeyError(f"unknown queue {name!r}: choose standard or ml")
        huey: Huey = getattr(self, name)
        return huey


def huey_name(settings: Settings, queue: str) -> str:
    """The Huey name of a queue; in Redis its list key is ``huey.redis.<name>``."""
    return f"{settings.queue_prefix}_{queue}"


def build(settings: Settings) -> Queues:
    def make(queue: str) -> Huey:
        name = huey_name(settings, queue)
        if settings.mode == "server":
            return RedisHuey(name, url=settings.redis_url, results=False)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=str(settings.data_dir / "queue.db"), results=False,
                          storage_class=WakingSqliteStorage)

    return Queues(standard=make("standard"), ml=make("ml"))


def _in_app_context(app: Flask, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("log_context", None)  # read by the logging signal handler, not the task
        with app.app_context():
            return func(*args, **kwargs)

    return wrapper


def init_app(app: Flask) -> None:
    from . import cleanup, recovery
    from .tasks import pipeline
    from .webhooks import delivery

    settings = app.extensions["pixtools.settings"]
    queues = build(settings)
    for name in QUEUE_NAMES:
        huey = queues.by_name(name)
        task = huey.task(name="run_steps")(_in_app_context(app, pipeline.run_steps))
        queues.run_steps[name] = task
    queues.deliver_webhook = queues.standard.task(name="deliver_webhook")(
        _in_app_context(app, delivery.run)
    )
    queues.standard.periodic_task(crontab(minute="*"), name="sweep_webhooks")(
        _in_app_context(app, delivery.sweep)
    )
    # The sweeper (see ``recovery``). Huey runs periodic tasks only in consumers started
    # without --no-periodic: run exactly one. Huey's grain is a minute; ``pixtools worker``
    # sweeps every PIXTOOLS_SWEEP_INTERVAL_SECONDS in between (``recovery.SweepTicker``).
    queues.standard.periodic_task(crontab(), name="sweep_jobs")(
        _in_app_context(app, recovery.sweep)
    )
    # Periodic tasks run only in the consumer started without --no-periodic.
    every = crontab(minute=f"*/{settings.cleanup_interval_minutes}")
    queues.standard.periodic_task(every, name="cleanup")(_in_app_context(app, cleanup.periodic))
    app.extensions["pixtools.queues"] = queues


def get_queues(app: Flask | None = None) -> Queues:
    queues: Queues = (app or current_app).extensions["pixtools.queues"]
    return queues


def enqueue_step(step: Any) -> None:
    """Hand ``step`` (committed already) to the consumer pool of its queue."""
    # The job's ids travel with the task, so every log line of the task names them.
    get_queues().run_steps[step.queue](step.id, log_context=job_log_context(step.output.job))
