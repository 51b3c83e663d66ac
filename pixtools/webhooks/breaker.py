"""One circuit breaker per owner and destination host, never held across the HTTP call.

The state is kept in pybreaker's storage (``CircuitRedisStorage`` in server mode, so every
worker of the fleet sees one state; ``CircuitMemoryStorage`` in desktop mode, where one
process runs every worker), but the transitions are made here, around the call rather than
through ``CircuitBreaker.call``: that holds the breaker's lock for the whole POST, so every
other delivery to the host would wait behind a slow receiver. Here a delivery asks
``admit`` (a read), sends without any lock, then reports ``succeeded`` or ``failed``.

Breakers are keyed by owner *and* host: one owner's failing receiver path cannot hold back
another owner's events to the same shared host. The owner appears in keys only as a digest.
``counts()`` gives how many breakers are in each state, for health and metrics: no host or
owner ever becomes a label.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pybreaker
import redis
from flask import Flask, current_app

from ..config import Settings

EXTENSION = "pixtools.webhook_breakers"
_STATE_SUFFIX = ":pybreaker:state"
STATES = (pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN)
CircuitOpen = pybreaker.CircuitBreakerError


def key_for(owner: str, host: str) -> str:
    """The breaker of one owner's deliveries to one host (``host`` with its port)."""
    digest = hashlib.sha256(owner.encode()).hexdigest()[:16]
    return f"{digest}:{host}"


class Breakers:
    """The breakers of one app, their state created on first use for each key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()  # guards the dict and memory counters, never a call
        self._storages: dict[str, pybreaker.CircuitBreakerStorage] = {}
        self._redis: redis.Redis | None = None
        if settings.mode == "server":
            # pybreaker's Redis storage expects bytes back, so no decode_responses here.
            self._redis = redis.Redis.from_url(
                settings.redis_url, socket_timeout=3, socket_connect_timeout=3
            )

    def _namespace(self, key: str) -> str:
        return f"{self.settings.queue_prefix}:webhooks:{key}"

    def storage(self, key: str) -> pybreaker.CircuitBreakerStorage:
        with self._lock:
            found = self._storages.get(key)
            if found is None:
                if self._redis is not None:
                    found = pybreaker.CircuitRedisStorage(
                        pybreaker.STATE_CLOSED, self._redis, namespace=self._namespace(key))
                else:
                    found = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
                self._storages[key] = found
            return found

    def admit(self, key: str) -> None:
        """Raise ``CircuitOpen`` while the breaker is open; after its reset time the next
        call is let through as a trial (half-open)."""
        store = self.storage(key)
        if store.state != pybreaker.STATE_OPEN:
            return
        if datetime.now(UTC) < self.retry_at(key):
            raise CircuitOpen(f"the circuit for {key.split(':', 1)[1]} is open")
        store.state = pybreaker.STATE_HALF_OPEN

    def succeeded(self, key: str) -> None:
        store = self.storage(key)
        store.reset_counter()
        if store.state != pybreaker.STATE_CLOSED:
            store.state = pybreaker.STATE_CLOSED

    def failed(self, key: str) -> None:
        """Count a failure; open the breaker at the threshold, or when a trial failed."""
        store = self.storage(key)
        with self._lock:
            store.increment_counter()
            count = store.counter
        if (store.state == pybreaker.STATE_HALF_OPEN
                or count >= self.settings.webhook_breaker_threshold):
            store.state = pybreaker.STATE_OPEN
            store.opened_at = datetime.now(UTC)

    def retry_at(self, key: str) -> datetime:
        """When an open breaker lets the next (trial) call through."""
        opened = self.storage(key).opened_at or datetime.now(UTC)
        # Redis keeps whole seconds: add one so the trial is never refused as "too early".
        return opened + timedelta(seconds=self.settings.webhook_breaker_reset_seconds + 1)

    def states(self) -> dict[str, str]:
        """``{key: "closed" | "open" | "half-open"}`` for every breaker (operators only)."""
        if self._redis is None:
            with self._lock:
                items = sorted(self._storages.items())
            return {key: store.state for key, store in items}
        prefix = f"{self.settings.queue_prefix}:webhooks:"
        found: dict[str, str] = {}
        for key in self._redis.scan_iter(match=f"{prefix}*{_STATE_SUFFIX}", count=500):
            name = key.decode() if isinstance(key, bytes) else str(key)
            value = self._redis.get(key)
            if isinstance(value, bytes):
                found[name[len(prefix):-len(_STATE_SUFFIX)]] = value.decode()
        return dict(sorted(found.items()))

    def counts(self) -> dict[str, int]:
        """How many breakers are in each state: the only breaker figures shown publicly."""
        tally = Counter(self.states().values())
        return {state: tally.get(state, 0) for state in STATES}


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Breakers(app.extensions["pixtools.settings"])


def get_breakers(app: Flask | None = None) -> Breakers:
    breakers: Breakers = (app or current_app).extensions[EXTENSION]
    return breakers


def states(app: Flask | None = None) -> dict[str, str]:
    """Breaker state per owner digest and host (``pixtools`` commands, never labels)."""
    return get_breakers(app).states()


def counts(app: Flask | None = None) -> dict[str, int]:
    """Breakers per state (for ``/api/health/ready`` details and metrics)."""
    return get_breakers(app).counts()
