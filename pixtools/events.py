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
import os
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
# How long a waiter gives a process's new subscription to be confirmed.
SUBSCRIBE_WAIT_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 5.0

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


class _Registry:
    """Threads of this process waiting for notices, by job id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, set[threading.Event]] = {}

    def wake(self, job_id: str) -> None:
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


class MemoryEvents(JobEvents):
    """Desktop mode: waiters and consumers share the process."""

    def __init__(self, max_waiters: int) -> None:
        super().__init__(max_waiters)
        self._registry = _Registry()

    def announce(self, job_id: str) -> None:
        self._registry.wake(job_id)

    def listen(self, job_id: str) -> Any:
        return self._registry.listen(job_id)


class _EventListener:
    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def wait(self, timeout: float) -> bool:
        arrived = self._event.wait(timeout)
        self._event.clear()
        return arrived


class RedisEvents(JobEvents):
    """Server mode: one pub/sub channel per job, ``<queue prefix>:job-finished:<id>``.

    Each process keeps one subscription to all of them (a pattern), read by one thread
    that wakes the local waiters of the job named: a waiting request costs no connection
    and no command of its own (it used to open, subscribe and close one connection each).
    """

    def __init__(self, max_waiters: int, url: str, prefix: str) -> None:
        super().__init__(max_waiters)
        # Short timeouts: a dead Redis must not hold up the consumer that announces.
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._prefix = prefix
        self._registry = _Registry()
        self._subscriber: _Subscriber | None = None
        self._lock = threading.Lock()

    def _channel(self, job_id: str) -> str:
        return f"{self._prefix}:job-finished:{job_id}"

    def announce(self, job_id: str) -> None:
        try:
            self._client.publish(self._channel(job_id), b"1")
        except redis.RedisError as exc:
            # Waiters re-read the job every RECHECK_SECONDS: they learn it a little later.
            log.warning("could not announce job %s finished: %s", job_id, exc)

    def _running_subscriber(self) -> _Subscriber:
        # Started by the first waiter of each process (threads do not survive a fork).
        with self._lock:
            if self._subscriber is None or not self._subscriber.serves_this_process():
                self._subscriber = _Subscriber(self._client, self._channel(""),
                                               self._registry.wake)
                self._subscriber.start()
            return self._subscriber

    @contextmanager
    def listen(self, job_id: str) -> Iterator[Listener]:
        subscriber = self._running_subscriber()
        with self._registry.listen(job_id) as listener:
            # Until the subscription is confirmed (or when Redis is down), the waiter
            # learns the job's end from its re-reads alone.
            if not subscriber.ready.wait(SUBSCRIBE_WAIT_SECONDS):
                log.warning("cannot listen for job %s: no subscription to notices", job_id)
            yield listener


class _Subscriber(threading.Thread):
    """Reads the process's one subscription to finished-job notices; reconnects as needed."""

    def __init__(self, client: redis.Redis, channel_prefix: str,
                 wake: Callable[[str], None]) -> None:
        super().__init__(name="pixtools-job-notices", daemon=True)
        self._client = client
        self._prefix = channel_prefix
        self._wake = wake
        self._pid = os.getpid()
        self.ready = threading.Event()

    def serves_this_process(self) -> bool:
        return self._pid == os.getpid() and self.is_alive()

    def run(self) -> None:
        failures = 0
        while True:
            pubsub = self._client.pubsub()
            try:
                pubsub.psubscribe(self._prefix + "*")
                while True:
                    message = pubsub.get_message(timeout=RECHECK_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        self.ready.set()
                        failures = 0
                    elif message["type"] == "pmessage":
                        channel = message["channel"]
                        if isinstance(channel, bytes):
                            channel = channel.decode()
                        self._wake(channel.removeprefix(self._prefix))
            except redis.RedisError as exc:
                # Notices sent meanwhile are lost: waiters' re-reads cover them. Said once
                # per outage; the next tries come less and less often (at most every 5 s).
                self.ready.clear()
                failures += 1
                log.log(logging.WARNING if failures == 1 else logging.DEBUG,
                        "job notices unavailable, reconnecting: %s", exc)
                time.sleep(min(RECONNECT_MAX_SECONDS, RECHECK_SECONDS * 2 ** (failures - 1)))
            finally:
                pubsub.close()


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
               seconds: float, first: T | None = None,
               probe: Callable[[], bool] | None = None) -> T:
    """``read()`` again until ``done`` says so or ``seconds`` pass; the last value read.

    ``first`` is a value the caller has just read (it is not read again); ``probe``, a
    cheaper question than ``read`` (is it done?), asked at each re-check: ``read`` then runs
    only once a notice came or the probe says yes, and at the end. The database connection
    is given back while waiting (a waiter must not hold one of the pool's few connections
    for up to a minute).
    """
    value = read() if first is None else first
    if seconds <= 0 or done(value):
        return value
    events = get_events()
    deadline = time.monotonic() + seconds
    with events.waiter_slot() as may_wait:
        if not may_wait:
            return value
        # Listen first, then look again: a notice sent in between is not missed.
        with events.listen(job_id) as listener:
            woken = False
            while True:
                db.session.close()
                remaining = deadline - time.monotonic()
                if woken or remaining <= 0 or probe is None or probe():
                    value = read()
                    if done(value) or remaining <= 0:
                        return value
                db.session.close()
                woken = listener.wait(min(remaining, RECHECK_SECONDS))


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
