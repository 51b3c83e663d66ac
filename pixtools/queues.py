"""The queues, as transport only: the three Huey instances, enqueueing, and their depth.

``standard`` carries Pillow work, ``ml`` PyTorch work (one at a time), ``webhooks`` the
deliveries of webhook events (kept apart so that no receiver can hold up image work).
Desktop mode keeps them in one SQLite file under the data directory; server mode keeps them
in Redis (list keys ``huey.redis.<prefix>_standard|_ml|_webhooks``, which KEDA reads).
What runs on them is ``pixtools.tasks``: it registers its tasks here at start
(``Queues.register``); this module only knows their names. A step on the other queue is
enqueued explicitly (a Huey ``.then()`` cannot cross instances).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey
from huey.storage import SqliteStorage

from . import logs
from .config import Settings

QUEUE_NAMES = ("standard", "ml", "webhooks")
# The queues that carry image steps.
STEP_QUEUES = ("standard", "ml")
# The tasks' names, as consumers know them.
RUN_STEPS = "run_steps"
DELIVER_WEBHOOK = "deliver_webhook"
DELIVERY_QUEUE = "webhooks"
# Deliveries enqueued on ``standard`` by an earlier version are still run there.
LEGACY_DELIVERY_QUEUE = "standard"


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
    """The three Huey instances and the tasks registered on them (by ``pixtools.tasks``)."""

    standard: Huey
    ml: Huey
    webhooks: Huey
    # Task wrappers by (queue, task name), as ``register`` made them.
    tasks: dict[tuple[str, str], Any] = field(default_factory=dict)

    def by_name(self, name: str) -> Huey:
        if name not in QUEUE_NAMES:
            raise KeyError(f"unknown queue {name!r}: choose {', '.join(QUEUE_NAMES)}")
        huey: Huey = getattr(self, name)
        return huey

    def register(self, queue: str, name: str, func: Callable[..., Any]) -> Any:
        """Make ``func`` the task ``name`` of ``queue`` (its consumers run it)."""
        wrapper = self.by_name(queue).task(name=name)(func)
        self.tasks[(queue, name)] = wrapper
        return wrapper

    def task(self, queue: str, name: str) -> Any:
        try:
            return self.tasks[(queue, name)]
        except KeyError:
            raise LookupError(f"no task {name!r} on the {queue} queue: "
                              "pixtools.tasks registers them at start") from None


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

    return Queues(standard=make("standard"), ml=make("ml"), webhooks=make("webhooks"))


def init_app(app: Flask) -> None:
    """Build the queues of ``app``; every task signal is logged (``logs.connect_huey``)."""
    queues = build(app.extensions["pixtools.settings"])
    for name in QUEUE_NAMES:
        logs.connect_huey(queues.by_name(name), name)
    app.extensions["pixtools.queues"] = queues


def get_queues(app: Flask | None = None) -> Queues:
    queues: Queues = (app or current_app).extensions["pixtools.queues"]
    return queues


def enqueue_step(step: Any) -> None:
    """Hand ``step`` (committed already) to the consumer pool of its queue."""
    # The job's ids travel with the task, so every log line of the task names them.
    task = get_queues().task(step.queue, RUN_STEPS)
    task(step.id, log_context=logs.job_log_context(step.output.job))


def enqueue_delivery(delivery_id: str, delay: float | None = None) -> None:
    """Hand a webhook delivery to its consumers, now or after ``delay`` seconds."""
    task = get_queues().task(DELIVERY_QUEUE, DELIVER_WEBHOOK)
    if delay and delay > 0:
        task.schedule(args=(delivery_id,), delay=delay)
    else:
        task(delivery_id)


def depth(name: str) -> int:
    """How many tasks wait in queue ``name`` (raises when the queue cannot be asked)."""
    return int(get_queues().by_name(name).pending_count())


def pending_step_ids(name: str) -> set[int]:
    """Ids of the steps waiting in queue ``name`` (raises when it cannot be read)."""
    tasks = get_queues().by_name(name).pending()
    return {int(t.args[0]) for t in tasks if t.name == RUN_STEPS and t.args}
