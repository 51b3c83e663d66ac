"""One pybreaker circuit breaker per destination host.

In server mode the breaker's state lives in Redis (pybreaker's ``CircuitRedisStorage``), so
every worker of the fleet sees the same state: one dead receiver trips it for all of them.
Desktop mode keeps the state in memory (one process runs every worker there).

``states()`` gives the state of every known breaker by host, for health and metrics.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pybreaker
import redis
from flask import Flask, current_app

from ..config import Settings

EXTENSION = "pixtools.webhook_breakers"
_STATE_SUFFIX = ":pybreaker:state"


class Breakers:
    """The breakers of one app, created on first use for each host."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._by_host: dict[str, pybreaker.CircuitBreaker] = {}
        self._redis: redis.Redis | None = None
        if settings.mode == "server":
            # pybreaker's Redis storage expects bytes back, so no decode_responses here.
            self._redis = redis.Redis.from_url(
                settings.redis_url, socket_timeout=3, socket_connect_timeout=3
            )

    def _namespace(self, host: str) -> str:
        return f"{self.settings.queue_prefix}:webhooks:{host}"

    def get(self, host: str) -> pybreaker.CircuitBreaker:
        with self._lock:
            breaker = self._by_host.get(host)
            if breaker is None:
                storage: pybreaker.CircuitBreakerStorage
                if self._redis is not None:
                    storage = pybreaker.CircuitRedisStorage(
                        pybreaker.STATE_CLOSED, self._redis, namespace=self._namespace(host)
                    )
                else:
                    storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
                breaker = pybreaker.CircuitBreaker(
                    fail_max=self.settings.webhook_breaker_threshold,
                    reset_timeout=self.settings.webhook_breaker_reset_seconds,
                    state_storage=storage,
                    name=host,
                    # Record the receiver's real error for the attempt that trips the breaker.
                    throw_new_error_on_trip=False,
                )
                self._by_host[host] = breaker
            return breaker

    def retry_at(self, breaker: pybreaker.CircuitBreaker) -> datetime:
        """When an open breaker lets the next (trial) call through."""
        opened = breaker._state_storage.opened_at or datetime.now(UTC)
        # Redis keeps whole seconds: add one so the trial is never refused as "too early".
        return opened + timedelta(seconds=breaker.reset_timeout + 1)

    def states(self) -> dict[str, str]:
        """``{host: "closed" | "open" | "half-open"}`` for every host with a breaker."""
        if self._redis is None:
            with self._lock:
                return {host: b.current_state for host, b in sorted(self._by_host.items())}
        prefix = f"{self.settings.queue_prefix}:webhooks:"
        found: dict[str, str] = {}
        for key in self._redis.scan_iter(match=f"{prefix}*{_STATE_SUFFIX}", count=500):
            name = key.decode() if isinstance(key, bytes) else str(key)
            value = self._redis.get(key)
            if isinstance(value, bytes):
                found[name[len(prefix):-len(_STATE_SUFFIX)]] = value.decode()
        return dict(sorted(found.items()))


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Breakers(app.extensions["pixtools.settings"])


def get_breakers(app: Flask | None = None) -> Breakers:
    breakers: Breakers = (app or current_app).extensions[EXTENSION]
    return breakers


def states(app: Flask | None = None) -> dict[str, str]:
    """Breaker state per destination host (for ``/api/health/ready`` and metrics)."""
    return get_breakers(app).states()
