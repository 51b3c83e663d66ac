"""Notices that a job has finished, so a client can wait for it instead of polling.

``jobs`` announces a job once its final state is committed; ``GET /api/v1/jobs/<id>?wait=N``
(and ``POST /api/v1/jobs?wait=N``) listen for that notice for up to N seconds before
answering. Server mode carries notices over Redis pub/sub, because the consumers that finish
jobs are other processes than the web workers that wait; desktop mode, whose consumers run
in the web process, keeps them in memory.

A notice is only a hint to look again: a waiter also re-reads the job every
``RECHECK_SECONDS``, so a lost notice (Redis restarting, a job finished by another route)
costs a little latency, never a wrong answer. Waiting holds a web thread, so each process
lets at most ``PIXTOOLS_MAX_WAITERS`` requests wait at once; the others answer at once, as
if no wait had been asked for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import redis
from flask import Flask, current_app

from .db import db
from .errors import BadRequest

log = logging.getLogger(__name__)

RECHECK_SECONDS = 1.0
MAX_WAIT_SECONDS = 60

T = TypeVar("T")


class Listener(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when a notice arrived."""


class JobEvents:
    """Where finished jobs are announced and listened for. Subclasses carry the notices."""

    def __init__(self, max_waiters: int) -> None:
        self._waiters = threading.BoundedSemaphore(max_waiters)

    def announce(self, job_id: str) -> None:
        raise NotImplementedError

    def listen(self, job_id: str) -> Any:
        """A context manager giving a ``Listener`` for notices about ``job_id``."""
        raise NotImplementedError

    @contextmanager
    def waiter_slot(self) -> Iterator[bool]:
        """True while this request may wait; False when every slot is taken."""
        acquired = self._waiters.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self._waiters.release()


class MemoryEvents(JobEvents):
    """Desktop mode: waiters and consumers share the process."""

    def __init__(self, max_waiters: int) -> None:
        super().__init__(max_waiters)
        self._lock = threading.Lock()
        self._listeners: dict[str, set[threading.Event]] = {}

    def announce(self, job_id: str) -> None:
        with self._lock:
            for event in self._listeners.get(job_id, ()):
                event.set()

    @contextmanager
    def listen(self, job_id: str) -> Iterator[Listener]:
        event = threading.Event()
        with self._lock:
            self._listeners.setdefault(job_id, set()).add(event)
        try:
            yield _EventListener(event)
        finally:
            with self._lock:
                listeners = self._listeners.get(job_id, set())
                listeners.discard(event)
                if not listeners:
                    self._listeners.pop(job_id, None)


class _EventListener:
    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def wait(self, timeout: float) -> bool:
        arrived = self._event.wait(timeout)
        self._event.clear()
        return arrived


class RedisEvents(JobEvents):
    """Server mode: one pub/sub channel per job, ``<queue prefix>:job-finished:<id>``."""

    def __init__(self, max_waiters: int, url: str, prefix: str) -> None:
        super().__init__(max_waiters)
        # Short timeouts: a dead Redis must not hold up the consumer that announces.
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._prefix = prefix

    def _channel(self, job_id: str) -> str:
        return f"{self._prefix}:job-finished:{job_id}"

    def announce(self, job_id: str) -> None:
        try:
            self._client.publish(self._channel(job_id), b"1")
        except redis.RedisError as exc:
            # Waiters re-read the job every RECHECK_SECONDS: they learn it a little later.
            log.warning("could not announce job %s finished: %s", job_id, exc)

    @contextmanager
    def listen(self, job_id: str) -> Iterator[Listener]:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            try:
                pubsub.subscribe(self._channel(job_id))
            except redis.RedisError as exc:
                log.warning("cannot listen for job %s: %s", job_id, exc)
                yield _SleepListener()
                return
            yield _PubSubListener(pubsub)
        finally:
            pubsub.close()


class _PubSubListener:
    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    def wait(self, timeout: float) -> bool:
        try:
            return self._pubsub.get_message(timeout=timeout) is not None
        except redis.RedisError:
            time.sleep(timeout)  # no notices now: the re-read every RECHECK_SECONDS remains
            return False


class _SleepListener:
    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        return False


def parse_wait(raw: str | None) -> float:
    """The ``wait`` query parameter: seconds, 0 to MAX_WAIT_SECONDS; absent means 0."""
    if raw is None or raw == "":
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise BadRequest(
            f"'wait' must be a number of seconds from 0 to {MAX_WAIT_SECONDS} "
            f"(got {raw!r}): how long to wait for the job to finish before answering."
        )
    return seconds


def wait_until(read: Callable[[], T], done: Callable[[T], bool], *, job_id: str,
               seconds: float) -> T:
    """``read()`` again until ``done`` says so or ``seconds`` pass; the last value read.

    The database connection is given back while waiting (a waiter must not hold one of
    the pool's few connections for up to a minute).
    """
    value = read()
    if seconds <= 0 or done(value):
        return value
    events = get_events()
    deadline = time.monotonic() + seconds
    with events.waiter_slot() as may_wait:
        if not may_wait:
            return value
        # Listen first, then look again: a notice sent in between is not missed.
        with events.listen(job_id) as listener:
            while True:
                db.session.close()
                value = read()
                remaining = deadline - time.monotonic()
                if done(value) or remaining <= 0:
                    return value
                db.session.close()
                listener.wait(min(remaining, RECHECK_SECONDS))


def init_app(app: Flask) -> None:
    settings = app.extensions["pixtools.settings"]
    events: JobEvents
    if settings.mode == "server":
        events = RedisEvents(settings.max_waiters, settings.redis_url, settings.queue_prefix)
    else:
        events = MemoryEvents(settings.max_waiters)
    app.extensions["pixtools.events"] = events


def get_events(app: Flask | None = None) -> JobEvents:
    events: JobEvents = (app or current_app).extensions["pixtools.events"]
    return events
